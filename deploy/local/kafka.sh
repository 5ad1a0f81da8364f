#!/usr/bin/env bash
# A real, single-node Apache Kafka (KRaft) broker for development and CI, without Docker.
#
#   deploy/local/kafka.sh start|stop|status|logs [options]
#
# The broker's jars come from Maven Central (see pom.xml beside this script) into a cache folder
# outside the repository; only Java 17 and Maven are needed. `start` is idempotent: a second call
# finds the running broker and returns at once. Several brokers can run side by side as long as
# each has its own ports and data directory (tests start private brokers that way).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${NEWSFLOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/newsflow}

usage() {
  cat <<EOF
Usage: $(basename "$0") <start|stop|status|logs> [options]

Commands:
  start    fetch Kafka if needed, format storage once, start the broker in the background and
           wait until it serves clients (idempotent: an already running broker is reused)
  stop     stop the broker (SIGTERM, then SIGKILL after the stop timeout); no-op when stopped
  status   print whether the broker runs; exit 0 when it does, 3 when it does not
  logs     print the last lines of the broker's log

Options (each also read from the environment variable shown):
  --port N             client (PLAINTEXT) port              [NEWSFLOW_KAFKA_PORT, default 9092]
  --controller-port N  KRaft controller port                [NEWSFLOW_KAFKA_CONTROLLER_PORT, default 9093]
  --data-dir DIR       configuration, logs and partitions   [NEWSFLOW_KAFKA_DATA_DIR,
                                                             default $cache_root/broker-<port>]
  --start-timeout S    seconds to wait for readiness        [NEWSFLOW_KAFKA_START_TIMEOUT, default 180]
  --extra-config FILE  lines appended to server.properties  [NEWSFLOW_KAFKA_EXTRA_CONFIG]
                       (e.g. more listeners for TLS/SASL tests)
  --scram-user U=P     a SCRAM-SHA-256 user, created when the storage is formatted (first start
                       of a data directory); repeatable   [NEWSFLOW_KAFKA_SCRAM_USERS, comma-separated]
  -h, --help           this help

JVM: NEWSFLOW_KAFKA_HEAP_OPTS (default -Xms256m -Xmx1g), NEWSFLOW_KAFKA_GC_OPTS (default
$default_gc_opts); GC log in the data directory (gc.log).
Kafka version: NEWSFLOW_KAFKA_VERSION (default: the version pinned in pom.xml).
Jar cache: $cache_root/kafka-<version>/lib (NEWSFLOW_CACHE_DIR moves it).
EOF
}

die() { echo "kafka.sh: $*" >&2; exit 1; }

# G1 with its default pause goal. Kafka's own MaxGCPauseMillis=20 (kafka-run-class.sh) and ZGC gave
# worse end-to-end latency on two shared cores (BENCHMARKS.md).
default_gc_opts="-XX:+UseG1GC"

cmd=${1:-}
[ -n "$cmd" ] || { usage >&2; exit 2; }
shift || true
case "$cmd" in -h|--help|help) usage; exit 0 ;; esac

