#!/usr/bin/env bash
# The whole pipeline live on this machine, without Docker: the local Kafka broker, every stage
# service as its own process, Prometheus scraping them, and sample articles flowing.
#
#   deploy/local/up.sh        # start (idempotent: stops an earlier run first)
#   deploy/local/down.sh      # stop everything it started
#
# Where to look once it runs:
#   Prometheus  http://127.0.0.1:9090  (try: sum by (stage) (rate(newsflow_input_records_total[1m])))
#   metrics     http://127.0.0.1:9101/metrics (normalizer), :9102 (deduplicator), :9103 (tagger),
#               :9104 (gateway), :9105 (clusterer)
#   gateway     http://127.0.0.1:8080 (bearer token: $NEWSFLOW_GATEWAY_TOKENS, default dev-token)
#   readiness   http://127.0.0.1:9101/readyz …
#   logs        $NEWSFLOW_RUN_DIR (default ~/.cache/newsflow/local-run)/*.log
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
run=${NEWSFLOW_RUN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/newsflow/local-run}
corpus=${NEWSFLOW_CORPUS:-$root/../shared/corpus}
"$root/deploy/local/down.sh" --keep-broker >/dev/null 2>&1 || true
mkdir -p "$run"
cd "$root"

echo "building (release)…"
cargo build --release -q --bins
bin=$(scripts/lib/target-dir.sh release)

deploy/local/kafka.sh start
"$bin/newsflow" topics create --partitions 3

start() { # name, admin port, command…
  local name=$1 port=$2; shift 2
  NEWSFLOW_ADMIN_ADDR=127.0.0.1:$port NEWSFLOW_LOG_FORMAT=json "$@" >"$run/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
  echo "started $name (pid $!, http://127.0.0.1:$port/metrics)"
}
start normalizer 9101 "$bin/newsflow-normalizer"
start deduplicator 9102 "$bin/newsflow-deduplicator"
start tagger 9103 "$bin/newsflow-tagger"
start clusterer 9105 "$bin/newsflow-clusterer"
NEWSFLOW_GATEWAY_LISTEN=127.0.0.1:8080 NEWSFLOW_GATEWAY_TOKENS=${NEWSFLOW_GATEWAY_TOKENS:-dev-token} \
  start gateway 9104 "$bin/newsflow-gateway"

if command -v prometheus >/dev/null; then
  prometheus --config.file="$root/deploy/prometheus/prometheus.yml" \
    --storage.tsdb.path="$run/prometheus-data" --web.listen-address=127.0.0.1:9090 \
    >"$run/prometheus.log" 2>&1 &
  echo $! >"$run/prometheus.pid"
  echo "started prometheus (http://127.0.0.1:9090)"
else
  echo "prometheus is not installed (apt-get install prometheus); skipping it"
fi

for port in 9101 9102 9103 9104 9105; do
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.5
  done
done

# Sample articles flowing: the shipped samples once, then a slow stream of corpus articles
# (new stories from --repeat, a tenth of them true copies) when the corpus is here.
"$bin/newsflow" produce 2>>"$run/producer.log"
if [ -d "$corpus/bbc-2005" ]; then
  "$bin/newsflow" produce "$corpus/bbc-2005" --rate 20 --repeat 50 --duplicate-ratio 0.1 \
    >>"$run/producer.log" 2>&1 &
  echo $! >"$run/producer.pid"
  echo "producing corpus articles at 20/s"
fi
echo "newsflow is running; stop it with deploy/local/down.sh"
