"""Where a subject's feature value stands among all subjects: population percentiles for explanations.

Every behaviour row (one subject-minute) adds its numeric features to a fixed histogram
per subject type and feature; `percentile` is the share of rows seen so far whose value
was at most the given one (to the histogram's resolution: 0.01 for shares, 1 up to 100,
about 5% steps above). It also counts what the platform's logs carry (`detectors.absence.Logs`).

>>> p = Population()
>>> for v in range(100):
...     p.add("account", {"views_1h": v})
>>> p.percentile("account", "views_1h", 89), p.percentile("account", "views_1h", 1000)
(90.0, 100.0)
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from detectors.absence import Logs

EDGES = sorted(
    {round(i / 100, 2) for i in range(101)} | set(range(1, 101)) | {round(100 * 1.05**i) for i in range(1, 190)}
)


class Population:
    """Histograms of feature values per subject type."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = {}
        self.totals: dict[tuple[str, str], int] = {}
        self.logs = Logs()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("logs", Logs())  # a population pickled before `logs` counts from its restore

    def add(self, subject_type: str, features: dict[str, Any]) -> None:
        """Count one row's numeric features."""
        self.logs.add(features)
        for name, value in features.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                key = (subject_type, name)
                counts = self.counts.get(key)
                if counts is None:
                    counts = self.counts[key] = [0] * (len(EDGES) + 1)
                counts[bisect_right(EDGES, value)] += 1
                self.totals[key] = self.totals.get(key, 0) + 1

    def percentile(self, subject_type: str, name: str, value: Any) -> float | None:
        """Percent of rows with a value at most `value` (None if the feature was never seen)."""
        counts = self.counts.get((subject_type, name))
        if counts is None or not isinstance(value, (int, float)):
            return None
        upto = sum(counts[: bisect_right(EDGES, value) + 1])
        return round(100 * upto / self.totals[(subject_type, name)], 2)

    def midrank(self, subject_type: str, name: str, value: Any) -> float | None:
        """Like `percentile`, but counting rows in the value's own bin half: a value every row shares is at 50,
        not 100 (how unusual a value is, for ranking)."""
        counts = self.counts.get((subject_type, name))
        if counts is None or not isinstance(value, (int, float)):
            return None
        i = bisect_right(EDGES, value)
        return round(100 * (sum(counts[:i]) + counts[i] / 2) / self.totals[(subject_type, name)], 2)
