"""Flink operators: each adapts one step of `detectors.pipeline` (state in, step, state out).

Between Python operators records travel as `(key, payload)` rows, the payload a pickled
`detectors.pipeline` record and the key what the next keyed operator partitions on, so
no extra key-extraction step runs in Python (`keyed`).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from pyflink.common import Row, Types
from pyflink.common.time import Duration, Time
from pyflink.datastream import DataStream, KeyedStream, OutputTag
from pyflink.datastream.functions import (
    KeyedBroadcastProcessFunction,
    KeyedProcessFunction,
    ProcessFunction,
    RuntimeContext,
)
from pyflink.datastream.state import ListStateDescriptor, MapStateDescriptor, StateTtlConfig, ValueStateDescriptor
from pyflink.java_gateway import get_gateway

from detectors.config import Config
from detectors.events import BadEvent, LineReader, format_ms, parse_line
from detectors.features.minutes import SUMMARIES
from detectors.features.request import RequestFacts, facts
from detectors.learner import EPOCH_MS, FIRST, Learner, Version, epoch_end
from detectors.pipeline import Behave as BehaveStep
from detectors.pipeline import (
    Limits,
    Observation,
    Score,
    declares,
    group,
    grouping,
    learn,
    verdict_observation,
    verdict_row,
)
from detectors.pipeline import (
    Row as ScorerRow,
)
from detectors.records import RowReader, columns
from detectors.verdicts import parse_verdict

BYTES = Types.PICKLED_BYTE_ARRAY()  # Python bytes (a byte array would reach thread-mode Python as a tuple)
ITEM = Types.ROW([Types.LONG(), BYTES, Types.STRING()])
"""A record for a Python operator and its row time (read without unpickling): a pickled record of
`detectors.pipeline`, or (straight from SQL, to the scorer) a counted request over a short-window limit
as a JSON array (`jobs.sql.limit_query`, `detectors.pipeline.Limits.counted_row`)."""
KEYED = Types.ROW([Types.STRING(), ITEM])
"""An `ITEM` and the key of the operator it goes to (a keyed Python operator is handed the `ITEM`)."""
DEAD_LETTER = OutputTag("dead-letter", Types.STRING())
LEARN = OutputTag("learn", Types.ROW([Types.INT(), ITEM]))
GROUP = OutputTag("group", KEYED)
_TYPES = {"BIGINT": Types.LONG(), "DOUBLE": Types.DOUBLE(), "BOOLEAN": Types.BOOLEAN(), "STRING": Types.STRING()}
REQUEST = Types.ROW_NAMED([n for n, _ in columns(RequestFacts)], [_TYPES[t] for _, t in columns(RequestFacts)])
"""What the parse stage hands to SQL: `RequestFacts`, field by field."""
VERSION = Types.ROW([Types.LONG(), Types.PICKLED_BYTE_ARRAY()])
"""A learner version: its effective time and the pickled `detectors.learner.Version`."""
DECISION = Types.ROW_NAMED(["k", "v", "ts"], [Types.STRING(), Types.STRING(), Types.LONG()])
"""Decisions as rows: Kafka key (`subject_type:subject`), v1 JSON (null for a tombstone), event time."""
END_OF_INPUT = 9223372036854775807
"""Long.MAX_VALUE: the watermark at the end of a bounded input."""
LEARNER_KEY = 0


def keyed(stream: DataStream, key_type: Any, value_type: Any) -> KeyedStream:
    """A stream of `(key, value)` rows as a `KeyedStream` of the values, partitioned on the key.

    This is what PyFlink's `key_by` builds after running the key selector in a Python step of
    its own; here the upstream operator (or the SQL query) already wrote the key, so that step
    and its crossing between the JVM and Python are saved.
    """
    j_selector = get_gateway().jvm.KeyByKeySelector()
    j_keyed = stream._j_data_stream.keyBy(j_selector, Types.ROW([key_type]).get_java_type_info())
    return KeyedStream(j_keyed, value_type, stream)


def out(key: Any, record: Any) -> Row:
    """A record of `detectors.pipeline` (it has a `rowtime`) as a `KEYED` row for the operator keyed by `key`."""
    return Row(key, Row(record.rowtime, pickle.dumps(record), None))


def observations(rowtime: int, batch: list[Any]) -> Row:
    """Learner observations of one row time as one `LEARN` row: a pickled list, one crossing for all of them."""
    return Row(LEARNER_KEY, Row(rowtime, pickle.dumps(batch), None))


def unbatch(payload: bytes) -> list[Any]:
    """The observations of a `LEARN` payload (a checkpoint taken before batching holds one per payload)."""
    batch = pickle.loads(payload)
    return batch if isinstance(batch, list) else [batch]


def dead_letter(source: str, where: dict[str, Any], reason: str, raw: str) -> str:
    """A dead-letter record: where the input came from, why it was rejected, and the raw line."""
    return orjson.dumps({"source": source, **where, "reason": reason, "raw": raw}).decode()


def _ttl(descriptor: Any, ttl_ms: int | None) -> Any:
    if ttl_ms:
        ttl = (
            StateTtlConfig.new_builder(Time.milliseconds(ttl_ms))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
            # Background cleanup, spelled out: PyFlink builds the default RocksDB strategy's 30-day compaction
            # period through its Py4J gateway whenever background cleanup is on, and a task manager in thread
            # mode has no gateway (the operator fails to open on a cluster). Its Java side reads only the entry
            # count, so the period is a placeholder.
            .disable_cleanup_in_background()
            .cleanup_incrementally(5, False)
            .cleanup_in_rocksdb_compact_filter(1000, Duration(None))
            .build()
        )  # this visibility keeps the Python state read cache on (FLINK-24105)
        descriptor.enable_time_to_live(ttl)
    return descriptor


class InMemory:
    """Keyed state of a job that takes no checkpoints (the embedded run over files): the calls of Flink's
    `ValueState` (`value`, `update`, `clear`) or `MapState` (`get`, `put`, `remove`), on a dict in the
    operator's memory, for the key set with `at`. Flink's heap state would hold no more there, but in thread mode
    each of its calls is a call into the JVM."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.key: Any = None

    def at(self, key: Any) -> InMemory:
        self.key = key
        return self

    def value(self) -> Any:
        return self.data.get(self.key)

    def update(self, value: Any) -> None:
        self.data[self.key] = value

    def clear(self) -> None:
        self.data.pop(self.key, None)

    def get(self, k: Any) -> Any:
        return self.data.get((self.key, k))

    def put(self, k: Any, value: Any) -> None:
        self.data[(self.key, k)] = value

    def remove(self, k: Any) -> None:
        self.data.pop((self.key, k), None)


