"""Reading the detector's output and its input into the console: decisions become cases, events become evidence.

Both are idempotent: a decision is kept once per `decision_id`, an event once per place it was read
(`file:line` or `topic:partition:offset`), so a replay or a restarted feed adds nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Max, Min

from detectors.events import BadEvent, parse_line, parse_timestamp
from detectors.features.request import network_of
from detectors.routes import RouteTable
from detectors.verdicts import SUBJECT_TYPES, subject_problem
from review.grouping import group_of
from review.models import IN_QUEUE, Case, DecisionRecord, Event, Member

RANK = {"throttle": 0, "challenge": 1, "block": 2}
"""Enforcement actions, weakest first; a case's risk is the rank of its strongest action plus its highest score."""
ANALYST_REASONS = frozenset({"analyst_confirmed", "analyst_dismissed"})
"""Reasons of the decisions that follow a verdict: they join the subject's latest case and open none."""
_DECISION_FIELDS = {
    "decision_id": str,
    "subject_type": str,
    "subject": str,
    "action": str,
    "score": (int, float),
    "reasons": list,
    "evidence": dict,
    "event_time": str,
    "emitted_at": str,
    "expires_at": str,
    "detector_version": str,
}


class InputError(ValueError):
    """Input the console cannot read; the message names the input, the place and the reason."""


@dataclass
class Summary:
    """What an ingest did."""

    read: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def line(self, what: str) -> str:
        first = f"; first rejected: {self.reasons[0]}" if self.reasons else ""
        return (
            f"{what}: read {self.read}, added {self.added}, already there {self.duplicates}, "
            f"rejected {self.rejected}{first}"
        )


def check_decision(obj: Any) -> dict[str, Any]:
    """A v1 decision (`schemas/decision.v1.json`), checked field by field; `InputError` with the reason."""
    if isinstance(obj, InputError):  # a line that did not decode
        raise obj
    if not isinstance(obj, dict):
        raise InputError("not a JSON object")
    for name, kind in _DECISION_FIELDS.items():
        if name not in obj:
            raise InputError(f"missing required field '{name}'")
        if not isinstance(obj[name], kind) or isinstance(obj[name], bool):
            raise InputError(f"field '{name}' has the wrong type ({type(obj[name]).__name__})")
    if obj["subject_type"] not in SUBJECT_TYPES:
        raise InputError(f"field 'subject_type' is not one of {', '.join(SUBJECT_TYPES)} ({obj['subject_type']!r})")
    problem = subject_problem(obj["subject_type"], obj["subject"])
    if problem:
        raise InputError(f"field 'subject' {problem} ({obj['subject']!r})")
    if obj["action"] not in (*RANK, "unblock"):
        raise InputError(f"field 'action' is not throttle, challenge, block or unblock ({obj['action']!r})")
    if not obj["subject"] or not obj["reasons"] or not all(isinstance(r, str) for r in obj["reasons"]):
        raise InputError("field 'subject' or 'reasons' is empty")
    if not 0 <= obj["score"] <= 1:
        raise InputError(f"field 'score' is not in [0, 1] ({obj['score']})")
    for name in ("event_time", "emitted_at", "expires_at"):
        try:
            parse_timestamp(obj[name], name)
        except BadEvent as exc:
            raise InputError(str(exc)) from None
    return obj


def ingest_decisions(decisions: Iterable[tuple[str, Any]]) -> Summary:
    """(place, decoded JSON) pairs to cases, in one transaction; invalid ones are counted with the reason."""
    summary = Summary()
    with transaction.atomic():
        for place, obj in decisions:
            summary.read += 1
            try:
                decision = check_decision(obj)
            except InputError as exc:
                summary.rejected += 1
                summary.reasons.append(f"{place}: {exc}")
                continue
            if add_decision(decision):
                summary.added += 1
            else:
                summary.duplicates += 1
        refresh_account_ages()
    return summary


def add_decision(d: dict[str, Any]) -> bool:
    """File one checked decision under its case (see module docstring of `review.grouping`); False if known."""
    if DecisionRecord.objects.filter(decision_id=d["decision_id"]).exists():
        return False
    st, subject = d["subject_type"], d["subject"]
    open_case = _open_case_of(st, subject)
    if d["action"] == "unblock" or set(d["reasons"]) <= ANALYST_REASONS:
        case = open_case or _latest_case_of(st, subject)
    else:
        group = group_of(d)
        if group is not None and (open_case is None or not open_case.is_group):
            case = _group_case(group, st, d)
            if open_case is not None and open_case.pk != case.pk:
                _merge(open_case, case)
        else:
            case = open_case or _new_case("subject", f"{st}:{subject}", f"{st} {subject}", st, subject, d)
        Member.objects.get_or_create(case=case, subject_type=st, subject=subject)
    DecisionRecord.objects.create(
        decision_id=d["decision_id"],
        case=case,
        subject_type=st,
        subject=subject,
        action=d["action"],
        score=float(d["score"]),
        reasons=d["reasons"],
        evidence=d["evidence"],
        event_time=_dt(d["event_time"]),
        expires_at=_dt(d["expires_at"]),
        emitted_at=_dt(d["emitted_at"]),
        detector_version=d["detector_version"],
    )
    if case is not None:
        recompute(case)
    return True


