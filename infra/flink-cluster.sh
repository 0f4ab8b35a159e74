#!/usr/bin/env bash
# A standalone Flink session cluster (one JobManager, one TaskManager) bound to 127.0.0.1, from the Flink
# distribution that the apache-flink package ships in site-packages/pyflink (bin/, lib/, opt/).
#
#   infra/flink-cluster.sh start          write the configuration, start both JVMs, wait until every slot is free
#   infra/flink-cluster.sh stop           stop the two JVMs this script started (by their process ids), wait for them to exit
#   infra/flink-cluster.sh status         say whether it runs, with pids and address (exit 3 when not running)
#   infra/flink-cluster.sh submit ARGS    run `scrapeguard ARGS` (jobs/cli.py) as a Flink client program on the cluster,
#                                         e.g. submit run --input /abs/events.jsonl --output /abs/decisions.jsonl --parallelism 2
#
# Files are read and written by the TaskManager and the client on this machine: give `submit` absolute paths.
# The Python workers import `detectors` and `jobs` from $PYTHON's site-packages (the project installed there, as
# `make` does with `pip install -e`).
#
# Settings (environment): PYTHON (default <repo>/.venv/bin/python: its pyflink package is FLINK_HOME, and it runs the
# client program and the Python workers), FLINK_REST_PORT (default 18081), FLINK_RPC_PORT (16123), FLINK_SLOTS (2),
# FLINK_TM_MEMORY (2560m), FLINK_JM_MEMORY (1024m), FLINK_STATE_DIR (default infra/.cache/flink-run: conf, log, pid),
# FLINK_LOG_DIR (<state>/log), FLINK_PID_DIR (<state>/pid).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
python=${PYTHON:-$repo/.venv/bin/python}
rest_port=${FLINK_REST_PORT:-18081}
rpc_port=${FLINK_RPC_PORT:-16123}
slots=${FLINK_SLOTS:-2}
state=${FLINK_STATE_DIR:-$here/.cache/flink-run}
conf=$state/conf
log_dir=${FLINK_LOG_DIR:-$state/log}
pid_dir=${FLINK_PID_DIR:-$state/pid}
ident=scrapeguard  # names the daemons' pid and log files: flink-scrapeguard-<daemon>.pid
daemons=(standalonesession taskexecutor)
url=http://127.0.0.1:$rest_port

# What the scripts in $FLINK_HOME/bin read; exported for the daemon scripts and the `flink` client alike.
export FLINK_CONF_DIR=$conf FLINK_LOG_DIR=$log_dir FLINK_PID_DIR=$pid_dir FLINK_IDENT_STRING=$ident

say() { echo "flink: $*"; }
pidfile() { echo "$pid_dir/flink-$ident-$1.pid"; }
main_class() { [[ $1 == standalonesession ]] && echo StandaloneSessionClusterEntrypoint || echo TaskManagerRunner; }
# The daemon's pid if its pid file names a live process running that daemon's main class (not a reused pid).
running_pid() {
  local file pid
  file=$(pidfile "$1")
  [[ -f $file ]] || return 1
  pid=$(tail -n 1 "$file")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && [[ $(ps -o args= -p "$pid") == *"$(main_class "$1")"* ]] && echo "$pid"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

flink_home() {
  [[ -x $python ]] || { say "no Python at $python; set PYTHON or run make (it creates .venv)"; exit 1; }
  FLINK_HOME=$("$python" -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))')
  [[ -f $FLINK_HOME/bin/config.sh ]] || { say "$FLINK_HOME (pyflink of $python) has no bin/config.sh"; exit 1; }
  # jobmanager.sh and taskmanager.sh run bin/flink-daemon.sh by path, and Python workers run bin/pyflink-udf-runner.sh.
  if [[ ! -x $FLINK_HOME/bin/flink-daemon.sh || ! -x $FLINK_HOME/bin/pyflink-udf-runner.sh ]]; then
    say "scripts in $FLINK_HOME/bin are not executable; fix: chmod +x $FLINK_HOME/bin/*.sh"; exit 1
  fi
}

# Summary of GET /overview as "<taskmanagers> <slots-available>", or nothing if the REST API does not answer.
overview() {
  "$python" - "$url/overview" <<'PY' 2>/dev/null || true
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    o = json.load(r)
print(o["taskmanagers"], o["slots-available"])
PY
}

