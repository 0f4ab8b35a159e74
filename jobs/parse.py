"""The parse stage: lines of a file, or Kafka messages, to `RequestFacts` rows, as a vectorised Python UDF.

Parsing is the one step that runs in Python for every event, so it runs as a pandas UDF:
the JVM hands Python whole Arrow batches of lines and takes back batches of columns, instead
of one crossing per event. Each instance reads one input in order (a file, or the Kafka
partitions of one source reader) and keeps its `detectors.events.InputClock`s; every output
row carries the clock, from which the job derives the input's watermark, and bad lines carry
their dead-letter record instead of facts.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pandas as pd
from pyflink.table import DataTypes
from pyflink.table.udf import UserDefinedFunction, udf

from detectors.config import Config, parse_duration
from detectors.events import BadEvent, InputClock, LineReader, format_ms
from detectors.features.request import RequestFacts, facts
from detectors.pipeline import declares
from detectors.records import columns

_TYPES = {"BIGINT": DataTypes.BIGINT(), "BOOLEAN": DataTypes.BOOLEAN(), "STRING": DataTypes.STRING()}
FACTS = [name for name, _ in columns(RequestFacts)]
OUTPUT = [*FACTS, "clock", "dead"]
"""The UDF's columns: the facts (null for a rejected or blank line), the input's clock after the line (null until
it starts), and the dead-letter record of a rejected line."""
PARSED = DataTypes.ROW(
    [DataTypes.FIELD(n, _TYPES[t]) for n, t in columns(RequestFacts)]
    + [DataTypes.FIELD("clock", DataTypes.BIGINT()), DataTypes.FIELD("dead", DataTypes.STRING())]
)


def dead_letter(source: str, where: dict[str, Any], reason: str, raw: str) -> str:
    """A dead-letter record: where the input came from, why it was rejected, and the raw line."""
    return orjson.dumps({"source": source, **where, "reason": reason, "raw": raw}).decode()


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=OUTPUT, dtype=object)


def file_parser(source: str, config: Config, progress: str | None = None) -> UserDefinedFunction:
    """The parse UDF of one file (`source` names it in dead letters): lines in, `PARSED` rows out. With
    `progress`, it keeps in that file how many lines it has read and its input's clock (`lines clock`)."""
    blank = (None,) * len(FACTS)

    def parse(lines: pd.Series) -> pd.DataFrame:
        reader = state.get("reader")
        if reader is None:
            reader = state["reader"] = LineReader.for_config(config)
            state["declares"] = declares(config)
        routes, declared, rows = config.routes, state["declares"], []
        for line in lines:
            try:
                event = reader.feed(line)
            except BadEvent as exc:
                rows.append((*blank, reader.clock.clock, dead_letter(source, {"line": reader.line_no}, str(exc), line)))
                continue
            facts_ = blank if event is None else facts(event, routes, declared)
            rows.append((*facts_, reader.clock.clock, None))
        if progress is not None:
            with open(progress, "w") as f:  # a short write, read whole (or not at all) by the CLI's progress bar
                f.write(f"{reader.line_no} {reader.clock.clock or ''}")
        return _frame(rows)

    state: dict[str, Any] = {}
    return udf(parse, result_type=PARSED, func_type="pandas")


