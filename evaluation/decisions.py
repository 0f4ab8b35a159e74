"""Decisions to evaluate: v1 JSON Lines (`schemas/decision.v1.json`), as `scrapeguard run` writes them.

Only the fields the evaluation needs are read and checked: `subject_type`, `subject`,
`action`, `event_time` and, when present, `expires_at`. `throttle`, `challenge` and
`block` flag their subject; `unblock` flags nothing and ends the subject's earlier
decisions from its event time on.

>>> d = parse_decision({"subject_type": "ip", "subject": "10.0.0.1", "action": "block",
...                     "event_time": "2026-01-05T08:00:00Z"}, 1)
>>> d.key, d.end - d.time == DEFAULT_TTL_MS["block"]
('ip:10.0.0.1', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from detectors.events import BadEvent, parse_timestamp
from detectors.verdicts import SUBJECT_TYPES, canonical_network
from evaluation.labels import InputError, actor_key
from jobs.inputs import Source

FLAG_ACTIONS = ("throttle", "challenge", "block")
"""Actions that count as flagging their subject."""
ACTIONS = (*FLAG_ACTIONS, "unblock")
DEFAULT_TTL_MS = {"throttle": 15 * 60_000, "challenge": 3_600_000, "block": 24 * 3_600_000}
"""Lifetime of a decision without `expires_at`: the detector's default TTLs."""


@dataclass(frozen=True)
class Decision:
    """One decision: subject, action and the event-time interval [time, end] it is in force."""

    subject_type: str
    subject: str
    action: str
    time: int
    end: int
    detector_version: str | None = None

    @property
    def key(self) -> str:
        """The labels key of the subject (`account:<id>` or `ip:<addr>`; `network:<range>` for a range,
        `path:<path>` for an access path)."""
        return actor_key(self.subject_type, self.subject)


def parse_decision(obj: Any, line_no: int, source: str = "decisions") -> Decision:
    """Check and read one decoded decision object; `InputError` names the line and the field."""
    where = f"{source} line {line_no}"
    if not isinstance(obj, dict):
        raise InputError(f"{where}: not a JSON object")
    subject_type, subject, action = obj.get("subject_type"), obj.get("subject"), obj.get("action")
    if subject_type not in SUBJECT_TYPES:
        known = ", ".join(SUBJECT_TYPES)
        raise InputError(f"{where}: field 'subject_type' is {subject_type!r}, not one of {known}")
    if not isinstance(subject, str) or not subject:
        raise InputError(f"{where}: field 'subject' is not a non-empty string ({subject!r})")
    if subject_type == "network" and canonical_network(subject) is None:
        raise InputError(f"{where}: field 'subject' is not a network range such as '10.1.2.0/24' ({subject!r})")
    if action not in ACTIONS:
        raise InputError(f"{where}: field 'action' is {action!r}, not one of {', '.join(ACTIONS)}")
    if obj.get("event_time") is None:
        raise InputError(f"{where}: missing field 'event_time'")
    try:
        time = parse_timestamp(obj["event_time"], "event_time")
        expires = obj.get("expires_at")
        end = time + DEFAULT_TTL_MS.get(action, 0) if expires is None else parse_timestamp(expires, "expires_at")
    except BadEvent as exc:
        raise InputError(f"{where}: {exc}") from None
    version = obj.get("detector_version")
    return Decision(subject_type, subject, action, time, max(end, time), version if isinstance(version, str) else None)


def load_decisions(path: Path) -> list[Decision]:
    """All decisions of a v1 JSON Lines file or `-` (blank lines skipped), in event-time order."""
    out = []
    with Source(path) as source:
        for line_no, line in enumerate(source.lines(), 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"decisions {path} line {line_no}: not valid JSON ({exc})") from None
            out.append(parse_decision(obj, line_no, f"decisions {path}"))
    out.sort(key=lambda d: d.time)
    return out
