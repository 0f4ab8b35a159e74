#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft) bound to 127.0.0.1, from pinned Maven Central jars.
#
#   infra/kafka.sh start     fetch the jars if needed, format storage once, start, wait until it accepts connections
#   infra/kafka.sh stop      stop the broker this script started (by its process id), wait for it to exit
#   infra/kafka.sh status    say whether it runs, with pid and address
#   infra/kafka.sh fetch     only fetch the jars: the broker's and the Flink Kafka connector the job loads
#
# Settings (environment): KAFKA_PORT (default 19092), KAFKA_CONTROLLER_PORT (19093),
# KAFKA_STATE_DIR (default infra/.cache/kafka-run: data, server.log, pid), KAFKA_HEAP (1g).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
libs=$here/.cache/kafka-libs
port=${KAFKA_PORT:-19092}
controller_port=${KAFKA_CONTROLLER_PORT:-19093}
state=${KAFKA_STATE_DIR:-$here/.cache/kafka-run}
pidfile=$state/kafka.pid
java_opts=(-Xms256m "-Xmx${KAFKA_HEAP:-1g}" "-Dlog4j2.configurationFile=$here/kafka-log4j2.properties")

say() { echo "kafka: $*"; }
running_pid() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

fetch_profile() {  # profile, directory
  if [[ ! -f $2/.complete ]]; then
    say "fetching pinned jars from Maven Central (infra/pom.xml, profile $1)"
    rm -rf "$2"
    mvn -B -q -f "$here/pom.xml" -P "$1" dependency:copy-dependencies -DoutputDirectory="$2"
    touch "$2/.complete"
  fi
}

fetch() {
  fetch_profile kafka "$libs"
  fetch_profile flink-connector "$here/.cache/flink-lib"
}

configure() {
  mkdir -p "$state/data"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$state/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
transaction.max.timeout.ms=3600000
log.cleaner.backoff.ms=1000
PROPS
  if [[ ! -f $state/data/meta.properties ]]; then
    local id
    id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$id" -c "$state/server.properties" >/dev/null
    say "formatted KRaft storage in $state/data (cluster $id)"
  fi
}

start() {
  if pid=$(running_pid); then say "already running (pid $pid, 127.0.0.1:$port)"; return 0; fi
  if port_open; then say "port $port is in use by another process; set KAFKA_PORT"; exit 1; fi
  fetch
  configure
  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$state/server.properties" >"$state/server.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if port_open; then say "started (pid $(cat "$pidfile"), 127.0.0.1:$port)"; return 0; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "exited during start; last lines of $state/server.log:"; tail -20 "$state/server.log"; rm -f "$pidfile"; exit 1
    fi
    sleep 0.5
  done
  say "did not accept connections within 60 s; see $state/server.log"; stop; exit 1
}

stop() {
  if ! pid=$(running_pid); then say "not running"; rm -f "$pidfile"; return 0; fi
  kill "$pid"
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then rm -f "$pidfile"; say "stopped (pid $pid)"; return 0; fi
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  say "killed (pid $pid) after 30 s"
}

status() {
  if pid=$(running_pid); then say "running (pid $pid, 127.0.0.1:$port)"; else say "not running"; return 3; fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch ;;
  *) echo "usage: $0 start|stop|status|fetch" >&2; exit 2 ;;
esac
