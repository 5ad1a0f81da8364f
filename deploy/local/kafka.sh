#!/usr/bin/env bash
# A real Apache Kafka (KRaft) broker, or a cluster of them, for development and CI, without Docker.
#
#   deploy/local/kafka.sh start|stop|status|logs [options]          one broker
#   deploy/local/kafka.sh cluster start|stop|status|logs [options]  a cluster (default 3 nodes)
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
       $(basename "$0") cluster <start|stop|status|logs> [--size N] [--node N] [options]

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

Cluster (\`cluster start|stop|status|logs\`): --size nodes (default 3), each a broker and a KRaft
controller in one JVM (combined mode), all of them voters of the controller quorum. Node N (1..size)
serves clients on --port + N - 1 (default 9092) and its controller on --controller-port + N - 1
(default 9192), with its data in --data-dir/node-N (default $cache_root/cluster-<port>). The
internal topics (__consumer_offsets, __transaction_state) get replication min(3, size) and
min.insync.replicas min(2, size), as do topics created without their own settings; a single broker
keeps 1. \`start\` returns once every node serves clients (each registered and unfenced in the
cluster's metadata); \`status\` prints each node's client port and pid (exit 3 unless all run);
\`stop\` stops all nodes at once. With --node N, start, stop, status or logs concern node N only
(e.g. to take one broker away and bring it back). Heap per node: NEWSFLOW_KAFKA_HEAP_OPTS (default
-Xms128m -Xmx512m in a cluster).
  --size N             nodes in the cluster                 [NEWSFLOW_KAFKA_CLUSTER_SIZE, default 3]
  --node N             one node only (1..size)

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
cluster=false
if [ "$cmd" = cluster ]; then
  cluster=true
  cmd=${1:-}
  [ -n "$cmd" ] || { usage >&2; exit 2; }
  shift || true
  case "$cmd" in -h|--help|help) usage; exit 0 ;; esac
fi

port=${NEWSFLOW_KAFKA_PORT:-9092}
if $cluster; then
  controller_port=${NEWSFLOW_KAFKA_CONTROLLER_PORT:-9192}
else
  controller_port=${NEWSFLOW_KAFKA_CONTROLLER_PORT:-9093}
fi
size=${NEWSFLOW_KAFKA_CLUSTER_SIZE:-3}
only_node=
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
    --size) $cluster || die "--size is an option of 'cluster'"; size=${2:?--size needs a value}; shift 2 ;;
    --node) $cluster || die "--node is an option of 'cluster'"; only_node=${2:?--node needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "kafka.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
for n in "$port" "$controller_port" "$start_timeout" "$size" ${only_node:+"$only_node"}; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a number"
done
[ "$port" != "$controller_port" ] || die "--port and --controller-port must differ"
if $cluster; then
  [ "$size" -ge 1 ] || die "--size must be at least 1"
  # Node ports are P..P+size-1 and C..C+size-1: the two ranges must not overlap.
  if [ "$port" -lt "$((controller_port + size))" ] && [ "$controller_port" -lt "$((port + size))" ]; then
    die "client ports $port..$((port + size - 1)) and controller ports $controller_port..$((controller_port + size - 1)) overlap"
  fi
  if [ -n "$only_node" ] && { [ "$only_node" -lt 1 ] || [ "$only_node" -gt "$size" ]; }; then
    die "--node must be between 1 and the cluster size ($size)"
  fi
  cluster_dir=${data_dir:-$cache_root/cluster-$port}
  mkdir -p "$cluster_dir"
  cluster_dir=$(cd "$cluster_dir" && pwd)
  base_port=$port
  base_controller_port=$controller_port
  voters=
  for ((n = 1; n <= size; n++)); do
    voters+="${voters:+,}$n@127.0.0.1:$((controller_port + n - 1))"
  done
  # Internal topics replicated like production's: 3 copies, 2 of them needed for a write.
  replication=$((size < 3 ? size : 3))
  min_isr=$((size < 2 ? size : 2))
else
  data_dir=${data_dir:-$cache_root/broker-$port}
  node_id=1
  voters="1@127.0.0.1:$controller_port"
  replication=1
  min_isr=1
fi

# Selects the broker the functions below act on: the single broker, or node N of the cluster.
select_node() {
  if $cluster; then
    node_id=$1
    port=$((base_port + node_id - 1))
    controller_port=$((base_controller_port + node_id - 1))
    data_dir=$cluster_dir/node-$node_id
  fi
  mkdir -p "$data_dir"
  data_dir=$(cd "$data_dir" && pwd)
  pid_file=$data_dir/broker.pid
  log_file=$data_dir/broker.log
}

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
node.id=$node_id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
log.dirs=$data_dir/kraft
num.partitions=1
default.replication.factor=$replication
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replication
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$replication
share.coordinator.state.topic.min.isr=$min_isr
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
  local default_heap="-Xms256m -Xmx1g"
  # Three nodes beside the services on a small machine.
  $cluster && default_heap="-Xms128m -Xmx512m"
  # shellcheck disable=SC2206
  local heap=(${NEWSFLOW_KAFKA_HEAP_OPTS:-$default_heap})
  # shellcheck disable=SC2206
  local gc=(${NEWSFLOW_KAFKA_GC_OPTS:-$default_gc_opts})
  JAVA_ARGS=(java "${heap[@]}" "${gc[@]}" -Xlog:gc:file="$data_dir/gc.log":time,uptime:filecount=2,filesize=10m
    -Dlog4j2.configurationFile="$data_dir/log4j2.properties" -cp "$lib_dir/*")
}

# The id every node of a storage is formatted with: one per cluster, kept beside the nodes.
cluster_id() {
  local file=${cluster_dir:-$data_dir}/cluster.id
  if ! $cluster || [ ! -s "$file" ]; then
    "${JAVA_ARGS[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 >"$file.tmp"
    [ -s "$file.tmp" ] || die "cannot generate a cluster id (is Java 17 installed?)"
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}

# Starts the selected broker in the background; false (1) when it already runs.
launch() {
  local pid
  if pid=$(running_pid); then
    echo "kafka.sh: broker already running (pid $pid) on 127.0.0.1:$port"
    return 1
  fi
  for p in "$port" "$controller_port"; do
    port_in_use "$p" && die "port $p is taken by another process; choose --port/--controller-port"
  done
  write_config
  java_args
  if [ ! -f "$data_dir/kraft/meta.properties" ]; then
    local id
    id=$(cluster_id)
    local scram=() user
    for user in "${scram_users[@]}"; do
      [ -n "$user" ] || continue
      [[ "$user" == ?*=?* ]] || die "--scram-user wants NAME=PASSWORD"
      scram+=(--add-scram "SCRAM-SHA-256=[name=${user%%=*},password=${user#*=}]")
    done
    "${JAVA_ARGS[@]}" kafka.tools.StorageTool format -t "$id" -c "$data_dir/server.properties" -g \
      "${scram[@]}" \
      >"$data_dir/format.log" 2>&1 || { cat "$data_dir/format.log" >&2; die "formatting storage failed"; }
  fi
  : >"$log_file"
  rm -f "$pid_file"
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" \
    "${JAVA_ARGS[@]}" kafka.Kafka "$data_dir/server.properties" \
    >>"$log_file" 2>&1 </dev/null &
  # The pid file is written by the child; wait for it so that status and stop find it.
  local tries=0
  while [ ! -s "$pid_file" ] && [ "$tries" -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
}

# Waits until the selected broker serves clients. "Kafka Server started" is logged once the
# broker is registered with the controller quorum and unfenced, i.e. in the cluster's metadata.
await_ready() {
  local waited=$1
  while :; do
    if grep -q "Kafka Server started" "$log_file" 2>/dev/null; then
      local what=broker
      $cluster && what="node $node_id"
      echo "kafka.sh: $what ready on 127.0.0.1:$port (pid $(cat "$pid_file"), data $data_dir, ${waited}s)"
      return 0
    fi
    if [ -f "$pid_file" ] && ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      tail -n 40 "$log_file" >&2
      die "the broker exited during start-up (log: $log_file)"
    fi
    if [ "$waited" -ge "$start_timeout" ]; then
      tail -n 40 "$log_file" >&2
      stop_nodes "${nodes[@]}"
      die "the broker was not ready after ${start_timeout}s (log: $log_file)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

# Starts the given nodes together (a quorum needs a majority of them up) and waits for each.
start_nodes() {
  fetch_jars
  local n started=()
  for n in "$@"; do
    select_node "$n"
    launch && started+=("$n")
  done
  local began=$SECONDS
  for n in "${started[@]}"; do
    select_node "$n"
    await_ready $((SECONDS - began))
  done
}

# Stops the given nodes together: SIGTERM to each, SIGKILL to those still there after 30 s.
stop_nodes() {
  local n pid pids=() ports=()
  for n in "$@"; do
    select_node "$n"
    if pid=$(running_pid); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      ports+=("$port")
    else
      rm -f "$pid_file"
      echo "kafka.sh: broker on port $port is not running"
    fi
  done
  local i waited=0
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[$i]}" 2>/dev/null; do
      if [ "$waited" -ge 60 ]; then
        echo "kafka.sh: broker on port ${ports[$i]} did not stop within 30s; killing it" >&2
        kill -KILL "${pids[$i]}" 2>/dev/null || true
      fi
      sleep 0.5
      waited=$((waited + 1))
    done
    echo "kafka.sh: broker on port ${ports[$i]} stopped"
  done
  for n in "$@"; do
    select_node "$n"
    running_pid >/dev/null || rm -f "$pid_file"
  done
}

# Prints each node's state; false (1) unless every one runs.
status_nodes() {
  local n pid all=0 label=
  for n in "$@"; do
    select_node "$n"
    $cluster && label="node $n: "
    if pid=$(running_pid); then
      echo "${label}running (pid $pid) on 127.0.0.1:$port, data $data_dir"
    else
      echo "${label}stopped (port $port, data $data_dir)"
      all=1
    fi
  done
  return "$all"
}

nodes=(1)
if $cluster; then
  if [ -n "$only_node" ]; then
    nodes=("$only_node")
  else
    nodes=()
    for ((n = 1; n <= size; n++)); do nodes+=("$n"); done
  fi
fi

case "$cmd" in
  start) start_nodes "${nodes[@]}" ;;
  stop) stop_nodes "${nodes[@]}" ;;
  status) status_nodes "${nodes[@]}" || exit 3 ;;
  logs)
    for n in "${nodes[@]}"; do
      select_node "$n"
      $cluster && [ "${#nodes[@]}" -gt 1 ] && echo "== node $n ($log_file)"
      tail -n "${LINES:-100}" "$log_file" 2>/dev/null || echo "kafka.sh: no log yet at $log_file"
    done
    ;;
  *) echo "kafka.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
