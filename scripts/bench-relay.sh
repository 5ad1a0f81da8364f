#!/usr/bin/env bash
# The Kafka I/O baseline: how fast `newsflow relay` (the identity stage) moves ~5 KB raw events
# from one topic to another on a real broker. Every later performance figure is compared to it.
#
#   scripts/bench-relay.sh [--messages N] [--partitions P] [--size BYTES] [--brokers HOST:PORT]
#                          [--guarantee exactly-once|at-least-once]
#
# Needs a running broker (deploy/local/kafka.sh start) and builds newsflow in release mode. It
# fills a fresh input topic first, then starts the relay and times it from ready to the last
# acknowledged output (read from the relay's /metrics), and prints messages/s and MB/s.
set -euo pipefail

messages=40000 partitions=1 size=5000 brokers=${NEWSFLOW_BROKERS:-127.0.0.1:9092} guarantee=exactly-once
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) messages=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --brokers) brokers=$2; shift 2 ;;
    --guarantee) guarantee=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${NEWSFLOW_CORPUS:-$root/../shared/corpus}
cd "$root"
cargo build --release -q -p newsflow
bin=$(scripts/lib/target-dir.sh release newsflow)/newsflow
work=$(mktemp -d)
relay_pid=
cleanup() { [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

prefix="bench-$(date +%s)-p$partitions."
"$bin" topics create --brokers "$brokers" --prefix "$prefix" --partitions "$partitions" >/dev/null

# N distinct raw events of about SIZE bytes of real news text each.
python3 - "$corpus/bbc-2005" "$messages" "$size" >"$work/input.jsonl" <<'PY'
import json, pathlib, sys
root, count, size = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
text = " ".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(root.rglob("*.txt"))[:400])
for i in range(count):
    start = (i * 7919) % (len(text) - size)
    print(json.dumps({"id": f"bench-{i}", "source": "bench", "content_type": "text/plain",
                      "content": text[start:start + size]}))
PY
"$bin" produce "$work/input.jsonl" --brokers "$brokers" --topic "${prefix}news.raw.v1" 2>"$work/produce.log"
tail -n 1 "$work/produce.log"
bytes=$(stat -c %s "$work/input.jsonl")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn "$bin" relay --brokers "$brokers" --input-topic "${prefix}news.raw.v1" \
  --output-topic "${prefix}news.normalized.v1" --dlq-topic "${prefix}news.dlq.v1" \
  --group-id "${prefix}relay" --admin-addr "127.0.0.1:$port" --guarantee "$guarantee" &
relay_pid=$!

done_count() {
  curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null |
    awk '/^newsflow_output_records_total\{.*output="primary"/ { s += $2 } END { printf "%d", s }'
}
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.05; done
start=$(date +%s.%N)
while [ "$(done_count)" -lt "$messages" ]; do sleep 0.05; done
end=$(date +%s.%N)

python3 - "$start" "$end" "$messages" "$bytes" "$partitions" "$guarantee" <<'PY'
import sys
start, end, n, size, partitions, guarantee = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
t = end - start
print(f"relay ({guarantee}), {partitions} partition(s): {n} messages ({size / n / 1000:.1f} kB each) in {t:.2f} s: "
      f"{n / t:,.0f} messages/s, {size / t / 1e6:.1f} MB/s")
PY
kill -TERM "$relay_pid"; wait "$relay_pid" || true; relay_pid=
