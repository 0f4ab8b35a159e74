"""What every detection layer implements: rule families, models and the coordination detector.

In the spirit of River's `learn_one` / `score_one`: a layer `observe`s a subject's features
(models learn from them; rules keep nothing), `score`s them (how unusual, or how likely a
scraper; None when it has no opinion), and says which `hits` they raise. `clone` gives a
fresh layer with the same parameters and nothing learned. Every layer pickles, so the
Flink job can keep it in state, and is deterministic for its seed
(`tests/test_layer_contract.py` checks all of this for every subclass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hit:
    """A layer's finding on one subject: the action it asks for and why."""

    reason: str
    action: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


class Layer:
    """One detection layer (see module docstring). `layer` names it in fusion and explanations."""

    layer: str = ""
    subject_type: str = "account"
    rests_on: frozenset[str] = frozenset()
    """The kinds of the logs (assets, referers) whose absence its hits rest on (`detectors.absence`)."""
    reasons: tuple[str, ...] = ()
    """The reasons of its hits, where they rest on an absence."""

    def observe(self, subject: str, ts: int, features: dict[str, Any]) -> None:
        """Learn from one row of the subject's features (rules learn nothing)."""

    def ahead(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """See a row time's rows (subject, features) before they are observed one by one (a group layer may
        need the whole row time to tell what a row is; most need nothing)."""

    def score(self, subject: str, ts: int, features: dict[str, Any]) -> float | None:
        """How unusual (or how likely a scraper) the row is, in 0..1; None without an opinion."""
        return None

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        """The hits the row raises."""
        raise NotImplementedError

    def clone(self) -> Layer:
        """A fresh layer with the same parameters and nothing learned."""
        return type(self)(**self.params)

    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments (what `clone` rebuilds from)."""
        return dict(self._params)

    def _remember(self, **params: Any) -> None:
        """Keep the constructor arguments (call in `__init__`)."""
        self._params = params
