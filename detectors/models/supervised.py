"""Supervised layer: a River logistic regression fitted to analyst verdicts.

An analyst's `confirm` is a positive label and `dismiss` a negative one, learned with the
subject's features at the time of its latest assessment. The model counts only once it
has `min_labels` of each class; until then `predict` returns None.

Verdicts do not come as a sample of the platform. Analysts review what was flagged, so most
confirm, and they confirm a campaign's accounts together. A model learned online, in the
verdicts' order, drifts toward the class that came last and toward the queue's share of
scrapers, and ends up flagging every account it scores (measured on `default`, README). So:

- **Order-free:** the model is refitted on all its examples whenever new verdicts came
  (`fit`; the learner calls it before it publishes a version, so scorers never fit): in a
  canonical order, shuffled by a fixed seed, over `EPOCHS` passes. Used on its own, `predict`
  refits once its verdicts have doubled since the last fit, so a caller that scores after every
  verdict pays for fits in proportion to the verdicts, not to their square.
- **Class-balanced:** each class weighs half, whatever the queue's mix.
- **The people it has not seen:** the last `background` rows of the population that nothing
  flagged (`observe`, from the learner's sample) count as unconfirmed negatives. A handful
  of dismissals cannot show what the platform's people look like; they can.

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

import random
from collections import Counter, deque
from typing import Any

from river import linear_model, optim

from detectors.layers import Hit, Layer
from detectors.models.anomaly import scale

EPOCHS = 10
"""Passes over the examples per fit."""
MAX_LABELS = 10_000
"""The most recent verdicts kept as examples."""


class VerdictModel(Layer):
    """Logistic regression on the anomaly model's scaled features, fitted to verdicts (see module docstring)."""

    layer = "verdicts"

    def __init__(
        self,
        min_labels: int = 3,
        learning_rate: float = 0.5,
        flag_above: float = 0.8,
        action: str = "challenge",
        background: int = 0,
    ) -> None:
        self.min_labels, self.learning_rate = min_labels, learning_rate
        self.flag_above, self.action = flag_above, action
        self.labels = {True: 0, False: 0}
        self.labelled: deque[tuple[dict[str, float], bool]] = deque(maxlen=MAX_LABELS)
        self.unflagged: deque[dict[str, float]] = deque(maxlen=background)
        self.model = linear_model.LogisticRegression(optimizer=optim.SGD(learning_rate))
        self.fitted_on = 0  # verdicts at the last fit
        self._remember(
            min_labels=min_labels, learning_rate=learning_rate, flag_above=flag_above, action=action,
            background=background,
        )  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A model pickled before refitting keeps its online model until its next verdict."""
        old: dict[str, Any] = {"labelled": deque(maxlen=MAX_LABELS), "unflagged": deque(maxlen=0)}
        old.update(fitted_on=sum(state["labels"].values()), learning_rate=state["_params"]["learning_rate"])
        self.__dict__.update({**old, **state})

    @property
    def fitted(self) -> bool:
        """Whether it is fitted to every verdict it learned."""
        return self.fitted_on == sum(self.labels.values())

    @property
    def active(self) -> bool:
        """Whether it has enough labels of both classes to count."""
        return min(self.labels.values()) >= self.min_labels

    def learn(self, features: dict[str, Any], scraper: bool) -> None:
        """Learn one verdict (fitted at the next `fit`)."""
        self.labelled.append((scale(features), scraper))
        self.labels[scraper] += 1

    def observe(self, subject: str, ts: int, features: dict[str, Any]) -> None:
        """A row of the population that nothing flagged: one of the last `background`, as an unconfirmed negative."""
        if self.unflagged.maxlen:
            self.unflagged.append(scale(features))

    def fit(self, doubled: bool = False) -> None:
        """Refit, order-free and class-balanced, if it is active and verdicts came since the last fit (with
        `doubled`, only once they have doubled)."""
        verdicts = sum(self.labels.values())
        if not self.active or verdicts == self.fitted_on or (doubled and verdicts < 2 * self.fitted_on):
            return
        examples = sorted([*self.labelled, *((x, False) for x in self.unflagged)], key=_canonical)
        weight = {y: len(examples) / (2 * n) for y, n in Counter(y for _, y in examples).items()}
        model = linear_model.LogisticRegression(optimizer=optim.SGD(self.learning_rate))
        rng = random.Random(len(examples))
        for _ in range(EPOCHS):
            rng.shuffle(examples)
            for x, y in examples:
                model.learn_one(x, y, w=weight[y])
        self.model, self.fitted_on = model, verdicts

    def predict(self, features: dict[str, Any]) -> float | None:
        """Probability that the subject is a scraper, or None while not active."""
        if not self.active:
            return None
        self.fit(doubled=True)
        return round(float(self.model.predict_proba_one(scale(features)).get(True, 0.0)), 4)

    def score(self, subject: str, ts: int, features: dict[str, Any]) -> float | None:
        return self.predict(features)

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        p = self.predict(features)
        if p is None or p < self.flag_above:
            return []
        return [Hit("verdict_model", self.action, p, {"verdict_model_probability": p})]


def _canonical(example: tuple[dict[str, float], bool]) -> tuple[tuple[tuple[str, float], ...], bool]:
    return tuple(sorted(example[0].items())), example[1]
