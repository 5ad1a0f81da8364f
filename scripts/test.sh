#!/usr/bin/env bash
# Runs every test of newsflow, on a fresh machine as on a developer's:
#
#   1. installs the system packages it needs (TLS for librdkafka, Java and Maven for Kafka,
#      promtool, chromium for the browser test) when they are missing, and Playwright in a
#      virtual environment under target/;
#   2. starts a private Kafka broker (deploy/local/kafka.sh, on its own ports and a fresh data
#      directory under target/) unless NEWSFLOW_TEST_BROKERS names one already running;
#   3. checks the monitoring files with promtool, then runs cargo fmt --check, clippy with
#      warnings denied, every test, and one smoke pass of every benchmark, all from the same
#      debug build;
#   4. stops the broker it started, whatever happened.
#
# Environment: NEWSFLOW_TEST_BROKERS (use this broker, start none), NEWSFLOW_TEST_KAFKA_PORT
# (default 19092; the controller takes the next port), CARGO_BUILD_JOBS (default 2),
# CARGO_TARGET_DIR (the binaries are looked for where cargo puts them: scripts/lib/target-dir.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "system packages"
missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v promtool >/dev/null || missing+=(prometheus)
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v chromium >/dev/null || missing+=(chromium)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "all present"
fi

# The newsroom page's browser test: Playwright (its Python package, a pinned version) drives
# Debian's chromium; nothing downloads a browser.
step "Playwright for the browser test"
playwright="$root/target/playwright"
if ! "$playwright/bin/python" -c 'import playwright' 2>/dev/null; then
  python3 -m venv "$playwright"
  "$playwright/bin/pip" install --quiet --disable-pip-version-check 'playwright==1.65.3'
fi
export NEWSFLOW_PLAYWRIGHT_PYTHON="$playwright/bin/python"
export NEWSFLOW_CHROMIUM="${NEWSFLOW_CHROMIUM:-$(command -v chromium)}"
echo "playwright $("$playwright/bin/python" -c 'import importlib.metadata as m; print(m.version("playwright"))'), $("$NEWSFLOW_CHROMIUM" --version 2>/dev/null || echo chromium)"

if [ -z "${NEWSFLOW_TEST_BROKERS:-}" ]; then
  port=${NEWSFLOW_TEST_KAFKA_PORT:-19092}
  broker=(--port "$port" --controller-port "$((port + 1))" --data-dir "$root/target/kafka-test")
  step "Kafka broker on 127.0.0.1:$port"
  rm -rf "$root/target/kafka-test"
  trap 'step "stopping the test broker"; deploy/local/kafka.sh stop "${broker[@]}" || true' EXIT
  deploy/local/kafka.sh start "${broker[@]}"
  export NEWSFLOW_TEST_BROKERS="127.0.0.1:$port"
else
  step "using the Kafka broker at $NEWSFLOW_TEST_BROKERS"
fi

step "monitoring: Prometheus config, alert rule tests, dashboard queries"
scripts/check-observability.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast

step "deployment files: Dockerfile, compose, Kubernetes manifests, services' configuration"
cargo build --workspace --bins --locked
bins=$(scripts/lib/target-dir.sh debug) # where cargo put them: CARGO_TARGET_DIR counts
scripts/check-deploy.sh --binaries "$bins"

step "monitoring, live: the four stage services and the gateway, a real Prometheus, every dashboard query"
scripts/check-live-observability.py --binaries "$bins" --brokers "$NEWSFLOW_TEST_BROKERS"

step "benchmarks, one smoke pass each"
cargo test --workspace --benches --locked

step "all tests passed"