# -- parse ---------------------------------------------------------------------------------------------------


class ParseFileLines(ProcessFunction):
    """Parses the lines of one file, in order, into `RequestFacts` rows; bad or late lines go to `DEAD_LETTER`.

    Runs at parallelism 1 right behind the file's source, so counting elements gives line numbers.
    """

    def __init__(self, source: str, config: Config) -> None:
        self.source, self.config = source, config

    def open(self, runtime_context: RuntimeContext) -> None:
        self.reader = LineReader.for_config(self.config)
        self.routes, self.declares = self.config.routes, declares(self.config)

    def process_element(self, line: str, ctx: ProcessFunction.Context) -> Any:
        try:
            event = self.reader.feed(line)
        except BadEvent as exc:
            yield DEAD_LETTER, dead_letter(self.source, {"line": self.reader.line_no}, str(exc), line)
            return
        if event is not None:
            yield Row(*facts(event, self.routes, self.declares))


class ParseVerdictLines(ProcessFunction):
    """Parses the lines of a verdicts file into scorer rows (keyed by subject) and, on `LEARN`, learner
    observations; bad lines go to `DEAD_LETTER`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def open(self, runtime_context: RuntimeContext) -> None:
        self.line_no = 0

    def process_element(self, line: str, ctx: ProcessFunction.Context) -> Any:
        self.line_no += 1
        if line.strip():
            yield from _verdict(line, self.source, {"line": self.line_no})


class ParseVerdictMessages(ProcessFunction):
    """Parses `verdicts` messages (value, partition, offset) like `ParseVerdictLines`.

    A verdict takes effect at its event time `ts`, in order with the access logs, when it
    arrives within the out-of-orderness; a later one takes effect at the next watermark.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def process_element(self, message: Row, ctx: ProcessFunction.Context) -> Any:
        yield from _verdict(message[0] or "", self.source, {"partition": message[1], "offset": message[2]})


def _verdict(line: str, source: str, where: dict[str, Any]) -> Any:
    try:
        v = parse_verdict(line)
    except BadEvent as exc:
        yield DEAD_LETTER, dead_letter(source, where, str(exc), line)
        return
    yield out(f"{v.subject_type}:{v.subject}", verdict_row(v))
    yield LEARN, observations(v.ts, [verdict_observation(v)])


