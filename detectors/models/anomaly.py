"""Unsupervised layer: HalfSpaceTrees over an account's scaled behaviour, flagged by a score quantile.

- **Trees**: River's, laid out flat (`detectors.models.halfspace`): the same trees and scores.
- **Scaling**: HalfSpaceTrees expects features in [0, 1]. Counts are scaled as
  log1p(x) / log1p(cap) and shares are used as they are, both clipped, so the scaling is
  fixed (no drift while the model warms up) and the same in every run.
- **Warm-up**: nothing is flagged before `warmup` rows were learned.
- **Quantile threshold**: a running quantile (River `stats.Quantile`, P²) of the scores of
  the rows it observes; a row is flagged when its score is above it and the account viewed
  at least `min_views_1h` profiles in the last hour (the volume gate keeps quiet accounts
  out of the flags).
- **Packed anomalies**: HalfSpaceTrees learns the mass of what it sees, so a burst of
  crawlers would soon look normal. A row the model flags is never learned, and the learner
  (`detectors.learner`) does not show it rows that a rule hit.

>>> model = AnomalyModel(seed=7, warmup=50)
>>> quiet = {"views_10m": 1, "views_1h": 3, "nav_share_1h": 0.5, "static_share_1h": 0.6}
>>> for _ in range(300):
...     model.observe("a", 0, quiet)
>>> crawler = {"views_10m": 300, "views_1h": 1500, "nav_share_1h": 0.0, "static_share_1h": 0.0}
>>> model.score("c", 0, crawler) > model.score("a", 0, quiet)
True
"""

from __future__ import annotations

from math import log1p
from typing import Any

from river import anomaly, stats

from detectors.layers import Hit, Layer
from detectors.models.halfspace import HalfSpaceTrees

COUNTS = {"views_1m": 60, "views_10m": 500, "views_1h": 2000, "views_24h": 10000, "ips_per_minute_10m": 20}
SHARES = (
    "profile_share_1h",
    "nav_share_1h",
    "noref_share_1h",
    "not_found_ratio_1h",
    "static_share_1h",
    "scripted_share_1h",
    "browser_share_1h",
    "target_density_1h",
)
CV_CAP = 4.0


def scale(features: dict[str, Any]) -> dict[str, float]:
    """The model's input: every known feature present in `features`, in [0, 1]."""
    x = {}
    for name, cap in COUNTS.items():
        if features.get(name) is not None:
            x[name] = min(1.0, log1p(max(0.0, float(features[name]))) / log1p(cap))
    for name in SHARES:
        if features.get(name) is not None:
            x[name] = min(1.0, max(0.0, float(features[name])))
    if features.get("minute_cv_1h") is not None:
        x["minute_cv_1h"] = min(1.0, features["minute_cv_1h"] / CV_CAP)
    return x


class AnomalyModel(Layer):
    """HalfSpaceTrees with fixed scaling, warm-up and a quantile threshold (see module docstring)."""

    layer = "anomaly"

    def __init__(
        self,
        seed: int = 42,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        warmup: int = 1000,
        quantile: float = 0.995,
        min_views_1h: int = 20,
        action: str = "throttle",
    ) -> None:
        self.model = HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
        self.threshold = stats.Quantile(quantile)
        self.warmup = max(warmup, window_size)
        self.min_views = min_views_1h
        self.action = action
        self.learned = 0
        self._previous: float | None = None
        self._remember(seed=seed, n_trees=n_trees, height=height, window_size=window_size, warmup=warmup,
                       quantile=quantile, min_views_1h=min_views_1h, action=action)  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore; a model file or checkpoint from before the flat trees holds River's, converted here."""
        if isinstance(state["model"], anomaly.HalfSpaceTrees):
            state["model"] = HalfSpaceTrees.from_river(state["model"])
        self.__dict__.update(state)

    def score(self, subject: str, ts: int, features: dict[str, Any]) -> float:
        return round(float(self.model.score_one(scale(features))), 6)

    def flagged(self, score: float, features: dict[str, Any], threshold: float | None = None) -> bool:
        """Whether a row with this score is an anomaly for the model as it is now (or with `threshold`)."""
        threshold = self.threshold.get() if threshold is None else threshold
        return (
            self.learned >= self.warmup
            and threshold is not None
            and score > threshold
            and (features.get("views_1h") or 0) >= self.min_views
        )

    def observe(self, subject: str, ts: int, features: dict[str, Any]) -> None:
        """Track the row's score in the threshold quantile; learn the row unless the model flags it."""
        score = self.calibrate(features)
        x = scale(features)
        if x and not self.flagged(score, features, self._previous):
            self.model.learn_one(x)
            self.learned += 1

    def calibrate(self, features: dict[str, Any]) -> float:
        """Track a row's score in the threshold quantile without learning the row (a rule hit it); its score."""
        score = self.score("", 0, features)
        self._previous = self.threshold.get()
        self.threshold.update(score)
        return score

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        if (features.get("views_1h") or 0) < self.min_views or self.learned < self.warmup:
            return []  # cheap gates first: scoring is the expensive part
        score = self.score(subject, ts, features)
        if not self.flagged(score, features):
            return []
        evidence = {"anomaly_score": score, "anomaly_threshold": self.threshold.get()}
        return [Hit("anomaly_score", self.action, min(1.0, score), evidence)]
