"""Supervised layer: a River logistic regression that learns from analyst verdicts.

An analyst's `confirm` is a positive label and `dismiss` a negative one, learned with the
subject's features at the time of its latest assessment. The model counts only once it
has `min_labels` of each class; until then `predict` returns None.

>>> model = VerdictModel(min_labels=2)
>>> bot, person = {"views_1h": 900, "nav_share_1h": 0.0}, {"views_1h": 40, "nav_share_1h": 1.0}
>>> model.predict(bot) is None
True
>>> for _ in range(3):
...     model.learn(bot, True); model.learn(person, False)
>>> model.predict(bot) > 0.5 > model.predict(person)
True
"""

from __future__ import annotations

from typing import Any

from river import linear_model, optim

from detectors.layers import Hit, Layer
from detectors.models.anomaly import scale


class VerdictModel(Layer):
    """Logistic regression on the anomaly model's scaled features, trained on verdicts."""

    layer = "verdicts"

    def __init__(
        self, min_labels: int = 3, learning_rate: float = 0.5, flag_above: float = 0.8, action: str = "challenge"
    ) -> None:
        self.model = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate))
        self.min_labels = min_labels
        self.flag_above, self.action = flag_above, action
        self.labels = {True: 0, False: 0}
        self._remember(min_labels=min_labels, learning_rate=learning_rate, flag_above=flag_above, action=action)

    @property
    def active(self) -> bool:
        """Whether it has enough labels of both classes to count."""
        return min(self.labels.values()) >= self.min_labels

    def learn(self, features: dict[str, Any], scraper: bool) -> None:
        """Learn one verdict."""
        self.model.learn_one(scale(features), scraper)
        self.labels[scraper] += 1

    def predict(self, features: dict[str, Any]) -> float | None:
        """Probability that the subject is a scraper, or None while not active."""
        if not self.active:
            return None
        return round(float(self.model.predict_proba_one(scale(features)).get(True, 0.0)), 4)

    def score(self, subject: str, ts: int, features: dict[str, Any]) -> float | None:
        return self.predict(features)

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        p = self.predict(features)
        if p is None or p < self.flag_above:
            return []
        return [Hit("verdict_model", self.action, p, {"verdict_model_probability": p})]
