"""Analyst verdicts: the v1 contract of the `verdicts` topic (`schemas/verdict.v1.json`) and its parser.

>>> parse_verdict('{"ts": "2026-01-05T09:00:00Z", "subject_type": "account", "subject": "a7", "verdict": "dismiss"}')
Verdict(ts=1767603600000, subject_type='account', subject='a7', verdict='dismiss')
"""

from __future__ import annotations

from typing import NamedTuple

from detectors.events import BadEvent, json_object, parse_timestamp

VERDICTS = ("confirm", "dismiss", "escalate")
LABELS = ("confirm", "dismiss")
"""The verdicts the detector acts on and learns from; `escalate` (a hand-over between analysts) is recorded only."""


class Verdict(NamedTuple):
    """An analyst's verdict on a subject at event time `ts`: `confirm` (a scraper), `dismiss` (not one) or
    `escalate` (handed on; no label)."""

    ts: int
    subject_type: str
    subject: str
    verdict: str


def parse_verdict(line: str | bytes) -> Verdict:
    """One JSON line to a `Verdict`; `BadEvent` with the reason otherwise (unknown fields are ignored)."""
    obj = json_object(line)
    for name in ("ts", "subject_type", "subject", "verdict"):
        if obj.get(name) is None:
            raise BadEvent(f"missing required field '{name}'")
    if obj["subject_type"] not in ("account", "ip"):
        raise BadEvent(f"field 'subject_type' is not 'account' or 'ip' ({obj['subject_type']!r})")
    if not isinstance(obj["subject"], str) or not obj["subject"]:
        raise BadEvent(f"field 'subject' is not a non-empty string ({obj['subject']!r})")
    if obj["verdict"] not in VERDICTS:
        raise BadEvent(f"field 'verdict' is not one of {', '.join(VERDICTS)} ({obj['verdict']!r})")
    return Verdict(parse_timestamp(obj["ts"]), obj["subject_type"], obj["subject"], obj["verdict"])
