"""Flink operators that adapt the plain-Python detectors: parsing and decisions."""

from __future__ import annotations

from typing import Any

import orjson
from pyflink.common import Row, Types
from pyflink.common.time import Time
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import FlatMapFunction, KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor, StateTtlConfig, ValueStateDescriptor

from detectors.assess import Assessor
from detectors.config import Config
from detectors.engine import Row as EngineRow
from detectors.engine import assess_row, build_detectors, decide, route, verdict_row
from detectors.events import AccessEvent, BadEvent, LineReader, format_ms, parse_line
from detectors.features.behaviour import AccountBehaviour, AddressBehaviour
from detectors.features.minutes import MINUTE_MS, SCRIPTED, AccountMinute, AddressMinute
from detectors.features.profile_views import account_age
from detectors.features.request import facts
from detectors.policy import DecisionPolicy
from detectors.verdicts import parse_verdict

DEAD_LETTER = OutputTag("dead-letter", Types.STRING())


def dead_letter(source: str, where: dict[str, Any], reason: str, raw: str) -> str:
    """A dead-letter record: where the input came from, why it was rejected, and the raw line."""
    return orjson.dumps({"source": source, **where, "reason": reason, "raw": raw}).decode()


class _Requests:
    """Turns access events into request rows (`jobs.features_sql.REQUEST_ROW`)."""

    def __init__(self, source: str, config: Config) -> None:
        self.source, self.config = source, config

    def open(self, runtime_context: RuntimeContext) -> None:
        self.reader = LineReader.for_config(self.config)

    def request_row(self, event: AccessEvent) -> Row:
        request = route(event, self.config.routes)
        f = facts(event, request.action, request.target, self.config.routes)
        logged_out_view = event.account_id is None and request.action == "profile_view"
        return Row(
            event.ts, event.account_created_at, event.account_id, request.is_foreign_profile_view, event.ip,
            logged_out_view, f.network, f.target, f.not_found, f.static, f.nav, f.noref, f.ua in SCRIPTED,
            f.ua == "browser", f.ua == "crawler", f.user_agent,
        )  # fmt: skip


class ParseFileLines(_Requests, ProcessFunction):
    """Parses the lines of one file, in order, into request rows; bad or late lines go to `DEAD_LETTER`.

    Runs at parallelism 1 right behind the file's source, so counting elements gives line numbers.
    """

    def process_element(self, line: str, ctx: ProcessFunction.Context) -> Any:
        try:
            event = self.reader.feed(line)
        except BadEvent as exc:
            yield DEAD_LETTER, dead_letter(self.source, {"line": self.reader.line_no}, str(exc), line)
            return
        if event is not None:
            yield self.request_row(event)


class ParseMessages(_Requests, KeyedProcessFunction):
    """Parses Kafka messages (value, partition, offset), keyed by partition, into request rows; bad or late ones go
    to `DEAD_LETTER`.

    Late means more than the out-of-orderness behind the latest event time of the partition (kept in
    keyed state, so it survives restarts): the same rule as per file in the file job, and independent
    of how partitions interleave. An event behind the watermark is late too (possible only after its
    partition was idle): downstream event-time windows would drop it silently.
    """

    def open(self, runtime_context: RuntimeContext) -> None:
        super().open(runtime_context)
        self.latest = runtime_context.get_state(ValueStateDescriptor("latest_ts", Types.LONG()))

    def process_element(self, message: Row, ctx: KeyedProcessFunction.Context) -> Any:
        value, partition, offset = message[0], message[1], message[2]
        where = {"partition": partition, "offset": offset}
        try:
            if not value or not value.strip():
                raise BadEvent("empty message")
            event = parse_line(value, self.reader.max_bytes)
            guard, previous = self.reader.guard, self.latest.value()
            guard.latest = previous
            late = guard.check(event.ts)
            watermark = ctx.timer_service().current_watermark()
            if late is None and event.ts <= watermark:
                late = self.late(event.ts, watermark, ctx.timestamp())
            if late:
                raise BadEvent(late)
        except BadEvent as exc:
            yield DEAD_LETTER, dead_letter(self.source, where, str(exc), value or "")
            return
        if guard.latest != previous:
            self.latest.update(guard.latest)
        yield self.request_row(event)

    def late(self, ts: int, watermark: int, kafka_ts: int) -> str:
        lag = self.reader.guard.lag
        reason = (
            f"late: event time {format_ms(ts)} is at or behind the watermark {format_ms(watermark)}; "
            f"the allowed out-of-orderness is {lag / 1000:g} s ([time] out_of_orderness)"
        )
        if kafka_ts - ts > lag:
            reason += (
                f"; its Kafka timestamp is {(kafka_ts - ts) / 1000:g} s after its event time: "
                "producers must set the Kafka timestamp to the event time"
            )
        return reason


