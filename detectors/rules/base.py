"""What every rule implements, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from detectors.config import parse_duration
from detectors.events import AccessEvent


class Request(NamedTuple):
    """An access event with its route: the unit the job ingests."""

    event: AccessEvent
    action: str
    target: str | None

    @property
    def is_foreign_profile_view(self) -> bool:
        """A view of another user's profile (an account viewing itself does not count)."""
        return self.action == "profile_view" and self.target != self.event.account_id


@dataclass(frozen=True)
class Hit:
    """A rule's finding on one event: the action it asks for and why."""

    reason: str
    action: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


class Rule:
    """A detector of one subject type (`account` or `ip`) over a subject's features.

    `limits` are `(window label, window ms, max views, action)`; `windows` maps the
    labels to ms, naming the `profile_views_<label>` counts the rule reads.
    `evaluate(features)` is pure and returns the hits.
    """

    name: str = ""
    subject_type: str = "account"
    limits: list[tuple[str, int, int, str]] = []
    windows: dict[str, int] = {}

    @property
    def window_limits(self) -> list[tuple[str, int]]:
        """(window label, max views) of each limit: what makes a row a candidate."""
        return [(label, limit) for label, _, limit, _ in self.limits]

    def evaluate(self, features: dict[str, Any]) -> list[Hit]:
        """Hits for one event of a subject, given its features at that event."""
        raise NotImplementedError


def parse_limits(entries: list[dict[str, Any]], window_key: str) -> list[tuple[str, int, int, str]]:
    """Config limits as `(label, window_ms, max_views, action)`."""
    return [(e[window_key], parse_duration(e[window_key]), e["max_views"], e["action"]) for e in entries]


def over_limit_score(count: int, limit: int) -> float:
    """0.5 just over the limit, rising linearly to 1.0 at twice the limit.

    >>> over_limit_score(121, 120), over_limit_score(240, 120), over_limit_score(999, 120)
    (0.504, 1.0, 1.0)
    """
    return round(min(1.0, 0.5 + 0.5 * (count - limit) / limit), 3)
