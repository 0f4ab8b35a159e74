"""Analyst verdicts: the v1 contract of the `verdicts` topic (`schemas/verdict.v1.json`) and its parser.

>>> parse_verdict('{"ts": "2026-01-05T09:00:00Z", "subject_type": "account", "subject": "a7", "verdict": "dismiss"}')
Verdict(ts=1767603600000, subject_type='account', subject='a7', verdict='dismiss')
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from detectors.events import BadEvent, json_object, parse_timestamp
from detectors.features.minutes import PATH

SUBJECT_TYPES = ("account", "ip", "network", "path")
"""What decisions, verdicts and the review console's cases are on: an account, an IP address, a network range
(CIDR), or an access path (`detectors.surge`), which is no one's; only `PATH` is one."""
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


def canonical_network(text: str) -> str | None:
    """A network range in the canonical CIDR form of decisions, or None if `text` is not one.

    >>> canonical_network("2001:DB8:1::/48"), canonical_network("10.1.2.7/24"), canonical_network("10.1.2.7")
    ('2001:db8:1::/48', None, '10.1.2.7/32')
    """
    try:
        return str(ipaddress.ip_network(text))
    except ValueError:
        return None


def subject_problem(subject_type: str, subject: str) -> str | None:
    """Why `subject` is not a subject of `subject_type`, or None: a range must be in canonical CIDR form, and the
    only access path is `PATH`.

    >>> subject_problem("network", "10.1.2.7/24"), subject_problem("path", PATH), subject_problem("ip", "10.1.2.7")
    ('is not a network range in canonical CIDR form', None, None)
    """
    if subject_type == "network" and canonical_network(subject) != subject:
        return "is not a network range in canonical CIDR form"
    if subject_type == "path" and subject != PATH:
        return f"is not the access path {PATH!r}"
    return None


def parse_verdict(line: str | bytes) -> Verdict:
    """One JSON line to a `Verdict`; `BadEvent` with the reason otherwise (unknown fields are ignored)."""
    obj = json_object(line)
    for name in ("ts", "subject_type", "subject", "verdict"):
        if obj.get(name) is None:
            raise BadEvent(f"missing required field '{name}'")
    if obj["subject_type"] not in SUBJECT_TYPES:
        raise BadEvent(f"field 'subject_type' is not one of {', '.join(SUBJECT_TYPES)} ({obj['subject_type']!r})")
    if not isinstance(obj["subject"], str) or not obj["subject"]:
        raise BadEvent(f"field 'subject' is not a non-empty string ({obj['subject']!r})")
    problem = subject_problem(obj["subject_type"], obj["subject"])
    if problem:
        raise BadEvent(f"field 'subject' {problem} ({obj['subject']!r})")
    if obj["verdict"] not in VERDICTS:
        raise BadEvent(f"field 'verdict' is not one of {', '.join(VERDICTS)} ({obj['verdict']!r})")
    return Verdict(parse_timestamp(obj["ts"]), obj["subject_type"], obj["subject"], obj["verdict"])
