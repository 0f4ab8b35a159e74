"""Trust tiers: the account rate limits of an hour and longer are quotas per tier.

The joint statement's hourly and daily limits stay, but one number for every account throttles
the heavy, legitimate users (recruiters at a few hundred profiles an hour through search) as
soon as it stops the crawlers. Platforms that cap reads use tiers instead. An account's tier is,
in order:

- the tier the platform asserts in its events (`account_tier`, e.g. `verified`), when
  `[tiers] asserted` gives it a factor;
- `human`: at least `human.min_age_days` old, and its last hour looks like a person at work
  (every `human.when` condition: reached from search or the feed, with assets, in a browser),
  where a condition asking for assets or referers counts only while the logs carry them
  (`detectors.absence`): on a platform whose CDN logs the assets elsewhere, nobody shows any;
- `standard`: factor 1.

A tier multiplies the limits of windows of an hour and longer (`scaled`); the short windows, the
new-account limits and every behaviour rule stay as they are, so a tier changes a quota, not
what counts as a crawl.

>>> from detectors.config import load_config
>>> tiers = Tiers(load_config())
>>> person = {"account_age_s": 90 * 86400, "nav_share_1h": 0.8, "static_share_1h": 0.5, "browser_share_1h": 1.0}
>>> tiers.of(person), tiers.of({**person, "static_share_1h": 0.0}), tiers.of({"account_tier": "verified"})
(('human', 2.5), ('standard', 1.0), ('verified', 2.5))
>>> tiers.wanting(person), tiers.wanting({**person, "static_share_1h": 0.0})
(frozenset(), frozenset({'assets'}))
"""

from __future__ import annotations

from typing import Any

from detectors.absence import asks
from detectors.config import OPERATORS, Config, parse_condition, parse_duration
from detectors.rules.base import Rule

SCALED_FROM_MS = 3_600_000
"""Windows at least this long are quotas per tier."""


class Tiers:
    """The tiers of `[tiers]` (see module docstring)."""

    def __init__(self, config: Config) -> None:
        c = config.section("tiers")
        self.asserted: dict[str, float] = dict(c["asserted"])
        human = c["human"]
        self.human_factor = float(human["factor"])
        self.min_age_s = human["min_age_days"] * 86_400
        self.when = [(f, *parse_condition(text), asks(f, text, missing=False)) for f, text in human["when"].items()]

    def of(self, features: dict[str, Any]) -> tuple[str, float]:
        """The account's tier and its factor, from its features (as if the logs carried assets and referers; the
        scorer lifts what they do not: `detectors.pipeline.Limits.retier`)."""
        asserted = features.get("account_tier")
        if asserted in self.asserted:
            return asserted, self.asserted[asserted]
        if self.wanting(features) == frozenset():
            return "human", self.human_factor
        return "standard", 1.0

    def wanting(self, features: dict[str, Any]) -> frozenset[str] | None:
        """The kinds of the logs (assets, referers) whose `human` conditions the account's hour failed; None if its
        age or any other condition keeps it from `human`."""
        age = features.get("account_age_s")
        if age is None or age < self.min_age_s:
            return None
        kinds = set()
        for f, op, v, kind in self.when:
            if features.get(f) is None or not OPERATORS[op](features[f], v):
                if kind is None:
                    return None
                kinds.add(kind)
        return frozenset(kinds)

    def scaled(self, rules: list[Rule]) -> dict[str, list[Rule]]:
        """Per tier with a factor other than 1, `rules` with the limits of long windows multiplied by it."""
        factors = {**self.asserted, "human": self.human_factor}
        return {
            tier: [r.with_entries([_scale(e, factor) for e in r.entries]) for r in rules]
            for tier, factor in factors.items()
            if factor != 1
        }


def _scale(entry: dict[str, Any], factor: float) -> dict[str, Any]:
    if "window" in entry and parse_duration(entry["window"]) >= SCALED_FROM_MS:
        return {**entry, "max_views": int(entry["max_views"] * factor)}
    return entry
