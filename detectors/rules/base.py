"""What every rule implements, and what it returns.

Rules are layers that learn nothing (`detectors.layers.Layer`): `hits` is a pure function
of the features. A rate rule's limits name trailing windows; `split` separates those
shorter than `SHORT_WINDOW_MS`, which the job counts per request in SQL, from the longer
ones, which it counts per minute in the subjects' rolling state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from detectors.config import parse_duration
from detectors.events import AccessEvent
from detectors.layers import Hit, Layer

SHORT_WINDOW_MS = 10 * 60_000
"""Rate-limit windows shorter than this are counted per request; longer ones per minute."""

__all__ = ["SHORT_WINDOW_MS", "Hit", "Request", "Rule", "over_limit_score", "parse_limits"]


class Request(NamedTuple):
    """An access event with its route."""

    event: AccessEvent
    action: str
    target: str | None


class Rule(Layer):
    """A detector of one subject type (`account` or `ip`) over a subject's features.

    Rate rules set `entries` (their configured limits); `limits` are `(window label, window ms,
    max views, action)` and `windows` maps the labels to ms, naming the `profile_views_<label>`
    counts the rule reads. `evaluate(features)` is pure and returns the hits.
    """

    name: str = ""
    layer = "limits"
    entries: list[dict[str, Any]] = []
    limits: list[tuple[str, int, int, str]] = []
    windows: dict[str, int] = {}

    @property
    def window_limits(self) -> list[tuple[str, int]]:
        """(window label, max views) of each limit: what makes a row a candidate."""
        return [(label, limit) for label, _, limit, _ in self.limits]

    def evaluate(self, features: dict[str, Any]) -> list[Hit]:
        """Hits for one row of a subject, given its features at that row."""
        raise NotImplementedError

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        return self.evaluate(features)

    def clone(self) -> Rule:
        return self  # a rule learns nothing

    def window_ms(self, entry: dict[str, Any]) -> int:
        """The trailing window one configured limit counts in."""
        return parse_duration(entry["window"])

    def split(self) -> tuple[Rule | None, Rule | None]:
        """This rule restricted to its short windows, and to its long ones (None where it has none)."""
        short = [e for e in self.entries if self.window_ms(e) < SHORT_WINDOW_MS]
        long = [e for e in self.entries if self.window_ms(e) >= SHORT_WINDOW_MS]
        return (self.with_entries(short) if short else None), (self.with_entries(long) if long else None)

    def with_entries(self, entries: list[dict[str, Any]]) -> Rule:
        """The same rule with other limits."""
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
