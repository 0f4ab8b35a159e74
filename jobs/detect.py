"""The detection job: requests in, v1 decisions out.

`build` wires feature SQL and the keyed decision operators onto a stream of
request rows that already carries event-time watermarks; `run_files` is the embedded job: files in, JSON
Lines out, on PyFlink's local mini-cluster.
"""

from __future__ import annotations

import gzip
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pyflink.common import Configuration, Duration, Row, Types, WatermarkStrategy
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
from pyflink.table import StreamTableEnvironment

from detectors.config import Config, parse_duration
from detectors.engine import build_detectors
from jobs.features_sql import REQUEST_ROW, ROWTIME_SCHEMA, feature_query, minute_queries
from jobs.operators import (
    ASSESSMENT,
    DEAD_LETTER,
    ENGINE_ROW,
    Assess,
    Behave,
    Decide,
    LimitHits,
    ParseFileLines,
    ParseVerdictLines,
    RowTime,
)

_DEAD = ""
"""The key of a dead letter among the decision rows the embedded job collects (decisions are keyed by subject)."""
STATE_CACHE_KEYS = 200_000


@dataclass
class RunSummary:
    """What an embedded run read, accepted, rejected and decided."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0
    decisions: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"read {self.read}, accepted {self.accepted}, rejected {self.rejected}, "
            f"decisions {self.decisions} in {self.seconds:.1f} s"
        )


def build(
    t_env: StreamTableEnvironment,
    requests: DataStream,
    config: Config,
    state_ttl_ms: int | None = None,
    verdicts: DataStream | None = None,
    model: str | None = None,
    model_out: str | None = None,
) -> DataStream:
    """Request rows (with watermarks) and analyst verdicts in, `Decide.OUTPUT` rows out.

    SQL does the counting: OVER windows for the rate limits (only rows over a limit leave
    them) and one-minute tumbling summaries per account, IP and network. Python rolls the
    summaries into behavioural features (keyed by subject), assesses every row at
    parallelism 1 (rules, River models, coordination, allowlists) and applies the policy
    (keyed by subject). Keyed state expires after `state_ttl_ms` without updates.
    """
    t_env.create_temporary_view("requests", t_env.from_data_stream(requests, ROWTIME_SCHEMA))
    rows = []
    for detector in build_detectors(config):
        candidates = t_env.to_data_stream(feature_query(t_env, "requests", detector))
        kind = detector.subject_type
        rows.append(candidates.flat_map(LimitHits(config, kind), output_type=ENGINE_ROW).name(f"limits-{kind}"))
    for kind, table in minute_queries(t_env, "requests").items():
        rows.append(
            t_env.to_data_stream(table)
            .key_by(lambda row: row[0], key_type=Types.STRING())
            .process(Behave(config, kind, state_ttl_ms), output_type=ENGINE_ROW)
            .name(f"behaviour-{kind}")
            .uid(f"behaviour-{kind}")
        )
    if verdicts is not None:
        rows.append(verdicts)
    assessed = (
        rows[0]
        .union(*rows[1:])
        .key_by(lambda row: 0, key_type=Types.INT())
        .process(Assess(config, model, model_out), output_type=ASSESSMENT)
        .name("assess")
        .uid("assess")
        .set_parallelism(1)
    )
    return (
        assessed.key_by(lambda row: row[0], key_type=Types.STRING())
        .process(Decide(config, state_ttl_ms), output_type=Decide.OUTPUT)
        .name("decide")
        .uid("decide")
    )


def flink_configuration() -> Configuration:
    """Settings for Python operators: a large keyed-state cache, since each miss is a round trip to the JVM."""
    conf = Configuration()
    conf.set_string("python.state.cache-size", str(STATE_CACHE_KEYS))
    return conf


def watermarks(config: Config) -> WatermarkStrategy:
    """Bounded out-of-orderness on the rows' `ts`."""
    lag = Duration.of_millis(parse_duration(config.section("time", "out_of_orderness")))
    return WatermarkStrategy.for_bounded_out_of_orderness(lag).with_timestamp_assigner(RowTime())


def file_requests(env: StreamExecutionEnvironment, path: Path, config: Config) -> tuple[DataStream, DataStream]:
    """One input file (`.gz` read transparently) as request rows with watermarks, plus its dead letters."""
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(path)).build()
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), f"file:{path.name}").set_parallelism(1)
    parsed = lines.process(ParseFileLines(str(path), config), output_type=REQUEST_ROW).set_parallelism(1)
    timed = parsed.assign_timestamps_and_watermarks(watermarks(config)).set_parallelism(1)
    return timed, parsed.get_side_output(DEAD_LETTER)


def verdict_rows(env: StreamExecutionEnvironment, path: Path, config: Config) -> tuple[DataStream, DataStream]:
    """A verdicts file (`schemas/verdict.v1.json` lines) as assessor rows with watermarks, plus its dead letters."""
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(path)).build()
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), f"verdicts:{path.name}").set_parallelism(1)
    parsed = lines.process(ParseVerdictLines(str(path), config), output_type=ENGINE_ROW).set_parallelism(1)
    return parsed.assign_timestamps_and_watermarks(watermarks(config)).set_parallelism(1), parsed.get_side_output(
        DEAD_LETTER
    )


def run_files(
    inputs: list[Path],
    output: Path,
    dead_letter: Path,
    config: Config,
    parallelism: int = 1,
    verdicts: Path | None = None,
    model: str | None = None,
    model_out: str | None = None,
) -> RunSummary:
    """The embedded job: detect over files (and analyst verdicts), write decisions and dead letters as JSON Lines;
    warm-start the models from `model`, write them to `model_out` at the end."""
    started = time.monotonic()
    env = StreamExecutionEnvironment.get_execution_environment(flink_configuration())
    env.set_parallelism(parallelism)
    env.set_python_executable(sys.executable)
    timed, dead = zip(*(file_requests(env, path, config) for path in inputs), strict=True)
    requests = timed[0].union(*timed[1:])
    verdict_stream = None
    if verdicts is not None:
        verdict_stream, verdict_dead = verdict_rows(env, verdicts, config)
        dead = (*dead, verdict_dead)
    decisions = build(
        StreamTableEnvironment.create(env), requests, config, verdicts=verdict_stream, model=model, model_out=model_out
    )  # no Python map after the Decide operator: PyFlink would chain it in and clash on the uid
    rejected = dead[0].union(*dead[1:]).map(lambda s: Row(_DEAD, s, 0), output_type=Decide.OUTPUT)
    summary = RunSummary(read=sum(count_lines(p) for p in [*inputs, *([verdicts] if verdicts else [])]))
    output.parent.mkdir(parents=True, exist_ok=True)
    dead_letter.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as out, open(dead_letter, "w", encoding="utf-8") as dlq:
        with decisions.union(rejected).execute_and_collect("scrapeguard-detect") as results:
            for record in results:
                if record[0] != _DEAD:
                    out.write(record[1] + "\n")
                    summary.decisions += 1
                else:
                    dlq.write(record[1] + "\n")
                    summary.rejected += 1
    summary.accepted = summary.read - summary.rejected
    summary.seconds = time.monotonic() - started
    return summary


def count_lines(path: Path) -> int:
    """Non-blank lines, split the way Flink's text format splits them (at \\n, \\r or \\r\\n)."""
    return sum(1 for line in read_lines(path) if line.strip())


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a text file, `.gz` decompressed, universal newlines, bad UTF-8 replaced."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline=None) as text:
        yield from text
