"""The engine's ceiling on an input: Flink jobs over the same files that detect nothing (a command, not a test).

    python -m benchmarks.passthrough {json,parse} FILE...      (run by `scrapeguard bench embedded`)
    python -m benchmarks.passthrough kafka BOOTSTRAP PREFIX    (run by `scrapeguard bench kafka`)

- `json`: the raw file source, `JSON_VALUE` of five fields, a blackhole sink (the Flink SQL floor);
- `parse`: the job's own parse stage (the vectorised Python UDF: event contract, input clock,
  request facts), its accepted rows into a blackhole sink: everything but detection;
- `kafka`: the streaming job's source and parse stage over `<PREFIX>access-logs` from its earliest to its
  latest offsets (`jobs.stream.kafka_requests`), its accepted rows into a blackhole sink.

Prints one line: `rows N in S s`, JVM and job start included.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment
from pyflink.table.expressions import col

from detectors.config import load_config
from jobs.detect import file_configuration, file_requests
from jobs.stream import StreamOptions, kafka_requests, stream_environment

FIELDS = ("ts", "ip", "method", "path", "account_id")


def main() -> None:
    mode, inputs = sys.argv[1], [Path(p) for p in sys.argv[2:]]
    started = time.monotonic()
    if mode == "kafka":
        kafka(*sys.argv[2:])
        print(f"{mode} pass-through in {time.monotonic() - started:.1f} s")
        return
    env = StreamExecutionEnvironment.get_execution_environment(file_configuration())
    env.set_parallelism(1)
    env.set_python_executable(sys.executable)
    t_env = StreamTableEnvironment.create(env)
    t_env.execute_sql("CREATE TEMPORARY TABLE sink (n BIGINT) WITH ('connector' = 'blackhole')")
    queries = []
    for i, path in enumerate(inputs):
        if mode == "json":
            t_env.execute_sql(
                f"CREATE TEMPORARY TABLE lines_{i} (line STRING) "
                f"WITH ('connector' = 'filesystem', 'path' = '{path.resolve().as_uri()}', 'format' = 'raw')"
            )
            values = ", ".join(f"JSON_VALUE(line, '$.{f}')" for f in FIELDS)
            queries.append(f"SELECT CHAR_LENGTH(CONCAT_WS('|', {values})) AS n FROM lines_{i}")
        else:
            accepted, _ = file_requests(t_env, path, load_config(), i)
            t_env.create_temporary_view(f"accepted_{i}", accepted)
            queries.append(f"SELECT ts AS n FROM accepted_{i}")
    t_env.execute_sql(f"INSERT INTO sink {' UNION ALL '.join(queries)}").wait()
    print(f"{mode} pass-through in {time.monotonic() - started:.1f} s")


def kafka(bootstrap: str, prefix: str) -> None:
    options = StreamOptions(
        bootstrap_servers=bootstrap, topic_prefix=prefix, group_id=f"{prefix}passthrough",
        transactional_id_prefix=f"{prefix}passthrough", checkpoint_interval_ms=30_000,
        checkpoint_dir=Path(tempfile.mkdtemp(prefix="passthrough-")).as_uri(), state_backend="hashmap",
        state_ttl_ms=7 * 86_400_000, idle_timeout_ms=30_000, starting_offsets="earliest", restore=None,
        until_end=True, parallelism=1,
    )  # fmt: skip
    t_env = stream_environment(options)
    t_env.execute_sql("CREATE TEMPORARY TABLE sink (n BIGINT) WITH ('connector' = 'blackhole')")
    accepted, _ = kafka_requests(t_env, options, load_config())
    accepted.select(col("ts")).execute_insert("sink").wait()


if __name__ == "__main__":
    main()
