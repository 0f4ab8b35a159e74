#!/usr/bin/env bash
# The demo sample through the real stack: a Kafka broker, the streaming job (until the input ends), then the
# enforcement view of the decisions topic. Stops the broker it started, by pid, on exit.
#
#   infra/stream-demo.sh .venv/bin
set -euo pipefail
bin=${1:-.venv/bin}
here=$(cd "$(dirname "$0")" && pwd)
export KAFKA_STATE_DIR=${KAFKA_STATE_DIR:-$here/.cache/kafka-demo} KAFKA_PORT=${KAFKA_PORT:-19092}
bootstrap=127.0.0.1:$KAFKA_PORT
prefix=demo-$(date +%s).

"$here/kafka.sh" start
trap '"$here/kafka.sh" stop' EXIT
"$bin/python" "$here/topics.py" --bootstrap-servers "$bootstrap" --topic-prefix "$prefix" --replay
"$bin/scrapeguard" simulate --out out/demo --scenario small --seed 7
"$bin/scrapeguard" produce --input out/demo/events.jsonl --bootstrap-servers "$bootstrap" --topic-prefix "$prefix"
"$bin/scrapeguard" run --bootstrap-servers "$bootstrap" --topic-prefix "$prefix" --until-end \
  --checkpoint-dir out/demo/checkpoints
"$bin/scrapeguard" enforce --bootstrap-servers "$bootstrap" --topic-prefix "$prefix" --until-end --print --clock event
