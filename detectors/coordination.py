"""Coordination: fleets of accounts that share a user agent and a creation hour and crawl disjoint id ranges.

A botnet spreads its crawl over many accounts so that each stays under every per-account
limit. What gives it away is what the members share. Accounts are grouped into cohorts by
(user agent, hour the account was created): `cohort_key`. Within a cohort, a member is
*crawling* when it viewed at least `min_views_1h` profiles in the last hour and its targets
are dense in their id range (`target_density_1h`). When at least `min_members` crawling
members of a cohort have pairwise disjoint id ranges, each of them gets a
`coordinated_fleet` hit.

State is per cohort, so the Flink job keys this layer by `cohort_key` and runs it in
parallel; one instance may also hold every cohort (the reference run).

>>> c = Coordination(min_members=3)
>>> f = {"views_1h": 12, "target_density_1h": 0.7, "user_agent": "bot-ua",
...      "account_created_at": "2026-01-05T07:10:00.000Z", "network": "10.192.0.0/24"}
>>> for i in range(3):
...     row = {**f, "target_min_1h": 100 * i, "target_max_1h": 100 * i + 20}
...     c.observe(f"m{i}", 1000 * i, row)
>>> c.hits("m2", 2000, row)[0].reason
'coordinated_fleet'
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from detectors.layers import Hit, Layer

HOUR_MS = 3_600_000


def cohort_key(features: dict[str, Any]) -> str | None:
    """The cohort of an account row: `<creation hour>|<user agent>`, or None without both."""
    ua, created = features.get("user_agent"), features.get("account_created_at")
    return f"{created[:13]}|{ua}" if ua and created else None


class Coordination(Layer):
    """Cohorts of recently crawling accounts (see module docstring)."""

    layer = "coordination"

    def __init__(
        self, min_members: int = 3, min_views_1h: int = 5, min_density: float = 0.2, action: str = "block"
    ) -> None:
        self.min_members, self.min_views, self.min_density, self.action = min_members, min_views_1h, min_density, action
        self.cohorts: dict[str, dict[str, tuple[int, int, int, str]]] = {}
        self._remember(min_members=min_members, min_views_1h=min_views_1h, min_density=min_density, action=action)

    def crawling(self, features: dict[str, Any]) -> bool:
        """Whether an account row counts as crawling (the only rows that can change a cohort's fleet)."""
        return (
            (features.get("views_1h") or 0) >= self.min_views
            and (features.get("target_density_1h") or 0.0) >= self.min_density
            and features.get("target_min_1h") is not None
            and features.get("target_max_1h") is not None
        )

    def observe(self, subject: str, ts: int, features: dict[str, Any]) -> None:
        """Record the account's latest behaviour in its cohort."""
        key = cohort_key(features)
        if key is None:
            return
        cohort = self.cohorts.setdefault(key, {})
        if self.crawling(features):
            lo, hi = int(features["target_min_1h"]), int(features["target_max_1h"])
            cohort[subject] = (ts, lo, hi, str(features.get("network", "")))
        else:
            cohort.pop(subject, None)
        self._expire(key, ts)

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        """A `coordinated_fleet` hit when the crawling account belongs to a fleet."""
        key = cohort_key(features)
        cohort = self.cohorts.get(key or "", {})
        if subject not in cohort or len(cohort) < self.min_members:
            return []
        ranges = sorted((v[1], v[2]) for v in cohort.values())
        if any(a[1] >= b[0] for a, b in pairwise(ranges)):
            return []
        evidence = {
            "fleet_size": len(cohort),
            "fleet_user_agent": features.get("user_agent"),
            "fleet_created_hour": str(features.get("account_created_at"))[:13] + ":00Z",
            "fleet_networks": len({v[3] for v in cohort.values()}),
            "target_min_1h": features.get("target_min_1h"),
            "target_max_1h": features.get("target_max_1h"),
        }
        return [Hit("coordinated_fleet", self.action, 0.9, evidence)]

    def _expire(self, key: str, now: int) -> None:
        cohort = self.cohorts[key]
        for member in [m for m, v in cohort.items() if v[0] < now - HOUR_MS]:
            del cohort[member]
        if not cohort:
            del self.cohorts[key]
