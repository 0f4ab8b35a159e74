"""Decision policy: rule hits on one event become at most one v1 decision.

A subject has at most one active decision. A hit whose action is no stronger than
the active one is absorbed; a stronger one escalates (the new decision replaces the
old); once the active decision expires, the next hit starts a new one. Each repeat
offence doubles the time-to-live, up to `max_ttl_factor`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from detectors import __version__
from detectors.config import ACTIONS, Config, parse_duration
from detectors.events import format_ms
from detectors.rules.base import Hit

_RANK = {action: i for i, action in enumerate(ACTIONS)}
_ID_NAMESPACE = uuid.UUID("5c7e4a52-3f1e-4d0b-9b8e-2a6f1f7d9e10")


@dataclass
class PolicyState:
    """A subject's active decision and its count of offences so far."""

    action: str | None = None
    expires_at: int = 0
    offences: int = 0


@dataclass(frozen=True)
class Decision:
    """A v1 decision (`schemas/decision.v1.json`) before its emission time is stamped."""

    decision_id: str
    subject_type: str
    subject: str
    action: str
    score: float
    reasons: list[str]
    evidence: dict[str, Any]
    event_time: int
    expires_at: int
    detector_version: str

    @property
    def key(self) -> str:
        """The Kafka message key: `subject_type:subject`."""
        return f"{self.subject_type}:{self.subject}"

    def to_json(self, emitted_at_ms: int | None = None) -> dict[str, Any]:
        """The v1 JSON object; `emitted_at` is the wall clock unless given."""
        emitted = int(time.time() * 1000) if emitted_at_ms is None else emitted_at_ms
        return {
            "decision_id": self.decision_id,
            "subject_type": self.subject_type,
            "subject": self.subject,
            "action": self.action,
            "score": self.score,
            "reasons": self.reasons,
            "evidence": self.evidence,
            "event_time": format_ms(self.event_time),
            "emitted_at": format_ms(emitted),
            "expires_at": format_ms(self.expires_at),
            "detector_version": self.detector_version,
        }

    def to_bytes(self, emitted_at_ms: int | None = None) -> bytes:
        """One JSON line (without the newline)."""
        return orjson.dumps(self.to_json(emitted_at_ms))


class DecisionPolicy:
    """Turns the hits of one event into a decision, or none."""

    def __init__(self, config: Config) -> None:
        section = config.section("policy")
        self.ttl = {action: parse_duration(v) for action, v in section["ttl"].items()}
        self.max_factor = section["max_ttl_factor"]
        self.version = f"{__version__}+{config.fingerprint}"

    def new_state(self) -> PolicyState:
        """State of a subject with no decision yet."""
        return PolicyState()

    def decide(self, state: PolicyState, subject_type: str, subject: str, ts: int, hits: list[Hit]) -> Decision | None:
        """Apply the hits of the subject's event at time `ts` to `state`; return the decision to emit, if any.

        The decision id depends only on subject, action and event time, so it is the same
        whichever of several simultaneous events of the subject is processed first.
        """
        if not hits:
            return None
        action = max((h.action for h in hits), key=_RANK.__getitem__)
        active = state.action is not None and state.expires_at > ts
        if active and _RANK[action] <= _RANK[state.action or ""]:
            return None
        factor = min(self.max_factor, 2**state.offences)
        state.action, state.expires_at = action, ts + self.ttl[action] * factor
        state.offences += 1
        evidence: dict[str, Any] = {}
        for hit in sorted(hits, key=lambda h: h.reason):
            evidence.update(hit.evidence)
        key = f"{subject_type}:{subject}|{action}|{ts}"
        return Decision(
            decision_id=str(uuid.uuid5(_ID_NAMESPACE, key)),
            subject_type=subject_type,
            subject=subject,
            action=action,
            score=max(h.score for h in hits),
            reasons=sorted({h.reason for h in hits}),
            evidence=evidence,
            event_time=ts,
            expires_at=state.expires_at,
            detector_version=self.version,
        )
