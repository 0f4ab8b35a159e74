"""Flink operators that adapt the plain-Python detectors: parsing and decisions."""

from __future__ import annotations

from typing import Any

import orjson
from pyflink.common import Row, Types
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, ProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from detectors.config import Config
from detectors.engine import SubjectDetector, build_detectors, route
from detectors.events import BadEvent, LineReader
from detectors.features.profile_views import account_age

DEAD_LETTER = OutputTag("dead-letter", Types.STRING())


def dead_letter(source: str, where: dict[str, Any], reason: str, raw: str) -> str:
    """A dead-letter record: where the input came from, why it was rejected, and the raw line."""
    return orjson.dumps({"source": source, **where, "reason": reason, "raw": raw}).decode()


class ParseFileLines(ProcessFunction):
    """Parses the lines of one file, in order, into request rows; bad or late lines go to `DEAD_LETTER`.

    Runs at parallelism 1 right behind the file's source, so counting elements gives line numbers.
    """

    def __init__(self, source: str, config: Config) -> None:
        self.source, self.config = source, config

    def open(self, runtime_context: RuntimeContext) -> None:
        self.reader = LineReader.for_config(self.config)
        self.detectors = {d.subject_type: d for d in build_detectors(self.config)}

    def process_element(self, line: str, ctx: ProcessFunction.Context) -> Any:
        try:
            event = self.reader.feed(line)
        except BadEvent as exc:
            yield DEAD_LETTER, dead_letter(self.source, {"line": self.reader.line_no}, str(exc), line)
            return
        if event is None:
            return
        request = route(event, self.config.routes)
        keys: list[Any] = []
        for kind in ("account", "ip"):
            det = self.detectors.get(kind)
            subject = det.subject_of(request) if det else None
            keys += [subject, subject is not None and det is not None and det.counts(request)]
        yield Row(event.ts, event.account_created_at, *keys)


class RowTime(TimestampAssigner):
    """Event time of a request row: its `ts`."""

    def extract_timestamp(self, value: Row, record_timestamp: int) -> int:
        return int(value[0])


class DecideSubject(KeyedProcessFunction):
    """Turns one subject type's candidate feature rows into decisions; the policy state is keyed state.

    Rows of one subject arrive in event-time order (from the SQL OVER windows), so
    the decisions match the reference run `detectors.engine.detect`.
    """

    def __init__(self, config: Config, subject_type: str) -> None:
        self.config, self.subject_type = config, subject_type

    def open(self, runtime_context: RuntimeContext) -> None:
        self.detector: SubjectDetector = next(
            d for d in build_detectors(self.config) if d.subject_type == self.subject_type
        )
        self.labels = list(self.detector.windows)
        self.state = runtime_context.get_state(ValueStateDescriptor("policy", Types.PICKLED_BYTE_ARRAY()))

    def process_element(self, row: Row, ctx: KeyedProcessFunction.Context) -> Any:
        subject, ts, created_at, first_seen, *counts = row
        features: dict[str, Any] = {f"profile_views_{label}": n for label, n in zip(self.labels, counts, strict=True)}
        if self.subject_type == "account":
            features.update(account_age(ts, created_at, first_seen))
        state = self.state.value() or self.detector.policy.new_state()
        decision = self.detector.decide(state, subject, ts, features)
        if decision is not None:
            self.state.update(state)
            yield decision.to_bytes().decode()
