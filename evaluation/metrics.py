"""Scores of one engine (the detector or an anchor) from what reached each labeled actor.

Per actor kind: actors (labeled), flagged (any throttle/challenge/block reached it),
blocked (a block reached it). For scraper kinds also the profile views *served*
(profile_view route, status < 400) before the first action, and the personal-data
*records disclosed* before it (every route that discloses personal data: a profile
view or an answered look-up is one record, a search page or a contact import the
`records` its event carries, else one; `evaluation.traffic.records_of`). A request
counts as before when its event time is at or before the first action's time (the
triggering request was already answered when the action was taken); an actor never
acted on leaked all of it. Median and p95 are over the actors of the kind (linear
interpolation, numpy's default).

Overall: macro recall (mean over scraper kinds of flagged / actors), benign flag rate
(flagged benign actors / benign actors, overall and per benign kind), blocked benign
actors, and the leak ratio: scraper personal-data records disclosed before their
actor's first action / all records scrapers were given. (Before look-ups, contact
import and search pages counted, it was profile views alone; that figure stays as
`leak_ratio_profile_views`.)

>>> percentile([1, 2, 3, 4], 50), percentile([0, 10], 95), percentile([], 50) is None
(2.5, 9.5, True)
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evaluation.attribution import NOT_FLAGGED, Outcome
from evaluation.labels import is_benign, is_scraper
from evaluation.traffic import ActorTraffic


def percentile(values: list[int] | list[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between order statistics (None if empty)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class KindScore:
    """The scores of one actor kind."""

    kind: str
    actors: int
    flagged: int
    blocked: int
    views_served: int
    views_before: list[int]  # per actor (scrapers only; empty for benign kinds)
    records_disclosed: int = 0
    records_before: list[int] = field(default_factory=list)  # per actor (scrapers only)

    @property
    def flag_rate(self) -> float | None:
        """Flagged / actors: recall for a scraper kind, false-positive rate for a benign one."""
        return self.flagged / self.actors if self.actors else None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values."""
        out: dict[str, Any] = {
            "actors": self.actors,
            "flagged": self.flagged,
            "blocked": self.blocked,
            "recall" if is_scraper(self.kind) else "flag_rate": self.flag_rate,
        }
        if is_scraper(self.kind):
            out["views_served"] = self.views_served
            out["views_before_first_action"] = {
                "median": percentile(self.views_before, 50),
                "p95": percentile(self.views_before, 95),
                "total": sum(self.views_before),
            }
            out["records_disclosed"] = self.records_disclosed
            out["records_before_first_action"] = {
                "median": percentile(self.records_before, 50),
                "p95": percentile(self.records_before, 95),
                "total": sum(self.records_before),
            }
        return out


@dataclass
class Score:
    """One engine's scores: per kind and overall."""

    name: str
    kinds: dict[str, KindScore]
    parameters: dict[str, Any]

    @property
    def scraper_kinds(self) -> list[KindScore]:
        """Scraper kinds, sorted by name."""
        return [k for name, k in sorted(self.kinds.items()) if is_scraper(name)]

    @property
    def benign_kinds(self) -> list[KindScore]:
        """Benign kinds, sorted by name."""
        return [k for name, k in sorted(self.kinds.items()) if is_benign(name)]

    @property
    def macro_recall(self) -> float | None:
        """Mean over scraper kinds of their recall."""
        recalls = [k.flag_rate for k in self.scraper_kinds if k.flag_rate is not None]
        return sum(recalls) / len(recalls) if recalls else None

    @property
    def benign_actors(self) -> int:
        """Labeled benign actors."""
        return sum(k.actors for k in self.benign_kinds)

    @property
    def benign_flagged(self) -> int:
        """Benign actors flagged."""
        return sum(k.flagged for k in self.benign_kinds)

    @property
    def benign_blocked(self) -> int:
        """Benign actors blocked."""
        return sum(k.blocked for k in self.benign_kinds)

    @property
    def benign_flag_rate(self) -> float | None:
        """Benign actors flagged / benign actors."""
        return self.benign_flagged / self.benign_actors if self.benign_actors else None

    @property
    def leak_ratio(self) -> float | None:
        """Scraper personal-data records disclosed before detection / all records disclosed to scrapers."""
        disclosed = sum(k.records_disclosed for k in self.scraper_kinds)
        return sum(sum(k.records_before) for k in self.scraper_kinds) / disclosed if disclosed else None

    @property
    def leak_ratio_profile_views(self) -> float | None:
        """Scraper profile views served before detection / all scraper views served (profile views only)."""
        served = sum(k.views_served for k in self.scraper_kinds)
        return sum(sum(k.views_before) for k in self.scraper_kinds) / served if served else None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values."""
        scrapers = self.scraper_kinds
        return {
            "parameters": self.parameters,
            "overall": {
                "macro_recall": self.macro_recall,
                "benign_actors": self.benign_actors,
                "benign_flagged": self.benign_flagged,
                "benign_blocked": self.benign_blocked,
                "benign_flag_rate": self.benign_flag_rate,
                "benign_flag_rate_by_kind": {k.kind: k.flag_rate for k in self.benign_kinds},
                "scraper_views_served": sum(k.views_served for k in scrapers),
                "scraper_views_before_first_action": sum(sum(k.views_before) for k in scrapers),
                "scraper_records_disclosed": sum(k.records_disclosed for k in scrapers),
                "scraper_records_before_first_action": sum(sum(k.records_before) for k in scrapers),
                "leak_ratio": self.leak_ratio,
                "leak_ratio_profile_views": self.leak_ratio_profile_views,
            },
            "kinds": {name: k.to_json() for name, k in sorted(self.kinds.items())},
        }


def score(
    name: str,
    labels: Mapping[str, str],
    outcomes: Mapping[str, Outcome],
    actors: Mapping[str, ActorTraffic],
    parameters: dict[str, Any] | None = None,
) -> Score:
    """Score one engine's outcomes against the labels."""
    kinds: dict[str, KindScore] = {}
    for key, kind in sorted(labels.items()):
        k = kinds.get(kind)
        if k is None:
            k = kinds[kind] = KindScore(kind, 0, 0, 0, 0, [])
        outcome = outcomes.get(key, NOT_FLAGGED)
        traffic = actors.get(key)
        k.actors += 1
        k.flagged += outcome.flagged
        k.blocked += outcome.blocked
        if traffic is None:
            continue
        k.views_served += traffic.views_served
        k.records_disclosed += traffic.records
        if traffic.view_times is not None:
            if outcome.first is None:
                k.views_before.append(traffic.views_served)
            else:
                k.views_before.append(bisect_right(traffic.view_times, outcome.first))
            k.records_before.append(traffic.records_until(outcome.first))
    return Score(name, kinds, parameters or {})
