"""Profile views per subject over trailing windows: the joint statement's rate limit.

For accounts it counts views of other users' profiles; for IP addresses it counts
logged-out views (a logged-in view counts against its account, so many people
behind one NAT address are not added up).
"""

from __future__ import annotations

from typing import Any

from detectors.rules.base import Hit, Rule, over_limit_score, parse_limits


class ProfileRateRule(Rule):
    """Fires when a subject's profile views in a window exceed that window's limit.

    >>> rule = ProfileRateRule("account", [{"window": "1h", "max_views": 120, "action": "throttle"}])
    >>> [(h.reason, h.action) for h in rule.evaluate({"profile_views_1h": 121})]
    [('account_profile_views_1h', 'throttle')]
    """

    def __init__(self, subject_type: str, entries: list[dict[str, Any]]) -> None:
        self.subject_type = subject_type
        self.name = f"{subject_type}_profile_rate"
        self.entries = entries
        self.limits = parse_limits(entries, "window")
        self.windows = {label: ms for label, ms, _, _ in self.limits}

    def with_entries(self, entries: list[dict[str, Any]]) -> ProfileRateRule:
        return ProfileRateRule(self.subject_type, entries)

    def evaluate(self, features: dict[str, Any]) -> list[Hit]:
        hits = []
        for label, _, limit, action in self.limits:
            n = features.get(f"profile_views_{label}")
            if n is not None and n > limit:
                evidence = {f"profile_views_{label}": n, f"limit_profile_views_{label}": limit}
                if "tier" in features:  # the account's trust tier, whose quota this is (detectors/tiers.py)
                    evidence["tier"] = features["tier"]
                hits.append(
                    Hit(f"{self.subject_type}_profile_views_{label}", action, over_limit_score(n, limit), evidence)
                )
        return hits
