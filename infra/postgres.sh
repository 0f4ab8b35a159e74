#!/usr/bin/env bash
# A private PostgreSQL server (Debian's postgresql-15 binaries) on 127.0.0.1, for the review console's tests.
#
#   infra/postgres.sh start     initdb once, start on a free port (or PG_PORT), create database "review", print its URL
#   infra/postgres.sh stop      stop the server this script started (by its process id), wait for it to exit
#   infra/postgres.sh status    say whether it runs, with pid and URL
#
# Settings (environment): PG_PORT (default: a free port), PG_STATE_DIR (default infra/.cache/postgres-run: data,
# log, pid, url), PG_BIN (default /usr/lib/postgresql/15/bin). The URL (with a random password made at initdb) is
# written to $PG_STATE_DIR/url. PostgreSQL refuses to run as root, so as root the server runs as user postgres.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
state=${PG_STATE_DIR:-$here/.cache/postgres-run}
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
data=$state/data
pidfile=$state/postgres.pid

say() { echo "postgres: $*"; }
running_pid() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"; }
as_owner() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start() {
  if pid=$(running_pid); then say "already running (pid $pid; URL in $state/url)"; return 0; fi
  [[ -x $bin/initdb ]] || { say "$bin/initdb not found: apt-get install postgresql-15 (make test does)"; exit 1; }
  mkdir -p "$state"
  if [[ $(id -u) == 0 ]]; then
    id postgres >/dev/null 2>&1 || { say "no user postgres to run the server as"; exit 1; }
    chown postgres "$state"
    runuser -u postgres -- test -x "$state" || { say "user postgres cannot reach $state; choose a PG_STATE_DIR it can"; exit 1; }
  fi
  if [[ ! -f $data/PG_VERSION ]]; then
    python3 -c 'import secrets; print(secrets.token_hex(16))' > "$state/password"
    chmod 600 "$state/password"
    [[ $(id -u) == 0 ]] && chown postgres "$state/password"
    as_owner "$bin/initdb" -D "$data" -U scrapeguard --pwfile="$state/password" --auth=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 || { say "initdb failed:"; tail -5 "$state/initdb.log"; exit 1; }
  fi
  local port=${PG_PORT:-$(free_port)}
  as_owner "$bin/pg_ctl" -D "$data" -l "$state/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $state -c fsync=off" start >/dev/null \
    || { say "did not start; last lines of $state/server.log:"; tail -20 "$state/server.log"; exit 1; }
  head -1 "$data/postmaster.pid" > "$pidfile"
  local url="postgresql://scrapeguard:$(cat "$state/password")@127.0.0.1:$port/review"
  PGPASSWORD=$(cat "$state/password") "$bin/psql" -h 127.0.0.1 -p "$port" -U scrapeguard -d postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname = 'review'" | grep -q 1 \
    || PGPASSWORD=$(cat "$state/password") "$bin/createdb" -h 127.0.0.1 -p "$port" -U scrapeguard review
  echo "$url" > "$state/url"
  say "started (pid $(cat "$pidfile"), 127.0.0.1:$port, database review; URL in $state/url)"
}

stop() {
  if ! pid=$(running_pid); then say "not running"; rm -f "$pidfile"; return 0; fi
  kill -INT "$pid"  # fast shutdown
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then rm -f "$pidfile"; say "stopped (pid $pid)"; return 0; fi
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  say "killed (pid $pid) after 30 s"
}

status() {
  if pid=$(running_pid); then say "running (pid $pid; URL in $state/url)"; else say "not running"; return 3; fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
