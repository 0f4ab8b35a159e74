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

from detectors.models.anomaly import scale


class VerdictModel:
    """Logistic regression on the anomaly model's scaled features, trained on verdicts."""

    def __init__(self, min_labels: int = 3, learning_rate: float = 0.5) -> None:
        self.model = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate))
        self.min_labels = min_labels
        self.labels = {True: 0, False: 0}

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
