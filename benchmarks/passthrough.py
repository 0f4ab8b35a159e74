"""The engine's ceiling on an input: Flink jobs over the same files that detect nothing (a command, not a test).

    python -m benchmarks.passthrough {json,parse} FILE...   (run by `scrapeguard bench embedded`)

- `json`: the raw file source, `JSON_VALUE` of five fields, a blackhole sink (the Flink SQL floor);
- `parse`: the job's own parse stage (the vectorised Python UDF: event contract, input clock,
  request facts), its accepted rows into a blackhole sink: everything but detection.

Prints one line: `rows N in S s`, JVM and job start included.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from detectors.config import load_config
from jobs.detect import file_requests, flink_configuration

FIELDS = ("ts", "ip", "method", "path", "account_id")


def main() -> None:
    mode, inputs = sys.argv[1], [Path(p) for p in sys.argv[2:]]
    started = time.monotonic()
    env = StreamExecutionEnvironment.get_execution_environment(flink_configuration())
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


if __name__ == "__main__":
    main()