def recompute(case: Case) -> None:
    """A case's queue figures from its decisions and members."""
    rows = list(case.decisions.exclude(action="unblock").values_list("action", "score", "reasons", "evidence"))
    acting = [r for r in rows if not set(r[2]) <= ANALYST_REASONS] or rows
    times = case.decisions.aggregate(first=Min("event_time"), last=Max("event_time"))
    if acting:
        case.action = max((r[0] for r in acting), key=RANK.__getitem__)
        case.score = max(r[1] for r in acting)
        case.risk = RANK[case.action] + case.score
        reasons = sorted({reason for r in rows for reason in r[2]})
        case.reasons = "|" + "".join(f"{r}|" for r in reasons)
        ages = [r[3]["account_age_s"] for r in acting if isinstance(r[3].get("account_age_s"), (int, float))]
        if ages:
            case.account_age_s = min([*ages, *([case.account_age_s] if case.account_age_s is not None else [])])
    case.first_seen, case.last_seen = times["first"] or case.first_seen, times["last"] or case.last_seen
    case.decision_count = case.decisions.count()
    case.member_count = case.members.count()
    case.save()


def refresh_account_ages() -> None:
    """Open account cases without an age: the youngest member's age at the case's first decision, from the events'
    `account_created_at` (decisions carry the age only for the new-account rules)."""
    for case in Case.objects.filter(status__in=IN_QUEUE, subject_type="account", account_age_s__isnull=True):
        members = list(case.members.values_list("subject", flat=True)[:1000])
        created = Event.objects.filter(account_id__in=members, account_created_at__isnull=False).aggregate(
            latest=Max("account_created_at")
        )["latest"]
        if created is not None:
            case.account_age_s = max(0.0, (case.first_seen.timestamp() * 1000 - created) / 1000)
            case.save(update_fields=["account_age_s"])


def ingest_event_lines(lines: Iterable[tuple[str, str | bytes]], routes: RouteTable, batch: int = 2000) -> Summary:
    """(place, raw line) pairs of access events (v1 JSON or combined log) into the evidence store."""
    summary, rows = Summary(), []
    for place, line in lines:
        if not line.strip():
            continue
        summary.read += 1
        try:
            event = parse_line(line)
        except BadEvent as exc:
            summary.rejected += 1
            if len(summary.reasons) < 10:
                summary.reasons.append(f"{place}: {exc}")
            continue
        action, target = routes.classify(event.path)
        ua = event.user_agent
        rows.append(
            Event(
                uid=place,
                ts=event.ts,
                ip=event.ip,
                network=network_of(event.ip),
                account_id=event.account_id,
                account_created_at=event.account_created_at,
                method=event.method[:16],
                path=event.path,
                status=event.status,
                user_agent=ua,
                ua_hash=ua_hash(ua),
                referer=event.referer,
                bytes=event.bytes,
                action=action,
                target=target,
            )
        )
        if len(rows) >= batch:
            _store(rows, summary)
            rows = []
    _store(rows, summary)
    return summary


def ua_hash(ua: str | None) -> str:
    """A short hash of a user agent (indexed: user agents can be longer than an index entry may be)."""
    return hashlib.blake2b((ua or "").encode(), digest_size=8).hexdigest() if ua else ""


def _store(rows: list[Event], summary: Summary) -> None:
    if not rows:
        return
    with transaction.atomic():
        known = set(Event.objects.filter(uid__in=[r.uid for r in rows]).values_list("uid", flat=True))
        fresh = [r for r in rows if r.uid not in known]
        Event.objects.bulk_create(fresh, batch_size=500)
        refresh_account_ages()
    summary.added += len(fresh)
    summary.duplicates += len(rows) - len(fresh)


def _open_case_of(subject_type: str, subject: str) -> Case | None:
    return (
        Case.objects.filter(status__in=IN_QUEUE, members__subject_type=subject_type, members__subject=subject)
        .order_by("-opened_at")
        .first()
    )


def _latest_case_of(subject_type: str, subject: str) -> Case | None:
    return Case.objects.filter(members__subject_type=subject_type, members__subject=subject).order_by("-pk").first()


def case_key(kind: str, key: str) -> str:
    """The key of a case: `kind:key`, hashed when too long for the column."""
    full = f"{kind}:{key}"
    return full if len(full) <= 250 else f"{kind}:#" + hashlib.sha256(key.encode()).hexdigest()


def _group_case(group: tuple[str, str, str], subject_type: str, d: dict[str, Any]) -> Case:
    kind, key, label = group
    found = Case.objects.filter(key=case_key(kind, key), status__in=IN_QUEUE).order_by("-pk").first()
    return found or _new_case(kind, case_key(kind, key), label, subject_type, "", d)


def _new_case(kind: str, key: str, label: str, subject_type: str, subject: str, d: dict[str, Any]) -> Case:
    when = _dt(d["event_time"])
    return Case.objects.create(
        kind=kind,
        key=key,
        label=label,
        subject_type=subject_type,
        subject=subject,
        action=d["action"],
        first_seen=when,
        last_seen=when,
    )


def _merge(source: Case, target: Case) -> None:
    """Fold a subject's own open case into the group case it turned out to belong to."""
    source.decisions.update(case=target)
    for m in source.members.all():
        Member.objects.get_or_create(case=target, subject_type=m.subject_type, subject=m.subject)
    source.status, source.merged_into = "merged", target
    source.closed_at = datetime.now(UTC)
    source.decision_count = 0
    source.save()


def _dt(text: str) -> datetime:
    return datetime.fromtimestamp(parse_timestamp(text) / 1000, UTC)