port=${NEWSFLOW_KAFKA_PORT:-9092}
controller_port=${NEWSFLOW_KAFKA_CONTROLLER_PORT:-9093}
data_dir=${NEWSFLOW_KAFKA_DATA_DIR:-}
start_timeout=${NEWSFLOW_KAFKA_START_TIMEOUT:-180}
extra_config=${NEWSFLOW_KAFKA_EXTRA_CONFIG:-}
scram_users=()
IFS=, read -r -a scram_users <<<"${NEWSFLOW_KAFKA_SCRAM_USERS:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=${2:?--port needs a value}; shift 2 ;;
    --controller-port) controller_port=${2:?--controller-port needs a value}; shift 2 ;;
    --data-dir) data_dir=${2:?--data-dir needs a value}; shift 2 ;;
    --start-timeout) start_timeout=${2:?--start-timeout needs a value}; shift 2 ;;
    --extra-config) extra_config=${2:?--extra-config needs a value}; shift 2 ;;
    --scram-user) scram_users+=("${2:?--scram-user needs NAME=PASSWORD}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "kafka.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$port" "$controller_port" "$start_timeout"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a number"
done
[ "$port" != "$controller_port" ] || die "--port and --controller-port must differ"
data_dir=${data_dir:-$cache_root/broker-$port}
mkdir -p "$data_dir"
data_dir=$(cd "$data_dir" && pwd)
pid_file=$data_dir/broker.pid
log_file=$data_dir/broker.log

pom_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
kafka_version=${NEWSFLOW_KAFKA_VERSION:-$pom_version}
lib_dir=$cache_root/kafka-$kafka_version/lib

running_pid() {
  [ -f "$pid_file" ] || return 1
  local pid
  pid=$(cat "$pid_file" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: it must still be our broker, on our data directory.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$data_dir/server.properties" || return 1
  echo "$pid"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

fetch_jars() {
  [ -f "$lib_dir/.complete" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka $kafka_version"
  command -v java >/dev/null || die "Java 17 or newer is needed to run Kafka"
  echo "kafka.sh: fetching Apache Kafka $kafka_version from Maven Central into $lib_dir" >&2
  local tmp=$lib_dir.partial
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mvn -B -q -f "$here/pom.xml" -Dkafka.version="$kafka_version" \
    dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime >&2 \
    || die "Maven could not resolve Kafka $kafka_version (see the output above)"
  rm -rf "$lib_dir"
  mv "$tmp" "$lib_dir"
  touch "$lib_dir/.complete"
}

write_config() {
  mkdir -p "$data_dir/kraft"
  cat >"$data_dir/server.properties" <<EOF
# Written by deploy/local/kafka.sh; regenerated on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs=$data_dir/kraft
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are declared by 'newsflow topics create'; a typo in a topic name must fail, not create.
auto.create.topics.enable=false
log.retention.hours=24
EOF
  if [ -n "$extra_config" ]; then
    [ -f "$extra_config" ] || die "--extra-config: no such file: $extra_config"
    cat "$extra_config" >>"$data_dir/server.properties"
  fi
  cat >"$data_dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

java_args() {
  # shellcheck disable=SC2206
  local heap=(${NEWSFLOW_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g})
  # shellcheck disable=SC2206
  local gc=(${NEWSFLOW_KAFKA_GC_OPTS:-$default_gc_opts})
  JAVA_ARGS=(java "${heap[@]}" "${gc[@]}" -Xlog:gc:file="$data_dir/gc.log":time,uptime:filecount=2,filesize=10m
    -Dlog4j2.configurationFile="$data_dir/log4j2.properties" -cp "$lib_dir/*")
}

start() {
  local pid
  if pid=$(running_pid); then
    echo "kafka.sh: broker already running (pid $pid) on 127.0.0.1:$port"
    return 0
  fi
  for p in "$port" "$controller_port"; do
    port_in_use "$p" && die "port $p is taken by another process; choose --port/--controller-port"
  done
  fetch_jars
  write_config
  java_args
  if [ ! -f "$data_dir/kraft/meta.properties" ]; then
    local cluster_id
    cluster_id=$("${JAVA_ARGS[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    local scram=() user
    for user in "${scram_users[@]}"; do
      [ -n "$user" ] || continue
      [[ "$user" == ?*=?* ]] || die "--scram-user wants NAME=PASSWORD"
      scram+=(--add-scram "SCRAM-SHA-256=[name=${user%%=*},password=${user#*=}]")
    done
    "${JAVA_ARGS[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$data_dir/server.properties" -g \
      "${scram[@]}" \
      >"$data_dir/format.log" 2>&1 || { cat "$data_dir/format.log" >&2; die "formatting storage failed"; }
  fi
  : >"$log_file"
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" \
    "${JAVA_ARGS[@]}" kafka.Kafka "$data_dir/server.properties" \
    >>"$log_file" 2>&1 </dev/null &
  local waited=0
  while :; do
    if grep -q "Kafka Server started" "$log_file" 2>/dev/null; then
      echo "kafka.sh: broker ready on 127.0.0.1:$port (pid $(cat "$pid_file"), data $data_dir, ${waited}s)"
      return 0
    fi
    if [ -f "$pid_file" ] && ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      tail -n 40 "$log_file" >&2
      die "the broker exited during start-up (log: $log_file)"
    fi
    if [ "$waited" -ge "$start_timeout" ]; then
      tail -n 40 "$log_file" >&2
      stop
      die "the broker was not ready after ${start_timeout}s (log: $log_file)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    echo "kafka.sh: broker on port $port is not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 60 ]; then
      echo "kafka.sh: broker did not stop within 30s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  rm -f "$pid_file"
  echo "kafka.sh: broker on port $port stopped"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status)
    if pid=$(running_pid); then
      echo "running (pid $pid) on 127.0.0.1:$port, data $data_dir"
    else
      echo "stopped (port $port, data $data_dir)"
      exit 3
    fi
    ;;
  logs) tail -n "${LINES:-100}" "$log_file" 2>/dev/null || echo "kafka.sh: no log yet at $log_file" ;;
  *) echo "kafka.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