class ParseVerdictLines(ProcessFunction):
    """Parses the lines of a verdicts file into assessor rows; bad lines go to `DEAD_LETTER`."""

    def __init__(self, source: str, config: Config) -> None:
        self.source = source

    def open(self, runtime_context: RuntimeContext) -> None:
        self.line_no = 0

    def process_element(self, line: str, ctx: ProcessFunction.Context) -> Any:
        self.line_no += 1
        if not line.strip():
            return
        try:
            v = parse_verdict(line)
        except BadEvent as exc:
            yield DEAD_LETTER, dead_letter(self.source, {"line": self.line_no}, str(exc), line)
            return
        yield Row(v.ts, verdict_row(v))


class ParseVerdictMessages(ProcessFunction):
    """Parses `verdicts` messages (value, partition, offset) into assessor rows; bad ones go to `DEAD_LETTER`.

    A verdict takes effect at its event time `ts`, in order with the access logs, when it
    arrives within the out-of-orderness; a later one takes effect at the next watermark.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def process_element(self, message: Row, ctx: ProcessFunction.Context) -> Any:
        value = message[0] or ""
        try:
            v = parse_verdict(value)
        except BadEvent as exc:
            yield (
                DEAD_LETTER,
                dead_letter(self.source, {"partition": message[1], "offset": message[2]}, str(exc), value),
            )
            return
        yield Row(v.ts, verdict_row(v))


class RowTime(TimestampAssigner):
    """Event time of a request row: its `ts`."""

    def extract_timestamp(self, value: Row, record_timestamp: int) -> int:
        return int(value[0])


ENGINE_ROW = Types.ROW_NAMED(["rowtime", "row"], [Types.LONG(), Types.PICKLED_BYTE_ARRAY()])
"""An assessor input: its row time and the `detectors.engine.Row`."""
ASSESSMENT = Types.ROW_NAMED(["k", "a"], [Types.STRING(), Types.PICKLED_BYTE_ARRAY()])
"""An assessment (`detectors.assess.Assessment`) keyed by `subject_type:subject`."""
DECISION = Types.ROW_NAMED(["k", "v", "ts"], [Types.STRING(), Types.STRING(), Types.LONG()])
"""Decisions as rows: Kafka key (`subject_type:subject`), v1 JSON, event time."""
END_OF_INPUT = 9223372036854775807
"""Long.MAX_VALUE: the watermark at the end of a bounded input."""


def _ttl(descriptor: Any, ttl_ms: int | None) -> Any:
    if ttl_ms:
        descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.milliseconds(ttl_ms)).build())
    return descriptor


class LimitHits(FlatMapFunction):
    """A rate-limit candidate row (from the SQL OVER windows) to an assessor row, when some rate rule hits."""

    def __init__(self, config: Config, subject_type: str) -> None:
        self.config, self.subject_type = config, subject_type

    def open(self, runtime_context: RuntimeContext) -> None:
        self.detector = next(d for d in build_detectors(self.config) if d.subject_type == self.subject_type)
        self.labels = list(self.detector.windows)

    def flat_map(self, row: Row) -> Any:
        subject, ts, created_at, first_seen, *counts = row
        features: dict[str, Any] = {f"profile_views_{label}": n for label, n in zip(self.labels, counts, strict=True)}
        if self.subject_type == "account":
            features.update(account_age(ts, created_at, first_seen))
        hits = self.detector.hits(subject, features)
        if hits:
            yield Row(ts, EngineRow(ts, 0, self.subject_type, subject, ts, features, hits))


class Behave(KeyedProcessFunction):
    """One subject type's minute summaries (keyed by subject, in minute order) to behaviour features; the
    rolling state (`detectors.features.behaviour`) is keyed state."""

    def __init__(self, config: Config, kind: str, state_ttl_ms: int | None = None) -> None:
        self.config, self.kind, self.state_ttl_ms = config, kind, state_ttl_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(
            _ttl(ValueStateDescriptor("behaviour", Types.PICKLED_BYTE_ARRAY()), self.state_ttl_ms)
        )
        self.night = tuple(self.config.section("features", "night_utc_hours"))

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Any:
        account = self.kind == "account"
        minute = AccountMinute(*row) if account else AddressMinute(*row)
        state = self.state.value() or (AccountBehaviour(self.night) if account else AddressBehaviour())
        features = state.update(minute)
        self.state.update(state)
        rowtime = minute.minute + MINUTE_MS - 1
        yield Row(rowtime, EngineRow(rowtime, 1, self.kind, minute.subject, minute.last_ts, features, []))


class Assess(KeyedProcessFunction):
    """The assessor (`detectors.assess.Assessor`): every row of every subject, at parallelism 1 under one key.

    Rows are buffered by row time and taken, at the watermark, in the canonical order of
    `detectors.engine.Row.order`, so the models learn in the same order on every run. The
    assessor (River models included) is keyed state and so in every checkpoint; it may be
    warm-started from a model file and is written to `model_out` at the end of a bounded input.
    """

    def __init__(self, config: Config, model: str | None = None, model_out: str | None = None) -> None:
        self.config, self.model, self.model_out = config, model, model_out

    def open(self, runtime_context: RuntimeContext) -> None:
        self.pending = runtime_context.get_map_state(
            MapStateDescriptor("pending", Types.LONG(), Types.PICKLED_BYTE_ARRAY())
        )
        self.state = runtime_context.get_state(ValueStateDescriptor("assessor", Types.PICKLED_BYTE_ARRAY()))
        self.assessor: Assessor | None = None

    def _assessor(self) -> Assessor:
        if self.assessor is None:
            self.assessor = self.state.value()
            if self.assessor is None:
                self.assessor = Assessor(self.config)
                if self.model:
                    self.assessor.load(self.model)
        return self.assessor

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Any:
        second = row[0] - row[0] % 1000  # buffered per second of row time: fewer timers and state entries
        rows = self.pending.get(second)
        self.pending.put(second, [*(rows or []), row[1]])
        if rows is None:
            ctx.timer_service().register_event_time_timer(second + 999)
            if self.model_out:
                ctx.timer_service().register_event_time_timer(END_OF_INPUT)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Any:
        assessor = self._assessor()
        if timestamp == END_OF_INPUT:
            if self.model_out:
                assessor.save(self.model_out)
            return
        rows = self.pending.get(timestamp - 999) or []
        self.pending.remove(timestamp - 999)
        for item in sorted(rows, key=EngineRow.order):
            a = assess_row(assessor, item)
            if a is not None:
                yield Row(f"{a.subject_type}:{a.subject}", a)
        self.state.update(assessor)


class Decide(KeyedProcessFunction):
    """Assessments of one subject (keyed by `subject_type:subject`, in the assessor's order) to v1 decisions;
    the policy state is keyed state."""

    OUTPUT = DECISION

    def __init__(self, config: Config, state_ttl_ms: int | None = None) -> None:
        self.config, self.state_ttl_ms = config, state_ttl_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.policy = DecisionPolicy(self.config)
        self.state = runtime_context.get_state(
            _ttl(ValueStateDescriptor("policy", Types.PICKLED_BYTE_ARRAY()), self.state_ttl_ms)
        )

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Any:
        a = row[1]
        state = self.state.value() or self.policy.new_state()
        decision = decide(self.policy, state, a)
        self.state.update(state)
        if decision is not None:
            yield Row(decision.key, decision.to_bytes().decode(), decision.event_time)
