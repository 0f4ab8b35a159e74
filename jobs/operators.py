"""Flink operators that adapt the plain-Python detectors: parsing and decisions."""

from __future__ import annotations

from typing import Any

import orjson
from pyflink.common import Row, Types
from pyflink.common.time import Time
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from detectors.config import Config
from detectors.engine import SubjectDetector, build_detectors, route
from detectors.events import AccessEvent, BadEvent, LineReader, format_ms, parse_line
from detectors.features.profile_views import account_age

DEAD_LETTER = OutputTag("dead-letter", Types.STRING())


def dead_letter(source: str, where: dict[str, Any], reason: str, raw: str) -> str:
    """A dead-letter record: where the input came from, why it was rejected, and the raw line."""
    return orjson.dumps({"source": source, **where, "reason": reason, "raw": raw}).decode()


class _Requests:
    """Turns access events into request rows: event time, account creation time, and per subject type its key
    and whether the request counts."""

    def __init__(self, source: str, config: Config) -> None:
        self.source, self.config = source, config

    def open(self, runtime_context: RuntimeContext) -> None:
        self.reader = LineReader.for_config(self.config)
        self.detectors = {d.subject_type: d for d in build_detectors(self.config)}

    def request_row(self, event: AccessEvent) -> Row:
        request = route(event, self.config.routes)
        keys: list[Any] = []
        for kind in ("account", "ip"):
            det = self.detectors.get(kind)
            subject = det.subject_of(request) if det else None
            keys += [subject, subject is not None and det is not None and det.counts(request)]
        return Row(event.ts, event.account_created_at, *keys)


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


class RowTime(TimestampAssigner):
    """Event time of a request row: its `ts`."""

    def extract_timestamp(self, value: Row, record_timestamp: int) -> int:
        return int(value[0])


class DecideSubject(KeyedProcessFunction):
    """Turns one subject type's candidate feature rows into decisions; the policy state is keyed state.

    Rows of one subject arrive in event-time order (from the SQL OVER windows), so
    the decisions match the reference run `detectors.engine.detect`.
    """

    OUTPUT = Types.ROW_NAMED(["k", "v", "ts"], [Types.STRING(), Types.STRING(), Types.LONG()])
    """Decisions as rows: Kafka key (`subject_type:subject`), v1 JSON, event time."""

    def __init__(self, config: Config, subject_type: str, state_ttl_ms: int | None = None) -> None:
        self.config, self.subject_type, self.state_ttl_ms = config, subject_type, state_ttl_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        self.detector: SubjectDetector = next(
            d for d in build_detectors(self.config) if d.subject_type == self.subject_type
        )
        self.labels = list(self.detector.windows)
        descriptor = ValueStateDescriptor("policy", Types.PICKLED_BYTE_ARRAY())
        if self.state_ttl_ms:
            descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.milliseconds(self.state_ttl_ms)).build())
        self.state = runtime_context.get_state(descriptor)

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Any:
        subject, ts, created_at, first_seen, *counts = row
        features: dict[str, Any] = {f"profile_views_{label}": n for label, n in zip(self.labels, counts, strict=True)}
        if self.subject_type == "account":
            features.update(account_age(ts, created_at, first_seen))
        state = self.state.value() or self.detector.policy.new_state()
        decision = self.detector.decide(state, subject, ts, features)
        if decision is not None:
            self.state.update(state)
            yield Row(decision.key, decision.to_bytes().decode(), ts)
