"""The detection job: requests in, v1 decisions out.

`build` wires the counting SQL and the Python steps of `detectors.pipeline` onto tables of
request rows that already carry event-time watermarks; `run_files` is the embedded job:
files in, JSON Lines out, on PyFlink's local mini-cluster.

    parse (Python, per input)  -> SQL: minute summaries per account, IP, network; short-window rate counts
    -> Behave (keyed by subject): rolling features, long-window limits, behaviour rules
         -> ScoreAndDecide (keyed by subject_type:subject)   rows with hits, or enough volume for the models
         -> Learn (one key, parallelism 1)                  sampled rows and what the scorer sees -> versions,
                                                            broadcast to ScoreAndDecide
         -> Group (keyed by cohort)                          coordination -> ScoreAndDecide
    SQL: short-window counts over a limit -> ScoreAndDecide (which applies the rate rules to them)

The SQL queries are planned together (`to_streams`), so the parse rows are converted, watermarked
and filtered once for all of them, not once per query.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pyflink.common import Configuration, Row, Types, WatermarkStrategy
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
from pyflink.java_gateway import get_gateway
from pyflink.table import StreamTableEnvironment, Table

from detectors.config import Config, parse_duration
from detectors.pipeline import SUBJECT_TYPES, Limits, kinds
from jobs.operators import (
    DEAD_LETTER,
    DECISION,
    GROUP,
    KEYED,
    LEARN,
    VERSION,
    VERSIONS,
    Behave,
    Group,
    Learn,
    ParseVerdictLines,
    ScoreAndDecide,
    keyed,
)
from jobs.parse import file_parser
from jobs.progress import Bar
from jobs.sql import accepted, limit_query, minute_query, parsed_schema, rejected

_DEAD = ""
"""The key of a dead letter among the decision rows the embedded job collects (decisions are keyed by subject)."""
EMBEDDED = str(Path(__file__).resolve().parent / "embedded")
"""On the PYTHONPATH of the JVM: the start-up of its embedded interpreter (`jobs/embedded/sitecustomize.py`)."""


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
    requests: Table,
    rejected: Table,
    config: Config,
    state_ttl_ms: int | None = None,
    verdicts: DataStream | None = None,
    model: str | None = None,
    model_out: str | None = None,
    tombstones: bool = False,
    durable: bool = True,
) -> tuple[DataStream, DataStream]:
    """Request rows (a table with watermarks), their rejected lines and analyst verdicts in; `DECISION` rows out
    (and, if `tombstones`, a row with a null value when a subject's last decision lapses or is lifted), and the
    dead letters of `rejected` as decision-shaped rows.

    `verdicts` are `KEYED` scorer rows with learner observations on their `LEARN` side output.
    Keyed state expires after `state_ttl_ms` without updates. A job that takes no checkpoints (not `durable`) keeps
    its behaviour and scorer state in its operators' memory instead (`jobs.operators.InMemory`).
    """
    t_env.create_temporary_view("requests", requests)
    scored: list[DataStream] = []
    learned: list[DataStream] = []
    grouped: list[DataStream] = []
    limits = [limits for limits in map(partial(Limits, config), SUBJECT_TYPES) if limits.windows]
    summaries = kinds(config)
    dead, *counted = to_streams(
        t_env,
        [rejected, *(limit_query(t_env, "requests", lim) for lim in limits)]
        + [minute_query(t_env, "requests", kind) for kind in summaries],
        [None, *(KEYED for _ in limits), *(None for _ in summaries)],
    )
    scored.extend(counted[: len(limits)])
    for kind, minutes in zip(summaries, counted[len(limits) :], strict=True):
        behaved = (
            keyed(minutes, Types.STRING(), Types.PICKLED_BYTE_ARRAY())
            .process(Behave(config, kind, state_ttl_ms, durable), output_type=KEYED)
            .name(f"behave-{kind}")
            .uid(f"behave-{kind}")
        )
        scored.append(behaved)
        learned.append(behaved.get_side_output(LEARN))
        grouped.append(behaved.get_side_output(GROUP))
    if verdicts is not None:
        scored.append(verdicts)
        learned.append(verdicts.get_side_output(LEARN))
    if config.section("coordination", "enabled"):
        cohorts = grouped[0].union(*grouped[1:])
        scored.append(
            keyed(cohorts, Types.STRING(), Types.PICKLED_BYTE_ARRAY())
            .process(Group(config, state_ttl_ms), output_type=KEYED)
            .name("group")
            .uid("group")
        )
    versions = (
        keyed(learned[0].union(*learned[1:]), Types.INT(), Types.PICKLED_BYTE_ARRAY())
        .process(Learn(config, model, model_out), output_type=VERSION)
        .name("learn")
        .uid("learn")
        .set_parallelism(1)
    )
    decisions = (
        keyed(scored[0].union(*scored[1:]), Types.STRING(), Types.PICKLED_BYTE_ARRAY())
        .connect(versions.broadcast(VERSIONS))
        .process(ScoreAndDecide(config, model, state_ttl_ms, tombstones, durable), output_type=DECISION)
        .name("score-and-decide")
        .uid("score-and-decide")
    )
    return decisions, dead


def to_streams(
    t_env: StreamTableEnvironment, tables: list[Table], row_types: list[Any] | None = None
) -> list[DataStream]:
    """The rows of `tables` as streams of plain `Row`s, planned together, so the planner builds once what their
    plans share (the conversion of the parse rows, their watermark, the accepted rows): planned one by one, as
    `to_data_stream` does, each query repeats that chain for every row.

    A stream is typed as its table's external rows (the objects the Python operators read), or as the row type
    given for it in `row_types` (a byte array column as a pickled one: the same bytes to the JVM). This is
    `StreamTableEnvironmentImpl.toDataStream(Table)` for a list, through the same planner calls (the planner's
    sub-plan reuse, on by default, does the sharing), less its registration of jars added with `ADD JAR`,
    which the jobs do not use.
    """
    jvm = get_gateway().jvm
    j_tenv = t_env._j_tenv
    catalogs = j_tenv.getCatalogManager()
    operations = jvm.java.util.ArrayList()
    for table in tables:
        schema = table._j_table.getResolvedSchema()
        result = jvm.org.apache.flink.table.catalog.SchemaTranslator.createProducingResult(
            catalogs.getDataTypeFactory(), schema, schema.toSourceRowDataType()
        )
        query = table._j_table.getQueryOperation()
        if result.getProjections().isPresent():
            refs = jvm.java.util.ArrayList()
            for name in result.getProjections().get():
                refs.add(jvm.org.apache.flink.table.expressions.ApiExpressionUtils.unresolvedRef(name))
            query = j_tenv.getOperationTreeBuilder().project(refs, query)
        sink = catalogs.resolveCatalogTable(jvm.org.apache.flink.table.catalog.ExternalCatalogTable(result.getSchema()))
        operations.add(
            jvm.org.apache.flink.table.operations.ExternalModifyOperation(
                jvm.org.apache.flink.table.catalog.ContextResolvedTable.anonymous("datastream_sink", sink),
                query,
                jvm.org.apache.flink.table.connector.ChangelogMode.insertOnly(),
                result.getPhysicalDataType().orElse(sink.getResolvedSchema().toPhysicalRowDataType()),
            )
        )
    legacy = jvm.org.apache.flink.table.types.utils.LegacyTypeInfoDataTypeConverter
    env = j_tenv.execEnv()
    streams = []
    for table, row_type, transformation in zip(
        tables, row_types or [None] * len(tables), j_tenv.getPlanner().translate(operations), strict=True
    ):
        env.addOperator(transformation)
        transformation.setOutputType(
            row_type.get_java_type_info()
            if row_type is not None
            else legacy.toLegacyTypeInfo(table._j_table.getResolvedSchema().toPhysicalRowDataType())
        )
        streams.append(DataStream(jvm.org.apache.flink.streaming.api.datastream.DataStream(env, transformation)))
    env.configure(j_tenv.getConfig().getConfiguration())
    return streams


def flink_configuration() -> Configuration:
    """Settings for the Python operators: they run in thread mode, inside the JVM (no Python worker process, no
    per-record Beam round trip). Each state access is then a call into the JVM: PyFlink's Python-side state
    cache (`python.state.cache-size`) serves process mode only, so it is not set.

    Thread mode embeds the `python3` found on PATH (pemja), so this interpreter's directory goes first on PATH
    before the JVM starts, and `jobs/embedded` first on its PYTHONPATH (its `sitecustomize` imports the compiled
    extensions once, at start); `infra/flink-cluster.sh` does the same for its task managers.
    """
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    if os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] != EMBEDDED:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (EMBEDDED, os.environ.get("PYTHONPATH")) if p)
    conf = Configuration()
    conf.set_string("python.execution-mode", "thread")
    conf.set_string("pipeline.object-reuse", "true")
    # The parse UDF (process mode) ends a bundle, waiting for all its rows, every 10,000 lines or 100 ms, not every
    # 100,000 lines or 1 s: the JVM's wait at each bundle end is shorter, and rows reach the windows sooner.
    conf.set_string("python.fn-execution.bundle.size", "10000")
    conf.set_string("python.fn-execution.bundle.time", "100")
    return conf


def file_configuration() -> Configuration:
    """`flink_configuration` for a job over files: the parse UDF takes its lines in Arrow batches of a whole bundle
    (10,000), not PyFlink's 1,000, so a tenth of the per-batch frames and conversions. (The streaming job keeps
    1,000: its input does not end a bundle.)"""
    conf = flink_configuration()
    conf.set_string("python.fn-execution.arrow.batch.size", "10000")
    return conf


def file_requests(
    t_env: StreamTableEnvironment, path: Path, config: Config, index: int, progress: Path | None = None
) -> tuple[Table, Table]:
    """One input file (`.gz` read transparently) as a table of request rows with its own watermarks, and one of
    its dead letters (decision-shaped rows with key `_DEAD`); the parse stage reports its progress in `progress`."""
    t_env.execute_sql(
        f"CREATE TEMPORARY TABLE lines_{index} (line STRING) "
        f"WITH ('connector' = 'filesystem', 'path' = '{path.resolve().as_uri()}', 'format' = 'raw')"
    )
    t_env.create_temporary_function(
        f"parse_{index}", file_parser(str(path), config, str(progress) if progress else None)
    )
    (parsed,) = to_streams(t_env, [t_env.sql_query(f"SELECT parse_{index}(line) AS r FROM lines_{index}")])
    lag = parse_duration(config.section("time", "out_of_orderness"))
    t_env.create_temporary_view(f"parsed_{index}", t_env.from_data_stream(parsed, parsed_schema(lag)))
    return t_env.sql_query(accepted(f"parsed_{index}")), t_env.sql_query(rejected(f"parsed_{index}"))


def _union(tables: tuple[Table, ...]) -> Table:
    union = tables[0]
    for table in tables[1:]:
        union = union.union_all(table)
    return union


def verdict_rows(env: StreamExecutionEnvironment, path: Path) -> DataStream:
    """A verdicts file (`schemas/verdict.v1.json` lines) as keyed scorer rows (learner observations and dead
    letters on side outputs)."""
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(path)).build()
    lines = env.from_source(source, WatermarkStrategy.no_watermarks(), f"verdicts:{path.name}").set_parallelism(1)
    return lines.process(ParseVerdictLines(str(path)), output_type=KEYED).set_parallelism(1)


def run_files(
    inputs: list[Path],
    output: Path,
    dead_letter: Path,
    config: Config,
    parallelism: int = 1,
    verdicts: Path | None = None,
    model: str | None = None,
    model_out: str | None = None,
    bar: Bar | None = None,
) -> RunSummary:
    """The embedded job: detect over files (and analyst verdicts), write decisions and dead letters as JSON Lines;
    warm-start the models from `model`, write them to `model_out` at the end; show progress on `bar`."""
    started = time.monotonic()
    env = StreamExecutionEnvironment.get_execution_environment(file_configuration())
    env.set_parallelism(parallelism)
    env.set_python_executable(sys.executable)
    t_env = StreamTableEnvironment.create(env)
    reports = Path(tempfile.mkdtemp(prefix="scrapeguard-progress-"))
    files = [reports / str(i) if bar is not None else None for i in range(len(inputs))]
    tables, rejects = zip(
        *(file_requests(t_env, path, config, i, files[i]) for i, path in enumerate(inputs)), strict=True
    )
    verdict_stream = verdict_rows(env, verdicts) if verdicts is not None else None
    decisions, dead_rows = build(
        t_env,
        _union(tables),
        _union(rejects),
        config,
        verdicts=verdict_stream,
        model=model,
        model_out=model_out,
        durable=env.get_checkpoint_config().is_checkpointing_enabled(),  # off unless a Flink configuration sets it
    )
    if verdict_stream is not None:
        dead_letters = verdict_stream.get_side_output(DEAD_LETTER)
        dead_rows = dead_rows.union(dead_letters.map(lambda s: Row(_DEAD, s, 0), output_type=DECISION))
    summary = RunSummary(read=sum(count_lines(p) for p in [*inputs, *([verdicts] if verdicts else [])]))
    if bar is not None:
        bar.total = summary.read
    output.parent.mkdir(parents=True, exist_ok=True)
    dead_letter.parent.mkdir(parents=True, exist_ok=True)
    watch = _Progress(files, bar) if bar is not None else None
    with open(output, "w", encoding="utf-8") as out, open(dead_letter, "w", encoding="utf-8") as dlq:
        with decisions.union(dead_rows).execute_and_collect("scrapeguard-detect") as results, watch or nullcontext():
            for record in results:
                if record[0] != _DEAD:
                    out.write(record[1] + "\n")
                    summary.decisions += 1
                else:
                    dlq.write(record[1] + "\n")
                    summary.rejected += 1
    summary.accepted = summary.read - summary.rejected
    summary.seconds = time.monotonic() - started
    shutil.rmtree(reports, ignore_errors=True)
    return summary


class _Progress(threading.Thread):
    """Moves `bar` to the lines the parse stages have read (their `progress` files), twice a second, while the
    job runs; the event time shown is the slowest input's clock."""

    def __init__(self, files: list[Path | None], bar: Bar) -> None:
        super().__init__(daemon=True)
        self.files, self.bar, self.stopped = files, bar, threading.Event()

    def __enter__(self) -> _Progress:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()
        self.poll()
        self.bar.update(self.bar.total - self.bar.n)  # the verdicts' lines too

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.poll()

    def poll(self) -> None:
        lines, clocks = 0, []
        for path in self.files:
            try:
                n, clock = path.read_text().split(" ")  # type: ignore[union-attr]
            except (OSError, ValueError):
                continue
            lines += int(n)
            clocks += [int(clock)] if clock else []
        self.bar.tick(max(0, lines - self.bar.n), min(clocks) if clocks else None)


def count_lines(path: Path) -> int:
    """Non-blank lines, split the way the job's file source splits them."""
    return sum(1 for line in read_lines(path) if line.strip())


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a text file as the job's file source reads them: `.gz` decompressed, split at `\\n` (a `\\r`
    before it dropped), bad UTF-8 replaced."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="\n") as text:
        for line in text:
            yield line.removesuffix("\n").removesuffix("\r")