# -- step 3: rolling state -----------------------------------------------------------------------------------


class Behave(KeyedProcessFunction):
    """A subject's minute summaries (in minute order) through its rolling state (`detectors.pipeline.Behave`).

    Scorer rows go out keyed by `subject_type:subject`, learner observations on `LEARN`, rows
    for coordination on `GROUP` keyed by `<layer name>|<group>` (`detectors.pipeline.groupings`).

    Its state is Flink keyed state when the job takes checkpoints (`durable`), else `InMemory`. Without
    checkpoints it also holds the learner observations of a row time in memory and sends them as one `LEARN` row
    when the watermark passes it (a timer), after every minute of that row time: a crossing per minute, not per
    observation. With checkpoints each row's observations go at once, as a snapshot would not hold them.
    """

    def __init__(self, config: Config, kind: str, state_ttl_ms: int | None = None, durable: bool = True) -> None:
        self.config, self.kind, self.state_ttl_ms, self.durable = config, kind, state_ttl_ms, durable

    def open(self, runtime_context: RuntimeContext) -> None:
        self.step = BehaveStep(self.config, self.kind)
        self.read = RowReader(SUMMARIES[self.kind][0])
        descriptor = ValueStateDescriptor("behaviour", Types.PICKLED_BYTE_ARRAY())
        self.state = runtime_context.get_state(_ttl(descriptor, self.state_ttl_ms)) if self.durable else InMemory()
        self.learn: dict[int, list[Any]] = {}  # without checkpoints: observations by row time, until its timer

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Any:
        minute = self.read(row)
        if not self.durable:
            self.state.at(minute.subject)  # the operator's key
        state = self.state.value() or self.step.new_state()
        routed = self.step.step(state, minute)
        self.state.update(state)
        for r in routed.score:
            yield out(f"{r.subject_type}:{r.subject}", r)
        if routed.learn and self.durable:
            yield LEARN, observations(routed.learn[0].rowtime, routed.learn)
        elif routed.learn:
            rowtime = routed.learn[0].rowtime  # a minute's rows all have its row time
            if rowtime not in self.learn:
                self.learn[rowtime] = []
                ctx.timer_service().register_event_time_timer(rowtime)
            self.learn[rowtime] += routed.learn
        for key, row in routed.group:
            yield GROUP, out(key, row)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Any:
        yield LEARN, observations(timestamp, self.learn.pop(timestamp))


# -- step 4: the learner -------------------------------------------------------------------------------------


class Learn(KeyedProcessFunction):
    """The learner (`detectors.learner`): every observation, at parallelism 1 under one key; it learns them in
    canonical order at the watermark and publishes a version at each epoch boundary it passes.

    The learner is written to keyed state once per epoch, with its version; the observations
    learned since are kept (`learned`), so a restored job replays them and learns exactly what an
    uninterrupted one did. It may be warm-started from a model file and is written to `model_out`
    at the end of a bounded input.
    """

    def __init__(self, config: Config, model: str | None = None, model_out: str | None = None) -> None:
        self.config, self.model, self.model_out = config, model, model_out

    def open(self, runtime_context: RuntimeContext) -> None:
        self.pending = runtime_context.get_list_state(ListStateDescriptor("pending", BYTES))
        self.learned = runtime_context.get_list_state(ListStateDescriptor("learned", BYTES))
        self.state = runtime_context.get_state(ValueStateDescriptor("learner", Types.PICKLED_BYTE_ARRAY()))
        self.learner: Learner | None = None
        self.timers = Timers()

    def _learner(self) -> Learner:
        if self.learner is None:
            self.learner = self.state.value() or start_learner(self.config, self.model)
            for payload in self.learned.get() or []:  # after a restore: what was learned since the snapshot
                for o in unbatch(payload):
                    learn(self.learner, o)
        return self.learner

    def process_element(self, item: Row, ctx: KeyedProcessFunction.Context) -> Any:
        rowtime, payload = item[0], item[1]
        self.pending.add(payload)  # an append: the list is read once, at the watermark
        self.timers.register(ctx, rowtime - rowtime % 1000 + 999)
        self.timers.register(ctx, epoch_end(rowtime))
        if self.model_out:
            self.timers.register(ctx, END_OF_INPUT)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Any:
        self.timers.fired(timestamp)
        learner = self._learner()
        if timestamp == END_OF_INPUT:
            if self.model_out:
                learner.save(self.model_out)
            return
        if timestamp % EPOCH_MS == 0:
            self.state.update(learner)
            self.learned.clear()
            yield Row(timestamp, learner.published(timestamp))
            return
        pending = [(p, unbatch(p)) for p in self.pending.get() or []]  # a payload's observations share a row time
        due = sorted((o for _, batch in pending if batch[0].rowtime <= timestamp for o in batch), key=Observation.order)
        self.pending.update([p for p, batch in pending if batch[0].rowtime > timestamp])
        for o in due:
            learn(learner, o)
        if due:
            self.learned.add(pickle.dumps(due))