configure() {
  mkdir -p "$conf" "$log_dir" "$pid_dir"
  cp "$FLINK_HOME"/conf/log4j*.properties "$FLINK_HOME"/conf/logback*.xml "$conf/"
  # The distribution's JVM options (the --add-opens Flink needs on Java 17), kept as they are.
  local java_opts
  java_opts=$("$python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["env"]["java"]["opts"]["all"])' \
    "$FLINK_HOME/conf/config.yaml")
  cat > "$conf/config.yaml" <<YAML
# Written by infra/flink-cluster.sh; rewritten on every start.
env.java.opts.all: "$java_opts"
env.log.dir: "$log_dir"
env.pid.dir: "$pid_dir"
jobmanager.bind-host: 127.0.0.1
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $rpc_port
jobmanager.memory.process.size: ${FLINK_JM_MEMORY:-1024m}
jobmanager.execution.failover-strategy: region
taskmanager.bind-host: 127.0.0.1
taskmanager.host: 127.0.0.1
taskmanager.rpc.port: "0"
taskmanager.data.port: 0
taskmanager.numberOfTaskSlots: $slots
# 2560m gives about 1 GB managed memory, 500 MB a slot; Python workers take their memory from it (python.fn-execution.memory.managed).
taskmanager.memory.process.size: ${FLINK_TM_MEMORY:-2560m}
taskmanager.memory.managed.fraction: 0.5
blob.server.port: "0"
rest.bind-address: 127.0.0.1
rest.address: 127.0.0.1
rest.port: $rest_port
parallelism.default: 1
python.executable: "$python"
python.client.executable: "$python"
# pemja (flink-python's embedded interpreter, thread mode) is on the JVMs' own class path (HADOOP_CLASSPATH in start)
# and loaded from there for every job: loaded by a job's class loader, its native library is bound to that loader,
# and the next job's fails with "NoSuchFieldException: loadedLibraryNames".
classloader.parent-first-patterns.additional: "pemja."
YAML
}

start() {
  local up=0 d
  for d in "${daemons[@]}"; do running_pid "$d" >/dev/null && up=$((up + 1)); done
  if ((up == ${#daemons[@]})); then say "already running ($url)"; return 0; fi
  if ((up > 0)); then say "only partly running; stopping what runs first"; stop; fi
  for port in "$rest_port" "$rpc_port"; do
    if port_open "$port"; then say "port $port is in use by another process; set FLINK_REST_PORT / FLINK_RPC_PORT"; exit 1; fi
  done
  flink_home
  configure
  for d in "${daemons[@]}"; do rm -f "$(pidfile "$d")"; done
  # The JVMs' working directory is the state directory, so nothing lands where `start` was run. Python operators
  # run in thread mode, which embeds the `python3` first on PATH: the one of the venv (and jobs/embedded's
  # sitecustomize imports the compiled extensions once, at start).
  local python_jar
  python_jar=$(echo "$FLINK_HOME"/opt/flink-python-*.jar)
  [[ -f $python_jar ]] || { say "no flink-python jar in $FLINK_HOME/opt"; exit 1; }
  (cd "$state" && export PATH="$(dirname "$python"):$PATH" PYTHONPATH="$repo/jobs/embedded${PYTHONPATH:+:$PYTHONPATH}" \
      HADOOP_CLASSPATH="$python_jar${HADOOP_CLASSPATH:+:$HADOOP_CLASSPATH}" && bash "$FLINK_HOME/bin/jobmanager.sh" start && bash "$FLINK_HOME/bin/taskmanager.sh" start) \
    >"$log_dir/start.out" 2>&1 || { say "the daemon scripts failed:"; tail -20 "$log_dir/start.out"; stop; exit 1; }
  local jm tm tms free
  jm=$(running_pid standalonesession) && tm=$(running_pid taskexecutor) \
    || { say "a daemon exited at once:"; last_logs; stop; exit 1; }
  for _ in $(seq 1 240); do
    read -r tms free <<<"$(overview)" || true
    if [[ ${tms:-0} -ge 1 && ${free:-0} -ge $slots ]]; then
      say "started (jobmanager pid $jm, taskmanager pid $tm, $url, $free slots)"; return 0
    fi
    if ! running_pid standalonesession >/dev/null || ! running_pid taskexecutor >/dev/null; then
      say "a daemon exited during start:"; last_logs; stop; exit 1
    fi
    sleep 0.5
  done
  say "no TaskManager with $slots free slots at $url/overview within 120 s:"; last_logs; stop; exit 1
}

last_logs() {
  local f
  for f in "$log_dir"/*.log "$log_dir"/*.out; do
    [[ -f $f ]] && { echo "--- last lines of $f"; tail -15 "$f"; }
  done
  return 0
}

stop_daemon() {
  local d=$1 pid
  if ! pid=$(running_pid "$d"); then rm -f "$(pidfile "$d")"; return 0; fi
  kill "$pid"
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then rm -f "$(pidfile "$d")"; say "stopped $d (pid $pid)"; return 0; fi
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$(pidfile "$d")"
  say "killed $d (pid $pid) after 30 s"
}

stop() {
  local up=0 d
  for d in "${daemons[@]}"; do running_pid "$d" >/dev/null && up=$((up + 1)); done
  if ((up == 0)); then say "not running"; for d in "${daemons[@]}"; do rm -f "$(pidfile "$d")"; done; return 0; fi
  stop_daemon taskexecutor
  stop_daemon standalonesession
}

status() {
  local jm tm
  if jm=$(running_pid standalonesession) && tm=$(running_pid taskexecutor); then
    say "running (jobmanager pid $jm, taskmanager pid $tm, $url)"
  else
    say "not running"; return 3
  fi
}

submit() {
  status >/dev/null || { say "not running; run $0 start first"; exit 3; }
  flink_home
  # -pyclientexec runs jobs/cli.py with $PYTHON; the program's get_execution_environment() then targets this cluster.
  exec bash "$FLINK_HOME/bin/flink" run -m "127.0.0.1:$rest_port" -pyclientexec "$python" -pyexec "$python" \
    -py "$repo/jobs/cli.py" "$@"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  submit) shift; submit "$@" ;;
  *) echo "usage: $0 start|stop|status|submit ARGS..." >&2; exit 2 ;;
esac
