"""Profile-view counts over trailing event-time windows, and account age.

Windows are closed on both ends, `[t - window, t]`, and every event at `t` counts:
the semantics of Flink SQL's `RANGE BETWEEN INTERVAL ... PRECEDING AND CURRENT ROW`.

>>> f = SubjectFeatures([0, 1_000, 1_000, 61_000], windows={"1m": 60_000})
>>> f.at(1_000), f.at(61_000), f.at(61_001)
({'profile_views_1m': 3}, {'profile_views_1m': 3}, {'profile_views_1m': 1})
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from detectors.events import format_ms

FIRST_VIEW, FROM_EVENT = "first_view", "account_created_at"


class SubjectFeatures:
    """Counts of one subject's counted events (e.g. profile views) at any event time."""

    def __init__(self, timestamps: list[int], windows: dict[str, int]) -> None:
        self.timestamps = sorted(timestamps)
        self.windows = windows

    def at(self, ts: int) -> dict[str, int]:
        """`profile_views_<label>` for each window, at event time `ts`."""
        end = bisect_right(self.timestamps, ts)
        return {
            f"profile_views_{label}": end - bisect_left(self.timestamps, ts - ms) for label, ms in self.windows.items()
        }


def account_age(ts: int, created_at: int | None, first_view: int) -> dict[str, Any]:
    """Age features: from `account_created_at` when the events carry it, else from the account's first profile view.

    >>> account_age(90_500, None, 30_000)["account_age_s"]
    60.5
    """
    created, source = (created_at, FROM_EVENT) if created_at is not None else (first_view, FIRST_VIEW)
    return {
        "account_age_s": (ts - created) / 1000,
        "account_created_at": format_ms(created),
        "account_created_at_source": source,
    }
