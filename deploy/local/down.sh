#!/usr/bin/env bash
# Stops what deploy/local/up.sh started (SIGTERM: the services drain and commit), and the local
# broker unless --keep-broker is given.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
run=${NEWSFLOW_RUN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/newsflow/local-run}
for name in producer gateway clusterer tagger deduplicator normalizer prometheus; do
  pidfile=$run/$name.pid
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 90); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "stopped $name"
  fi
  rm -f "$pidfile"
done
[ "${1:-}" = "--keep-broker" ] || "$root/deploy/local/kafka.sh" stop
