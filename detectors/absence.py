"""Absence is evidence only of what the logs carry.

Several layers act on what a client does *not* send: a browser that loads none of the site's
assets, profile views reached from no page (no referer, no navigation), fleets of such bare
clients. A platform whose assets are served by a CDN that logs elsewhere, or whose log format
has no referer, shows every person that way. So the population counts, over the learner's
sample of rows, how many load any asset and how many views come with a referer (`Logs`). The
logs carry a kind once `[absence] min_rows` rows are counted and at least `min_share` of them
show it; until then nothing is known, and nothing missing counts. A hit that rests on absences
(`rests_on`) stands only while the logs carry at least one of them (`Absence.keep`): "no assets
and no referer" still says something where referers are logged. Likewise the `human` trust tier asks
only for what the logs carry (`detectors.tiers`).

>>> logs = Logs()
>>> for i in range(100):
...     logs.add({"static_share_1h": 0.0, "views_1h": 3, "noref_share_1h": 0.5 if i % 10 == 0 else 1.0})
>>> sorted(logs.carried(min_rows=50, min_share=0.05))
['referers']
>>> sorted(Logs().carried(min_rows=50, min_share=0.05)), sorted(Logs().carried(min_rows=0, min_share=0.05))
([], ['assets', 'referers'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from detectors.config import Config, parse_condition
from detectors.layers import Hit, Layer

KINDS = frozenset({"assets", "referers"})
_LOW, _HIGH = ("<", "<="), (">", ">=")
_SHOWS = {  # feature prefix -> the kind of the logs it shows, and the operators of a condition asking for little
    "static_share": ("assets", _LOW),
    "noref_share": ("referers", _HIGH),
    "nav_share": ("referers", _LOW),
}


def asks(feature: str, text: str, missing: bool) -> str | None:
    """The kind of the logs a condition asks to be missing (`missing`) or shown, if it asks either.

    >>> asks("static_share_1h", "< 0.05", missing=True), asks("nav_share_1h", ">= 0.5", missing=False)
    ('assets', 'referers')
    """
    for prefix, (kind, little) in _SHOWS.items():
        if feature.startswith(prefix):
            op = parse_condition(text)[0]
            if op != "==" and (op in little) == missing:
                return kind
    return None


@dataclass
class Logs:
    """Counts over sampled rows (an account's hour or an address's ten minutes): the rows, those with any
    asset, those with profile views, and those whose views had any referer."""

    rows: int = 0
    assets: int = 0
    viewed: int = 0
    referred: int = 0

    def add(self, features: dict[str, Any]) -> None:
        """Count one row."""
        self.rows += 1
        self.assets += (features.get("static_share_1h") or features.get("static_share_10m") or 0) > 0
        if features.get("views_1h") or features.get("logged_out_views_10m"):
            self.viewed += 1
            self.referred += features.get("noref_share_1h", features.get("noref_share_10m", 1)) < 1

    def carried(self, min_rows: int, min_share: float) -> frozenset[str]:
        """The kinds the logs carry: those that at least `min_share` of `min_rows` or more rows show (with
        `min_rows` 0, every kind until rows show otherwise)."""
        kinds = []
        if self.rows >= min_rows and self.assets >= min_share * self.rows:
            kinds.append("assets")
        if self.viewed >= min_rows and self.referred >= min_share * self.viewed:
            kinds.append("referers")
        return frozenset(kinds)


def rests_on(config: Config, layers: Iterable[Layer]) -> dict[str, frozenset[str]]:
    """Reason -> the absences its hit rests on: a behaviour rule's, from its conditions; a coordination layer's
    of `layers`, as it declares them (`Layer.rests_on`: the fleets of bare clients, no assets and no referer)."""
    reasons: dict[str, frozenset[str]] = {}
    for rule in config.section("rules")["behaviour"]:
        missing = {k for f, text in rule["when"].items() if (k := asks(f, text, missing=True)) is not None}
        if missing:
            reasons[rule["name"]] = frozenset(missing)
    return {**reasons, **{reason: layer.rests_on for layer in layers for reason in layer.reasons}}


class Absence:
    """Which hits stand, given what the population says the logs carry."""

    def __init__(self, config: Config, layers: Iterable[Layer]) -> None:
        section = config.section("absence")
        self.min_rows, self.min_share = section["min_rows"], section["min_share"]
        self.rests_on = rests_on(config, layers)

    def carried(self, logs: Logs) -> frozenset[str]:
        """The kinds `logs` carry, by `[absence]`."""
        return logs.carried(self.min_rows, self.min_share)

    def keep(self, carried: frozenset[str], tagged: list[tuple[Hit, str]]) -> list[tuple[Hit, str]]:
        """The hits that count: those that rest on no absence, or on one the logs carry."""
        return [t for t in tagged if t[0].reason not in self.rests_on or self.rests_on[t[0].reason] & carried]
