"""Analysts' verdicts: validated, written to the `verdicts` topic (or the embedded mode's verdicts file) and to the
append-only audit log, in one step that either completes or changes nothing.

A verdict is a v1 verdict (`schemas/verdict.v1.json`) per subject. `confirm` and `dismiss` are labels the
detector acts on and learns from (`dismiss` makes it send `unblock`); `escalate` hands the case to
someone senior and only records that. A verdict takes effect at the console's event time
(`settings.REVIEW_CLOCK`), so that it lands where the detector is in the stream, for replays too.
"""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from detectors.events import format_ms
from detectors.verdicts import SUBJECT_TYPES
from review.access import role_of
from review.models import IN_QUEUE, AllowlistRequest, AuditEntry, Case, DecisionRecord, Event, Member

VERDICTS = ("confirm", "dismiss", "escalate")
FINAL = ("confirm", "dismiss")
MAX_NOTE = 2000


class VerdictError(ValueError):
    """A verdict that cannot be given; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class SinkError(RuntimeError):
    """The verdicts could not be written where the detector reads them; nothing was recorded."""


class FileSink:
    """Appends verdicts to a JSON Lines file (the one `scrapeguard run --verdicts` reads), locked and synced."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.destination = f"file:{self.path}"

    def send(self, messages: list[dict[str, Any]]) -> None:
        data = b"".join(orjson.dumps(m) + b"\n" for m in messages)
        try:
            with open(self.path, "ab") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise SinkError(f"verdicts file {self.path}: {exc.strerror}") from None