def message_parser(source: str, config: Config, idle_ms: int, partitions: int, readers: int) -> UserDefinedFunction:
    """The parse UDF of the `access-logs` messages one source reader hands on: (value, partition, offset) in,
    `PARSED` rows out.

    Each partition has its own clock, checked against the wall clock too. A row's `clock` is the
    smallest clock of the partitions this reader has had a message from in the last `idle_ms`,
    so the watermark waits for the slowest of them and an idle one stops holding it back. A reader
    has no clock (the watermark stays) until every partition it reads (`reader_partitions` of the
    topic's `partitions` among the source's `readers`) has delivered, or for `idle_ms` after its
    first message (a partition may be empty). A message behind the reader's clock by more than
    the out-of-orderness (a partition that was idle, or late to start) is rejected as late even if
    its own partition's clock would take it: the windows downstream could no longer count it.
    """
    time_ = config.section("time")
    lag, ahead, skew = (parse_duration(time_[k]) for k in ("out_of_orderness", "max_ahead", "max_clock_skew"))
    max_bytes = config.section("input", "max_line_bytes")
    blank = (None,) * len(FACTS)

    def parse(values: pd.Series, partitions_: pd.Series, offsets: pd.Series) -> pd.DataFrame:
        clocks: dict[int, InputClock] = state.setdefault("clocks", {})
        seen: dict[int, float] = state.setdefault("seen", {})
        started = state.setdefault("started", time.time())
        if "mine" not in state and len(partitions_):
            state["mine"] = reader_partitions(source, partitions, readers, int(partitions_.iloc[0]))
        reader = LineReader(max_bytes, lag, config.log_format.parse if config.log_format else None)
        if "declares" not in state:
            state["declares"] = declares(config)
        routes, declared, rows = config.routes, state["declares"], []
        for value, partition, offset in zip(values, partitions_, offsets, strict=True):
            now = time.time()
            clock = clocks.get(partition)
            if clock is None:
                clock = clocks[partition] = InputClock(lag, ahead, skew)
            seen[partition] = now
            ready = state["mine"] <= seen.keys() or now - started >= idle_ms / 1000
            slowest = _slowest(clocks, seen, now, idle_ms) if ready else None
            floor = state.get("floor")
            if slowest is not None and (floor is None or slowest > floor):
                state["floor"] = floor = slowest
            dead = None
            try:
                if not value or not value.strip():
                    raise BadEvent("empty message")
                event = reader.parse(value, max_bytes)
                off = clock.check(event.ts, int(now * 1000))
                if not off and floor is not None and event.ts < floor - lag:
                    off = (
                        f"late: event time {format_ms(event.ts)} is behind the clock of this reader of "
                        f"{source} ({format_ms(floor)}, the slowest of its partitions) by more than the allowed "
                        f"out-of-orderness ([time] out_of_orderness); partition {int(partition)} was idle or late"
                    )
                if off:
                    raise BadEvent(off)
            except BadEvent as exc:
                dead = dead_letter(source, {"partition": int(partition), "offset": int(offset)}, str(exc), value or "")
            # The row carries the clocks as its message left them, so the watermark reaches the last message's too;
            # the floor follows, so no message accepted after this row is behind the watermark it brings.
            after = _slowest(clocks, seen, now, idle_ms) if ready else None
            if after is not None and (floor is None or after > floor):
                state["floor"] = after
            rows.append((*blank, after, dead) if dead is not None else (*facts(event, routes, declared), after, None))
        return _frame(rows)

    state: dict[str, Any] = {}
    return udf(parse, result_type=PARSED, func_type="pandas")


def reader_partitions(topic: str, partitions: int, readers: int, partition: int) -> set[int]:
    """The partitions of `topic` that the Kafka source reader which reads `partition` reads, as the connector's
    enumerator assigns them (`KafkaSourceEnumerator.getSplitOwner`: round robin from a start index hashed from
    the topic name).

    >>> reader_partitions("access-logs", 4, 2, 1) | reader_partitions("access-logs", 4, 2, 0)
    {0, 1, 2, 3}
    >>> reader_partitions("access-logs", 4, 1, 3)
    {0, 1, 2, 3}
    """
    h = 0
    for ch in topic:  # Java's String.hashCode (UTF-16 code units; topic names are ASCII)
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    start = ((h * 31) & 0x7FFFFFFF) % readers

    def owner(p: int) -> int:
        return (start + p) % readers

    return {p for p in range(partitions) if owner(p) == owner(partition)}


def _slowest(clocks: dict[int, InputClock], seen: dict[int, float], now: float, idle_ms: int) -> int | None:
    """The smallest clock among the partitions active in the last `idle_ms`; None while one has none yet."""
    active = [c.clock for p, c in clocks.items() if now - seen[p] <= idle_ms / 1000]
    if not active or any(c is None for c in active):
        return None
    return min(active)  # type: ignore[type-var]
