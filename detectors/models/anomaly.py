"""Unsupervised layer: River HalfSpaceTrees over an account's scaled behaviour, flagged by a score quantile.

- **Scaling**: HalfSpaceTrees expects features in [0, 1]. Counts are scaled as
  log1p(x) / log1p(cap) and shares are used as they are, both clipped, so the scaling is
  fixed (no drift while the model warms up) and the same in every run.
- **Warm-up**: nothing is flagged before `warmup` rows were learned.
- **Quantile threshold**: a running quantile (River `stats.Quantile`, P²) of every
  row's score; a row is flagged when its score is above it and the account viewed at
  least `min_views_1h` profiles in the last hour (scoring is cheap next to the cost of an
  action; the volume gate keeps quiet accounts out of the flags).
- **Packed anomalies**: HalfSpaceTrees learns the mass of what it sees, so a burst of
  crawlers would soon look normal. Rows that a rule or the model itself flags are never
  learned.

>>> model = AnomalyModel(seed=7, warmup=50)
>>> quiet = {"views_10m": 1, "views_1h": 3, "nav_share_1h": 0.5, "static_share_1h": 0.6}
>>> for _ in range(300):
...     _ = model.observe(quiet, learn=True)
>>> crawler = {"views_10m": 300, "views_1h": 1500, "nav_share_1h": 0.0, "static_share_1h": 0.0}
>>> model.observe(crawler, learn=False)[0] > model.observe(quiet, learn=False)[0]
True
"""

from __future__ import annotations

from math import log1p
from typing import Any

from river import anomaly, stats

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
        if name in features:
            x[name] = min(1.0, log1p(max(0.0, float(features[name]))) / log1p(cap))
    for name in SHARES:
        if name in features:
            x[name] = min(1.0, max(0.0, float(features[name])))
    if "minute_cv_1h" in features:
        x["minute_cv_1h"] = min(1.0, features["minute_cv_1h"] / CV_CAP)
    return x


class AnomalyModel:
    """HalfSpaceTrees with fixed scaling, warm-up and a quantile threshold (see module docstring)."""

    def __init__(
        self,
        seed: int = 42,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        warmup: int = 1000,
        quantile: float = 0.995,
        min_views_1h: int = 20,
    ) -> None:
        self.model = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
        self.threshold = stats.Quantile(quantile)
        self.warmup = max(warmup, window_size)
        self.min_views = min_views_1h
        self.learned = 0

    def observe(self, features: dict[str, Any], learn: bool) -> tuple[float, float | None, bool]:
        """Score a row: (score, threshold, flagged); learn it if `learn` and it is not flagged."""
        x = scale(features)
        score = round(self.model.score_one(x), 6)
        threshold = self.threshold.get()
        self.threshold.update(score)
        flagged = (
            self.learned >= self.warmup
            and threshold is not None
            and score > threshold
            and features.get("views_1h", 0) >= self.min_views
        )
        if learn and not flagged:
            self.model.learn_one(x)
            self.learned += 1
        return score, threshold, flagged