class KafkaSink:
    """Sends verdicts to the `verdicts` topic in one Kafka transaction (all of a bulk verdict, or none), keyed
    `subject_type:subject`, with the verdict's event time as the Kafka timestamp."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap, self.topic = bootstrap, prefix + "verdicts"
        self.destination = f"kafka:{self.topic}"
        self.lock = threading.Lock()
        self.producer: Any = None

    def _producer(self) -> Any:
        if self.producer is None:
            from kafka import KafkaProducer

            self.producer = KafkaProducer(
                bootstrap_servers=self.bootstrap,
                transactional_id=f"scrapeguard-review-{self.topic}",
                enable_idempotence=True,
                acks="all",
                max_block_ms=15_000,
            )
            self.producer.init_transactions()
        return self.producer

    def send(self, messages: list[dict[str, Any]]) -> None:
        from kafka.errors import KafkaError

        with self.lock:
            try:
                producer = self._producer()
                producer.begin_transaction()
                try:
                    for m in messages:
                        producer.send(
                            self.topic,
                            key=f"{m['subject_type']}:{m['subject']}".encode(),
                            value=orjson.dumps(m),
                            timestamp_ms=m["ts"] if isinstance(m["ts"], int) else None,
                        )
                    producer.commit_transaction()
                except Exception:
                    producer.abort_transaction()
                    raise
            except KafkaError as exc:
                self.close()
                raise SinkError(f"verdicts topic {self.topic} at {self.bootstrap}: {exc}") from None

    def close(self) -> None:
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            finally:
                self.producer = None


_sink: FileSink | KafkaSink | None = None
_sink_lock = threading.Lock()


def sink() -> FileSink | KafkaSink:
    """Where verdicts go, as configured (`--bootstrap-servers` or `--verdicts`); one per process."""
    global _sink
    with _sink_lock:
        if _sink is not None:
            return _sink
        if settings.REVIEW_BOOTSTRAP:
            _sink = KafkaSink(settings.REVIEW_BOOTSTRAP, settings.REVIEW_TOPIC_PREFIX)
        elif settings.REVIEW_VERDICTS_FILE:
            _sink = FileSink(settings.REVIEW_VERDICTS_FILE)
        else:
            raise VerdictError("no verdict destination is configured (--bootstrap-servers or --verdicts)", 503)
    return _sink


def console_now() -> int:
    """The event time a verdict takes effect at (epoch ms): see `settings.REVIEW_CLOCK`."""
    wall = int(datetime.now(UTC).timestamp() * 1000)
    if settings.REVIEW_CLOCK == "wall":
        return wall
    newest_event = Event.objects.aggregate(t=Max("ts"))["t"]
    newest_decision = DecisionRecord.objects.aggregate(t=Max("event_time"))["t"]
    times = [t for t in (newest_event, newest_decision and int(newest_decision.timestamp() * 1000)) if t]
    return max(times) if times else wall


@dataclass(frozen=True)
class Request:
    """A verdict as asked for: on which members of the case (all when None), and why."""

    verdict: str
    note: str
    members: list[tuple[str, str]] | None = None
    allowlist: bool = False


def parse_request(data: Any) -> Request:
    """A verdict request from a form or JSON body; `VerdictError` naming the field otherwise."""
    if not isinstance(data, dict):
        raise VerdictError("the body must be a JSON object")
    unknown = set(data) - {"verdict", "note", "members", "allowlist"}
    if unknown:
        raise VerdictError(f"unknown field(s): {', '.join(sorted(unknown))}")
    verdict, note = data.get("verdict"), data.get("note")
    if verdict not in VERDICTS:
        raise VerdictError(f"field 'verdict' must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if not isinstance(note, str) or not note.strip():
        raise VerdictError("field 'note' is required: say why (it goes to the audit log)")
    if len(note) > MAX_NOTE:
        raise VerdictError(f"field 'note' is {len(note)} characters, over the limit of {MAX_NOTE}")
    allowlist = data.get("allowlist", False)
    if not isinstance(allowlist, bool):
        raise VerdictError("field 'allowlist' must be true or false")
    if allowlist and verdict != "dismiss":
        raise VerdictError("field 'allowlist' is only for a dismiss")
    members = data.get("members")
    if members is not None:
        if not isinstance(members, list) or not members:
            raise VerdictError("field 'members' must be a non-empty list of 'subject_type:subject' strings")
        parsed = []
        for m in members:
            if not isinstance(m, str) or m.split(":", 1)[0] not in SUBJECT_TYPES or ":" not in m:
                raise VerdictError(
                    f"field 'members': {m!r} is not 'account:<id>', 'ip:<address>', 'network:<range>' or 'path:<path>'"
                )
            subject_type, subject = m.split(":", 1)
            parsed.append((subject_type, subject))
        members = parsed
    return Request(verdict, note.strip(), members, allowlist)


def judge(case_id: int, request: Request, user: Any) -> list[AuditEntry]:
    """Give the verdict on the case's members: send it, record it, update the case. All or nothing."""
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise VerdictError(f"case {case_id} does not exist", 404)
        if case.status not in IN_QUEUE:
            raise VerdictError(f"case {case_id} is {case.status}; only open or escalated cases take verdicts", 409)
        all_members = {(m.subject_type, m.subject): m for m in case.members.all()}
        chosen = request.members if request.members is not None else sorted(all_members)
        missing = [f"{t}:{s}" for t, s in chosen if (t, s) not in all_members]
        if missing:
            raise VerdictError(f"field 'members': not in case {case_id}: {', '.join(missing[:5])}")
        if request.allowlist and any(t == "path" for t, _ in chosen):
            raise VerdictError("field 'allowlist': the access path is no client and cannot be allowlisted")
        if request.verdict == "escalate" and case.status == "escalated":
            raise VerdictError(f"case {case_id} is already escalated", 409)
        destination = sink()
        ts, role, analyst = console_now(), role_of(user) or "", user.get_username()
        entries, messages = [], []
        for subject_type, subject in dict.fromkeys(chosen):
            latest = (
                DecisionRecord.objects.filter(subject_type=subject_type, subject=subject)
                .order_by("-event_time")
                .values_list("decision_id", flat=True)
                .first()
            )
            message = {
                "ts": ts,
                "subject_type": subject_type,
                "subject": subject,
                "verdict": request.verdict,
                "verdict_id": str(uuid.uuid4()),
                "analyst": analyst,
                "role": role,
                "note": request.note,
                "case_id": str(case.pk),
                "at": format_ms(int(datetime.now(UTC).timestamp() * 1000)),
                **({"decision_id": latest} if latest else {}),
                **({"group": case.key} if case.is_group else {}),
                **({"allowlist": True} if request.allowlist else {}),
            }
            messages.append(message)
            entries.append(
                AuditEntry.objects.create(
                    analyst=analyst,
                    role=role,
                    case=case,
                    verdict=request.verdict,
                    subject_type=subject_type,
                    subject=subject,
                    ts=ts,
                    note=request.note,
                    allowlist=request.allowlist,
                    verdict_id=message["verdict_id"],
                    destination=destination.destination,
                    message=message,
                )
            )
            Member.objects.filter(case=case, subject_type=subject_type, subject=subject).update(verdict=request.verdict)
            if request.allowlist:
                AllowlistRequest.objects.create(
                    analyst=analyst,
                    case=case,
                    subject_type=subject_type,
                    subject=subject,
                    note=request.note,
                    verdict_id=message["verdict_id"],
                )
        _close_if_judged(case, request.verdict)
        try:
            destination.send(messages)
        except SinkError as exc:
            raise VerdictError(f"not recorded: {exc}", 502) from None
        return entries


def _close_if_judged(case: Case, verdict: str) -> None:
    final = list(case.members.values_list("verdict", flat=True))
    if final and all(v in FINAL for v in final):
        case.status = "confirmed" if "confirm" in final else "dismissed"
        case.closed_at = datetime.now(UTC)
    elif verdict == "escalate":
        case.status = "escalated"
    case.save(update_fields=["status", "closed_at"])