def start_learner(config: Config, model: str | None) -> Learner:
    """The learner as a run starts: fresh, or warm-started from a model file."""
    learner = Learner(config)
    if model:
        learner.load(model)
    return learner


def hold(pending: Any, item: Row, ctx: Any) -> None:
    """Keep an `ITEM`'s record (pickled, or a counted request's JSON) in map state under the second of its row
    time, with a timer for the end of that second."""
    rowtime, payload = item[0], item[1] if item[1] is not None else item[2]
    second = rowtime - rowtime % 1000
    held = pending.get(second)
    pending.put(second, [*(held or []), payload])
    if held is None:
        ctx.timer_service().register_event_time_timer(second + 999)


def take(pending: Any, timestamp: int) -> list[Any]:
    """The records held for the second that ends at `timestamp` (a timer of `hold`), removed from state."""
    held = pending.get(timestamp - 999) or []
    pending.remove(timestamp - 999)
    return held


class Timers:
    """Event-time timers of one key (the learner's), each registered once: Flink keeps one timer per key and time
    anyway, so a repeat is only a call into the JVM. After a restore the set starts empty and a timer is
    registered again, which Flink ignores."""

    def __init__(self) -> None:
        self.registered: set[int] = set()

    def register(self, ctx: Any, timestamp: int) -> None:
        if timestamp not in self.registered:
            self.registered.add(timestamp)
            ctx.timer_service().register_event_time_timer(timestamp)

    def fired(self, timestamp: int) -> None:
        self.registered.discard(timestamp)


# -- step 5: coordination ------------------------------------------------------------------------------------


class Group(KeyedProcessFunction):
    """One group's rows (a cohort of accounts or a block of ids, keyed as `Behave` says), taken in canonical order
    at the watermark through its coordination state; each member it flags gets a scorer row keyed by its subject."""

    def __init__(self, config: Config, state_ttl_ms: int | None = None) -> None:
        self.config, self.state_ttl_ms = config, state_ttl_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.pending = runtime_context.get_map_state(
            MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
        )
        self.state = runtime_context.get_state(
            _ttl(ValueStateDescriptor("cohort", Types.PICKLED_BYTE_ARRAY()), self.state_ttl_ms)
        )

    def process_element(self, item: Row, ctx: KeyedProcessFunction.Context) -> Any:
        hold(self.pending, item, ctx)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Any:
        rows = [pickle.loads(p) for p in take(self.pending, timestamp)]
        layer = self.state.value() or grouping(self.config, ctx.get_current_key())
        for hit in group(layer, sorted(rows, key=ScorerRow.order)):
            yield out(f"{hit.subject_type}:{hit.subject}", hit)
        self.state.update(layer)


# -- step 6: scoring and decisions ---------------------------------------------------------------------------


