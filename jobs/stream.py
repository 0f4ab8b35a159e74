"""The streaming job: Kafka `access-logs` in, v1 decisions and dead letters out.

Same detection as the embedded job (`jobs.detect.build`); around it the Kafka source,
the parse UDF's per-partition clocks (watermarks wait for the slowest partition of a
reader; an idle one stops holding them back), checkpoints, keyed state with a TTL, and
the decision sink:

- `exactly-once` (the default): decisions are written in Kafka transactions that commit
  with the checkpoints, so a `read_committed` consumer sees each once, and none that a
  failure rolled back; they become readable only at the next checkpoint.
- `at-least-once`: a decision is readable as soon as it is written. After a failure, the
  decisions since the last checkpoint are written again with the same `decision_id`
  (ids are deterministic), which consumers apply once.

A subject whose last decision lapsed, or was lifted, gets a tombstone (a null value on its
key), so the compacted topic forgets it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment, Table
from pyflink.table.expressions import col

from detectors.config import Config, parse_duration
from jobs.detect import build, flink_configuration, to_streams
from jobs.operators import DEAD_LETTER, KEYED, ParseVerdictMessages
from jobs.parse import message_parser
from jobs.sql import accepted, interval, parsed_schema, rejected

CONNECTOR_JAR = Path(__file__).resolve().parents[1] / "infra/.cache/flink-lib/flink-sql-connector-kafka-5.0.0-2.2.jar"
"""The Flink Kafka connector, fetched from Maven Central by `infra/kafka.sh fetch` (infra/pom.xml)."""


VERDICTS_IDLE_MS = 1000
"""How long a partition of the verdicts topic may be silent before it stops holding back the watermark."""


@dataclass
class StreamOptions:
    """Where the streaming job reads and writes, and how it keeps its state (defaults: `scrapeguard run --help`)."""

    bootstrap_servers: str
    topic_prefix: str
    group_id: str
    transactional_id_prefix: str
    checkpoint_interval_ms: int
    checkpoint_dir: str
    state_backend: str
    state_ttl_ms: int
    idle_timeout_ms: int
    starting_offsets: str
    restore: str | None
    until_end: bool
    parallelism: int
    model: str | None = None
    delivery: str = "exactly-once"
    transaction_timeout_ms: int = 900_000

    def topic(self, name: str) -> str:
        return self.topic_prefix + name


def stream_configuration(options: StreamOptions) -> Configuration:
    """Flink settings: checkpoints (retained when the job is cancelled or fails), state backend, state TTL of SQL."""
    conf = flink_configuration()
    settings = {
        "execution.checkpointing.interval": f"{options.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": options.checkpoint_dir,
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.incremental": "true",
        "state.backend.type": options.state_backend,
        "table.exec.state.ttl": f"{options.state_ttl_ms} ms",
        "table.exec.source.idle-timeout": f"{options.idle_timeout_ms} ms",  # also for the parse stage's watermarks
    }
    if options.restore:
        settings["execution.state-recovery.path"] = options.restore
    for key, value in settings.items():
        conf.set_string(key, value)
    return conf


def source_ddl(
    options: StreamOptions, config: Config, table: str = "access_logs", topic: str = "access-logs", timed: bool = False
) -> str:
    """`table` over `topic` (access logs, or analyst verdicts): the raw messages with partition and offset, and if
    `timed`, watermarks per partition on the Kafka timestamp (verdicts; the access logs' come from the parse
    stage's clocks).

    The watermark trails the largest timestamp by the out-of-orderness and 1 ms, as in the file job,
    so "late" means the same in both. A partition of verdicts counts as idle after `VERDICTS_IDLE_MS`:
    verdicts are rare, and one that comes after the watermark still takes effect at the next one,
    so an empty verdicts topic must not hold detection back for the access logs' `--idle-timeout`.
    """
    lag = parse_duration(config.section("time", "out_of_orderness")) + 1
    bounded = "'scan.bounded.mode' = 'latest-offset'," if options.until_end else ""
    watermark = f", WATERMARK FOR `kafka_ts` AS `kafka_ts` - {interval(lag)}" if timed else ""
    return f"""
        CREATE TABLE {table} (
          `value` STRING,
          `partition` INT METADATA VIRTUAL,
          `offset` BIGINT METADATA VIRTUAL,
          `kafka_ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL
          {watermark}
        ) WITH (
          'connector' = 'kafka',
          'topic' = '{options.topic(topic)}',
          'properties.bootstrap.servers' = '{options.bootstrap_servers}',
          'properties.group.id' = '{options.group_id}',
          'properties.isolation.level' = 'read_committed',
          'scan.startup.mode' = '{options.starting_offsets}-offset',
          {bounded}
          'scan.watermark.idle-timeout' = '{VERDICTS_IDLE_MS if timed else options.idle_timeout_ms} ms',
          'format' = 'raw'
        )"""


def sink_ddl(name: str, topic: str, options: StreamOptions, keyed: bool) -> str:
    """A Kafka sink of raw JSON values `v` (null: a tombstone), keyed by `k` if `keyed`, with the job's delivery
    guarantee (`StreamOptions.delivery`).

    The Kafka timestamp is the time of writing (the event time is in the value): retention and
    compaction lag then count from publication, also for replays of old logs.
    """
    key = "`k` STRING," if keyed else ""
    key_options = "'key.format' = 'raw', 'key.fields' = 'k', 'value.fields-include' = 'EXCEPT_KEY'," if keyed else ""
    if options.delivery == "exactly-once":
        delivery = f"""'sink.delivery-guarantee' = 'exactly-once',
          'sink.transactional-id-prefix' = '{options.transactional_id_prefix}-{topic}',
          'properties.transaction.timeout.ms' = '{options.transaction_timeout_ms}',"""
    else:
        delivery = "'sink.delivery-guarantee' = 'at-least-once', 'properties.linger.ms' = '0',"
    return f"""
        CREATE TABLE {name} ({key} `v` STRING) WITH (
          'connector' = 'kafka',
          'topic' = '{options.topic(topic)}',
          'properties.bootstrap.servers' = '{options.bootstrap_servers}',
          {delivery}
          {key_options}
          'value.format' = 'raw'
        )"""


def partition_count(options: StreamOptions, topic: str) -> int:
    """How many partitions `topic` has (the parse stage needs it to know when each reader has heard from all of
    its partitions)."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(bootstrap_servers=options.bootstrap_servers)
        try:
            found = consumer.partitions_for_topic(topic)
        finally:
            consumer.close()
    except KafkaError as exc:
        raise ValueError(f"--bootstrap-servers {options.bootstrap_servers}: {type(exc).__name__}: {exc}") from None
    if not found:
        raise ValueError(f"topic {topic} does not exist on {options.bootstrap_servers} (create it: infra/topics.py)")
    return len(found)


def kafka_requests(t_env: StreamTableEnvironment, options: StreamOptions, config: Config) -> tuple[Table, Table]:
    """The `access-logs` topic through the parse stage: (accepted requests, rejected messages), as `file_requests`
    gives them for files."""
    t_env.execute_sql(source_ddl(options, config))
    topic = options.topic("access-logs")
    t_env.create_temporary_function(
        "parse_messages",
        message_parser(topic, config, options.idle_timeout_ms, partition_count(options, topic), options.parallelism),
    )
    (parsed,) = to_streams(
        t_env, [t_env.sql_query("SELECT parse_messages(`value`, `partition`, `offset`) AS r FROM access_logs")]
    )
    lag = parse_duration(config.section("time", "out_of_orderness"))
    t_env.create_temporary_view("parsed", t_env.from_data_stream(parsed, parsed_schema(lag)))
    return t_env.sql_query(accepted("parsed")), t_env.sql_query(rejected("parsed"))


def stream_environment(options: StreamOptions) -> StreamTableEnvironment:
    """A table environment for a job on Kafka: `stream_configuration`, the parallelism, the Kafka connector."""
    env = StreamExecutionEnvironment.get_execution_environment(stream_configuration(options))
    env.set_parallelism(options.parallelism)
    env.set_python_executable(sys.executable)
    if CONNECTOR_JAR.exists():  # else it must be on Flink's class path, as in infra/k8s/Dockerfile
        env.add_jars(CONNECTOR_JAR.as_uri())  # added to PyFlink's own jars, which a cluster needs too
    return StreamTableEnvironment.create(env)


def run_stream(options: StreamOptions, config: Config) -> None:
    """Run the streaming job until the input ends (`until_end`) or forever; returns when the job finishes."""
    t_env = stream_environment(options)
    requests, rejects = kafka_requests(t_env, options, config)
    t_env.execute_sql(source_ddl(options, config, "verdicts", "verdicts", timed=True))
    t_env.execute_sql(sink_ddl("decisions_sink", "decisions", options, keyed=True))
    t_env.execute_sql(sink_ddl("dead_letter_sink", "dead-letter", options, keyed=False))
    verdicts = (
        t_env.to_data_stream(t_env.from_path("verdicts"))
        .process(ParseVerdictMessages(options.topic("verdicts")), output_type=KEYED)
        .name("parse-verdicts")
        .uid("parse-verdicts")
    )
    decisions, rejects = build(
        t_env, requests, rejects, config, options.state_ttl_ms, verdicts, options.model, tombstones=True
    )
    statements = t_env.create_statement_set()
    statements.add_insert("decisions_sink", t_env.from_data_stream(decisions).select(col("k"), col("v")))
    dead = (
        t_env.from_data_stream(rejects)
        .select(col("v"))
        .union_all(t_env.from_data_stream(verdicts.get_side_output(DEAD_LETTER)))
    )
    statements.add_insert("dead_letter_sink", dead)
    statements.execute().wait()
