"""Surge: the access path itself, when logged-out profile views of the whole platform rise far above their
usual level.

A crawl spread over enough addresses keeps every address, block of ids and range under its limits;
what it cannot hide is the platform's total. This layer watches one subject, the access path
`PATH` (every logged-out profile view), through its minute summaries (`AddressMinute` over all
logged-out requests, the `path` kind of `detectors.features.minutes`). Its usual level is an
exponentially weighted mean of logged-out views per minute, with a half-life of `half_life_minutes`,
learned only from minutes outside a surge (a minute with no logged-out request counts as 0). Once it
has learned `warmup_minutes`, a minute with at least `factor` times the usual views, when the last ten
minutes hold at least `min_views_10m`, surges; the path gets a `logged_out_surge` hit: a decision with
subject_type `path` that asks enforcement to challenge every logged-out profile view while it is in
force (the policy's time to live for its action). Comparing each minute, not the last ten, acts in the
surge's first minute and keeps its ramp out of the usual level. A rise slower than the half-life
becomes the usual level: this layer is for surges, and the per-address and fleet layers for the rest.
So does a surge that lasts more than `max_minutes`: traffic that stays up that long is the platform's
new level (a campaign, a mention in the news), so its minutes are learned from then on and it no
longer acts, rather than asking every logged-out visitor for a challenge for ever.

It asks every logged-out visitor, people too, to pass a challenge: a platform-design measure, off by
default (`[coordination.surge]`), for a platform that would rather do that than serve a surge.

>>> s = Surge(min_views_10m=100, factor=3.0, half_life_minutes=30, warmup_minutes=10)
>>> for minute in range(20):
...     s.observe(PATH, minute * 60_000, {"logged_out_views_1m": 10, "logged_out_views_10m": 100})
>>> s.observe(PATH, 20 * 60_000, {"logged_out_views_1m": 25, "logged_out_views_10m": 115})
>>> s.hits(PATH, 20 * 60_000, {})
[]
>>> s.observe(PATH, 21 * 60_000, {"logged_out_views_1m": 40, "logged_out_views_10m": 145})
>>> [(f.subject_type, f.subject, f.hits[0].reason) for f in s.flagged(PATH, 21 * 60_000, {})]
[('path', 'logged-out:profile_view', 'logged_out_surge')]
"""

from __future__ import annotations

from typing import Any

from detectors.coordination import Flag
from detectors.features.minutes import MINUTE_MS, PATH
from detectors.layers import Hit, Layer


class Surge(Layer):
    """The platform's logged-out profile views against their usual level (see module docstring)."""

    layer = "surge"
    subject_type = "path"
    reason = "logged_out_surge"

    def __init__(
        self,
        min_views_10m: int = 600,
        factor: float = 3.0,
        half_life_minutes: int = 60,
        warmup_minutes: int = 60,
        max_minutes: int = 360,
        action: str = "challenge",
    ) -> None:
        self.min_views, self.factor, self.warmup, self.action = min_views_10m, factor, warmup_minutes, action
        self.max_minutes = max_minutes
        self.keep = 0.5 ** (1 / half_life_minutes)
        self.level = 0.0  # weighted mean of logged-out views per minute, from 0 (see `usual`)
        self.minute: int | None = None  # the last minute observed
        self.learned = 0  # minutes learned (outside a surge, gaps included)
        self.run = 0  # consecutive minutes above the usual level
        self.surge: dict[str, Any] | None = None  # the current minute's evidence while it surges
        self._remember(min_views_10m=min_views_10m, factor=factor, half_life_minutes=half_life_minutes,
                       warmup_minutes=warmup_minutes, max_minutes=max_minutes, action=action)  # fmt: skip

    def key(self, features: dict[str, Any]) -> str:
        """The group of a row: the one access path."""
        return PATH

    def crawling(self, features: dict[str, Any]) -> bool:
        """Every minute of the path counts."""
        return True

    def observe(self, subject: str, ts: int, features: dict[str, Any]) -> None:
        """One minute of the path: it surges, or its views join the usual level (the minutes since the last one
        observed as minutes without a view)."""
        minute = ts - ts % MINUTE_MS
        if self.minute is not None and minute <= self.minute:
            return  # a minute is observed once
        views, ten = features.get("logged_out_views_1m") or 0, features.get("logged_out_views_10m") or 0
        usual = self.usual()
        above = self.learned >= self.warmup and ten >= self.min_views and views >= self.factor * usual
        self.run = self.run + 1 if above else 0
        if above and self.run <= self.max_minutes:
            self.surge = {
                "logged_out_views_1m": views,
                "usual_views_1m": round(usual, 1),
                "surge_factor": round(views / usual, 2) if usual else None,
                "logged_out_views_10m": ten,
            }
        else:
            self.surge = None
            gap = 1 if self.minute is None else (minute - self.minute) // MINUTE_MS
            self.level = self.level * self.keep**gap + (1 - self.keep) * views
            self.learned += gap
        self.minute = minute  # a surge's minutes are not gaps: they are skipped

    def usual(self) -> float:
        """The usual logged-out views in a minute (the mean corrected for its start at 0)."""
        return self.level / (1 - self.keep**self.learned) if self.learned else 0.0

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        """A `logged_out_surge` hit while the last minute observed surges."""
        if self.surge is None:
            return []
        factor = self.surge["surge_factor"]
        score = 1.0 if factor is None else round(min(1.0, factor / (2 * self.factor)), 3)
        return [Hit(self.reason, self.action, max(score, 0.5), dict(self.surge))]

    def flagged(self, subject: str, ts: int, features: dict[str, Any]) -> list[Flag]:
        """The path's `Flag` while it surges."""
        hits = self.hits(subject, ts, features)
        return [Flag(self.subject_type, PATH, ts, hits)] if hits else []
