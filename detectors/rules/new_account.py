"""New accounts that start viewing many profiles soon after they are created.

A tier `{within = "1h", window = "2m", max_views = 25}` fires when an account at most an hour
old viewed more than 25 other profiles in the last 2 minutes. A tier without `window`, such
as `{within = "10m", max_views = 60}`, fires when an account at most 10 minutes
old has viewed more than 60 other profiles. While the account is younger than the
tier, its trailing 10-minute window reaches back to its creation, so the window
count is the count since creation. The age comes from `account_created_at`; when
events do not carry it, the first time the account was seen stands in, and the
evidence says so (`account_created_at_source`).
"""

from __future__ import annotations

from typing import Any

from detectors.config import parse_duration
from detectors.rules.base import Hit, Rule, over_limit_score, parse_limits


class NewAccountRule(Rule):
    """Fires when a young account's profile views exceed the limit of an age tier it is still in.

    >>> rule = NewAccountRule([{"within": "10m", "max_views": 60, "action": "challenge"}])
    >>> young = {"profile_views_10m": 61, "account_age_s": 300.0,
    ...          "account_created_at": "2026-01-05T08:00:00.000Z", "account_created_at_source": "first_seen"}
    >>> rule.evaluate(young)[0].reason
    'new_account_profile_views_10m'
    >>> rule.evaluate({**young, "account_age_s": 600.001})
    []
    """

    name = "new_account_profile_views"
    subject_type = "account"

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.limits = parse_limits(entries, "within")
        self.tiers = [(e.get("window", e["within"]), parse_duration(e.get("window", e["within"]))) for e in entries]
        self.windows = dict(self.tiers)

    def window_ms(self, entry: dict[str, Any]) -> int:
        return parse_duration(entry.get("window", entry["within"]))

    def with_entries(self, entries: list[dict[str, Any]]) -> NewAccountRule:
        return NewAccountRule(entries)

    @property
    def window_limits(self) -> list[tuple[str, int]]:
        return [(label, limit) for (label, _), (_, _, limit, _) in zip(self.tiers, self.limits, strict=True)]

    def evaluate(self, features: dict[str, Any]) -> list[Hit]:
        if features.get("account_age_s") is None:
            return []
        age_ms = round(features["account_age_s"] * 1000)
        hits = []
        for (within_label, within, limit, action), (label, _) in zip(self.limits, self.tiers, strict=True):
            n = features.get(f"profile_views_{label}")
            if n is not None and 0 <= age_ms <= within and n > limit:
                bound = f"first_{label}" if label == within_label else f"{label}_younger_than_{within_label}"
                evidence = {
                    f"profile_views_{label}": n,
                    f"limit_profile_views_{bound}": limit,
                    **{
                        k: features.get(k) for k in ("account_age_s", "account_created_at", "account_created_at_source")
                    },
                }
                hits.append(Hit(f"new_account_profile_views_{label}", action, over_limit_score(n, limit), evidence))
        return hits
