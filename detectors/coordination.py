"""Coordination: fleets of accounts that share a user agent and a creation hour and crawl disjoint id ranges.

A botnet spreads its crawl over many accounts so that each stays under every per-account
limit. What gives it away is what the members share. Accounts are grouped into cohorts by
(user agent, hour the account was created). Within a cohort, a member is *crawling* when
it viewed at least `min_views_1h` profiles in the last hour and its targets are dense in
their id range (`target_density_1h`). When at least `min_members` crawling members of a
cohort have pairwise disjoint id ranges, each of them gets a `coordinated_fleet` hit.

>>> c = Coordination(min_members=3)
>>> f = {"views_1h": 12, "target_density_1h": 0.7, "user_agent": "bot-ua",
...      "account_created_at": "2026-01-05T07:10:00.000Z", "network": "10.192.0.0/24"}
>>> hits = [c.observe(f"m{i}", 1000 * i, {**f, "target_min_1h": 100 * i, "target_max_1h": 100 * i + 20})
...         for i in range(3)]
>>> hits[-1].reason
'coordinated_fleet'
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from detectors.rules.base import Hit

HOUR_MS = 3_600_000


class Coordination:
    """Cohorts of recently crawling accounts (see module docstring)."""

    def __init__(
        self, min_members: int = 3, min_views_1h: int = 5, min_density: float = 0.2, action: str = "block"
    ) -> None:
        self.min_members, self.min_views, self.min_density, self.action = min_members, min_views_1h, min_density, action
        self.cohorts: dict[tuple[str, str], dict[str, tuple[int, int, int, str]]] = {}

    def observe(self, account: str, ts: int, features: dict[str, Any]) -> Hit | None:
        """Record the account's latest behaviour; a hit when it belongs to a fleet."""
        ua, created = features.get("user_agent"), features.get("account_created_at")
        if not ua or not created:
            return None
        key = (ua, created[:13])
        cohort = self.cohorts.setdefault(key, {})
        lo, hi = features.get("target_min_1h"), features.get("target_max_1h")
        crawling = (
            features.get("views_1h", 0) >= self.min_views
            and features.get("target_density_1h", 0.0) >= self.min_density
            and lo is not None
            and hi is not None
        )
        if crawling:
            cohort[account] = (ts, int(lo), int(hi), str(features.get("network", "")))  # type: ignore[arg-type]
        else:
            cohort.pop(account, None)
        for member in [m for m, v in cohort.items() if v[0] < ts - HOUR_MS]:
            del cohort[member]
        if not cohort:
            del self.cohorts[key]
        if not crawling or len(cohort) < self.min_members:
            return None
        ranges = sorted((v[1], v[2]) for v in cohort.values())
        if any(a[1] >= b[0] for a, b in pairwise(ranges)):
            return None
        evidence = {
            "fleet_size": len(cohort),
            "fleet_user_agent": ua,
            "fleet_created_hour": key[1] + ":00Z",
            "fleet_networks": len({v[3] for v in cohort.values()}),
            "target_min_1h": lo,
            "target_max_1h": hi,
        }
        return Hit("coordinated_fleet", self.action, 0.9, evidence)

    def evict(self, now: int) -> None:
        """Forget members not seen crawling in the last hour."""
        for key in list(self.cohorts):
            cohort = self.cohorts[key]
            for member in [m for m, v in cohort.items() if v[0] < now - HOUR_MS]:
                del cohort[member]
            if not cohort:
                del self.cohorts[key]
