"""Decision policy: the fused hits on a subject become at most one v1 decision.

A subject has at most one active decision. A hit whose action is no stronger than
the active one is absorbed; a stronger one escalates (the new decision replaces the
old); once the active decision expires, the next hit starts a new one. Each repeat
offence doubles the time-to-live, up to `max_ttl_factor`; offences count for `offence_memory` after
the last decision lapsed, and then the subject starts afresh (the streaming job drops its state then).

Hysteresis: within `memory` after a decision expires, a new hit starts at the expired
action or above, so a subject hovering around a limit is not released and re-caught at
a weaker level again and again. Analysts: `confirm` blocks the subject; `dismiss`
releases it (`unblock`, when something is in force), resets its offences, and for
`dismiss_grace` only block-level hits act on it (on the access path, for the surge layer's own
`dismiss_grace`: a dismissed surge is one legitimate rise, not a week's leave for the next one).
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
from detectors.verdicts import LABELS

_RANK = {action: i for i, action in enumerate(ACTIONS)}
_ID_NAMESPACE = uuid.UUID("5c7e4a52-3f1e-4d0b-9b8e-2a6f1f7d9e10")


@dataclass
class PolicyState:
    """A subject's active decision and its count of offences so far."""

    action: str | None = None
    expires_at: int = 0
    offences: int = 0
    grace_until: int = 0
    lapses_at: int = 0  # when the last decision emitted stops being in force (an unblock: at once)


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
        self.memory = parse_duration(section["memory"])
        self.offence_memory = parse_duration(section["offence_memory"])
        self.grace = parse_duration(section["dismiss_grace"])
        self.path_grace = parse_duration(config.section("coordination", "surge", "dismiss_grace"))
        self.version = f"{__version__}+{config.fingerprint}"

    def new_state(self) -> PolicyState:
        """State of a subject with no decision yet."""
        return PolicyState()

    def forget_at(self, state: PolicyState) -> int:
        """When the subject's state no longer matters: its last decision lapsed, the hysteresis and offence
        memories and any analyst's grace are over (`decide` then starts afresh, and the state can be dropped)."""
        return max(state.lapses_at + max(self.memory, self.offence_memory), state.grace_until)

    def absorbs(self, state: PolicyState, ts: int, action: str) -> bool:
        """Whether hits no stronger than `action` at `ts` would add nothing: a decision at least that strong is in
        force."""
        return state.action is not None and state.expires_at > ts and _RANK[action] <= _RANK[state.action]

    def decide(
        self,
        state: PolicyState,
        subject_type: str,
        subject: str,
        ts: int,
        hits: list[Hit],
        top_features: list[dict[str, Any]] | None = None,
    ) -> Decision | None:
        """Apply the hits on the subject at time `ts` to `state`; return the decision to emit, if any.

        The decision id depends only on subject, action and event time, so it is the same
        whichever of several simultaneous events of the subject is processed first.
        """
        if state.lapses_at and ts >= self.forget_at(state):
            state.action, state.expires_at, state.offences, state.grace_until, state.lapses_at = None, 0, 0, 0, 0
        if ts < state.grace_until:
            hits = [h for h in hits if h.action == "block"]
        if not hits:
            return None
        action = max((h.action for h in hits), key=_RANK.__getitem__)
        active = state.action is not None and state.expires_at > ts
        if active and _RANK[action] <= _RANK[state.action or ""]:
            return None
        if not active and state.action is not None and ts - state.expires_at < self.memory:
            action = max(action, state.action, key=_RANK.__getitem__)
        factor = min(self.max_factor, 2**state.offences)
        state.action, state.expires_at = action, ts + self.ttl[action] * factor
        state.lapses_at = state.expires_at
        state.offences += 1
        evidence: dict[str, Any] = {}
        for hit in sorted(hits, key=lambda h: h.reason):
            evidence.update(hit.evidence)
        if top_features:
            evidence["top_features"] = top_features
        return self._decision(subject_type, subject, ts, action, max(h.score for h in hits),
                              sorted({h.reason for h in hits}), evidence, state.expires_at)  # fmt: skip

    def verdict(self, state: PolicyState, subject_type: str, subject: str, ts: int, verdict: str) -> Decision | None:
        """An analyst's `confirm` (block now) or `dismiss` (unblock if anything is in force, then grace); an
        `escalate` (a hand-over between analysts) changes nothing."""
        if verdict not in LABELS:
            return None
        if verdict == "confirm":
            hit = Hit("analyst_confirmed", "block", 1.0, {"verdict": "confirm"})
            state.grace_until = 0
            return self.decide(state, subject_type, subject, ts, [hit])
        active = state.action is not None and state.expires_at > ts
        state.action, state.expires_at, state.offences = None, 0, 0
        state.grace_until = ts + (self.path_grace if subject_type == "path" else self.grace)
        if not active:
            return None
        state.lapses_at = ts
        return self._decision(
            subject_type, subject, ts, "unblock", 0.0, ["analyst_dismissed"], {"verdict": "dismiss"}, ts
        )

    def _decision(
        self,
        subject_type: str,
        subject: str,
        ts: int,
        action: str,
        score: float,
        reasons: list[str],
        evidence: dict[str, Any],
        expires_at: int,
    ) -> Decision:
        key = f"{subject_type}:{subject}|{action}|{ts}"
        return Decision(
            decision_id=str(uuid.uuid5(_ID_NAMESPACE, key)),
            subject_type=subject_type,
            subject=subject,
            action=action,
            score=score,
            reasons=reasons,
            evidence=evidence,
            event_time=ts,
            expires_at=expires_at,
            detector_version=self.version,
        )