VERSIONS = MapStateDescriptor("versions", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
"""Broadcast state of the scorer: pickled versions by effective time, and under `_INDEX` the effective times
(entries are read by key only, which both Python execution modes offer)."""
_INDEX = -1


class ScoreAndDecide(KeyedBroadcastProcessFunction):
    """A subject's scorer rows (keyed by `subject_type:subject`), buffered and taken in canonical order at the
    watermark, a row time at a time: assessed with the learner's version in force then, and put through
    the subject's policy state (`detectors.pipeline.Score`). Versions arrive on the broadcast input."""

    def __init__(
        self,
        config: Config,
        model: str | None = None,
        state_ttl_ms: int | None = None,
        tombstones: bool = False,
        durable: bool = True,
    ) -> None:
        self.config, self.model, self.state_ttl_ms, self.tombstones = config, model, state_ttl_ms, tombstones
        self.durable = durable

    def open(self, runtime_context: RuntimeContext) -> None:
        self.step = Score(self.config)
        self.limits = {t: Limits(self.config, t) for t in ("account", "ip")}
        if self.durable:
            self.pending = runtime_context.get_map_state(
                MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
            )
            self.policy = runtime_context.get_state(
                _ttl(ValueStateDescriptor("policy", Types.PICKLED_BYTE_ARRAY()), self.state_ttl_ms)
            )
        else:
            self.pending, self.policy = InMemory(), InMemory()
        self.versions: dict[int, Version] = {}
        self.index: list[int] | None = None
        self.first: Version | None = None
        self.fired = -(2**63)  # the latest timer fired in this instance: the watermark has reached it

    def process_element(self, item: Row, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext) -> Any:
        hold(self.pending if self.durable else self.pending.at(ctx.get_current_key()), item, ctx)

    def process_broadcast_element(self, version: Row, ctx: KeyedBroadcastProcessFunction.Context) -> None:
        """Keep a version until a timer a second past its successor's effective time has fired here: rows are taken
        at the end of their second, so no row left to take can need it then. (The learner may run far ahead of
        a scorer, for instance while one of the scorer's other inputs has no watermark yet. In thread mode this
        context has no watermark, hence the timers.)"""
        state = ctx.get_broadcast_state(VERSIONS)
        index = sorted({*self._index(lambda: state), version[0]})
        state.put(version[0], version[1])
        while len(index) > 1 and index[1] <= self.fired - 1000:
            state.remove(index[0])
            self.versions.pop(index.pop(0), None)
        self.index = index
        state.put(_INDEX, pickle.dumps(self.index))

    def _index(self, broadcast: Callable[[], Any]) -> list[int]:
        if self.index is None:
            stored = broadcast().get(_INDEX)
            self.index = pickle.loads(stored) if stored is not None else []
        return self.index

    def on_timer(self, timestamp: int, ctx: KeyedBroadcastProcessFunction.OnTimerContext) -> Any:
        self.fired = max(self.fired, timestamp)
        if not self.durable:
            key = ctx.get_current_key()
            self.pending.at(key)
            self.policy.at(key)
        held = take(self.pending, timestamp) if timestamp % 1000 == 999 else []
        rows = sorted(filter(None, map(self._row, held)), key=ScorerRow.order)
        state = self.policy.value() or self.step.policy.new_state()
        broadcast = partial(ctx.get_broadcast_state, VERSIONS)  # fetched only when a version is not cached
        start, decided = 0, False
        while start < len(rows):
            end = start
            while end < len(rows) and rows[end].rowtime == rows[start].rowtime:
                end += 1
            version = self._version(broadcast, rows[start].rowtime)
            for decision in self.step.run(version, state, rows[start:end]):
                decided = True
                yield Row(decision.key, decision.to_bytes().decode(), decision.event_time)
            start = end
        if not self.tombstones:
            if decided or rows:
                self.policy.update(state)
            return
        key = ctx.get_current_key()
        if decided:
            ctx.timer_service().register_event_time_timer(state.lapses_at)
            ctx.timer_service().register_event_time_timer(self.step.policy.forget_at(state))
        ended = ctx.timer_service().current_watermark() == END_OF_INPUT  # a bounded input ended; time did not pass
        if state.lapses_at == timestamp and not decided and not ended:
            yield Row(key, None, timestamp)  # the last decision lapsed or was lifted: compaction may forget the key
        if state.lapses_at and timestamp >= self.step.policy.forget_at(state) and not decided:
            self.policy.clear()  # nothing left to remember of this subject
        elif decided or rows:
            self.policy.update(state)

    def _row(self, record: bytes | str) -> ScorerRow | None:
        """A held record as a scorer row; a counted request is one if a short-window rule hits."""
        if isinstance(record, bytes):
            return pickle.loads(record)  # type: ignore[no-any-return]
        subject_type, *counted = orjson.loads(record)
        return self.limits[subject_type].counted_row(counted)

    def _version(self, broadcast: Callable[[], Any], rowtime: int) -> Version:
        """The newest version effective at `rowtime` (the learner as the run started, before any)."""
        effective = [k for k in self._index(broadcast) if k <= rowtime]
        if not effective:
            if self.first is None:
                self.first = start_learner(self.config, self.model).version(FIRST)
            return self.first
        newest = effective[-1]
        version = self.versions.get(newest)
        if version is None:
            version = self.versions[newest] = pickle.loads(broadcast().get(newest))
        return version


__all__ = [
    "DEAD_LETTER",
    "DECISION",
    "GROUP",
    "KEYED",
    "LEARN",
    "REQUEST",
    "VERSION",
    "Behave",
    "Group",
    "Learn",
    "ParseFileLines",
    "ParseVerdictLines",
    "ParseVerdictMessages",
    "ScoreAndDecide",
    "format_ms",
    "keyed",
    "parse_line",
]
