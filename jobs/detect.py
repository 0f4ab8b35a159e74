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

from pyflink.common import Configuration, Duration, Types, WatermarkStrategy
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
from pyflink.table import StreamTableEnvironment

from detectors.config import Config, parse_duration
from detectors.engine import build_detectors
from jobs.features_sql import REQUEST_ROW, ROWTIME_SCHEMA, feature_query
from jobs.operators import DEAD_LETTER, DecideSubject, ParseFileLines, RowTime

_DECISION, _DEAD = "D", "X"
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
    t_env: StreamTableEnvironment, requests: DataStream, config: Config, state_ttl_ms: int | None = None
) -> DataStream:
    """Windowed features in SQL, decisions in Python: request rows (with watermarks) in, `DecideSubject.OUTPUT` rows
    out; the policy state expires after `state_ttl_ms` without updates."""
    t_env.create_temporary_view("requests", t_env.from_data_stream(requests, ROWTIME_SCHEMA))
    outputs = []
    for detector in build_detectors(config):
        candidates = t_env.to_data_stream(feature_query(t_env, "requests", detector))
        outputs.append(
            candidates.key_by(lambda row: row[0], key_type=Types.STRING())
            .process(DecideSubject(config, detector.subject_type, state_ttl_ms), output_type=DecideSubject.OUTPUT)
            .name(f"decide-{detector.subject_type}")
            .uid(f"decide-{detector.subject_type}")
        )
    return outputs[0].union(*outputs[1:])


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


def run_files(inputs: list[Path], output: Path, dead_letter: Path, config: Config, parallelism: int = 1) -> RunSummary:
    """The embedded job: detect over files, write decisions and dead letters as JSON Lines."""
    started = time.monotonic()
    env = StreamExecutionEnvironment.get_execution_environment(flink_configuration())
    env.set_parallelism(parallelism)
    env.set_python_executable(sys.executable)
    timed, dead = zip(*(file_requests(env, path, config) for path in inputs), strict=True)
    requests = timed[0].union(*timed[1:])
    decisions = build(StreamTableEnvironment.create(env), requests, config).map(
        lambda row: _DECISION + row[1], output_type=Types.STRING()
    )
    rejected = dead[0].union(*dead[1:]).map(lambda s: _DEAD + s, output_type=Types.STRING())
    summary = RunSummary(read=sum(count_lines(p) for p in inputs))
    output.parent.mkdir(parents=True, exist_ok=True)
    dead_letter.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as out, open(dead_letter, "w", encoding="utf-8") as dlq:
        with decisions.union(rejected).execute_and_collect("scrapeguard-detect") as results:
            for record in results:
                if record[0] == _DECISION:
                    out.write(record[1:] + "\n")
                    summary.decisions += 1
                else:
                    dlq.write(record[1:] + "\n")
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
