"""Anchor (a): the static rate limit most platforms already run, tuned on the labels themselves.

Two limits, each over a sliding event-time window closed on both ends ([t - w, t], as
in the detector):

- **account**: profile views (any status) per account per hour > A -> throttle the account;
- **IP**: requests (any route, logged in or not) per IP per minute > B -> throttle the IP.

The anchor acts at the first event whose count crosses a limit. An IP throttle is in
force for one window (60 s: the address is refused until its minute count falls back)
and reaches accounts by the rules of `evaluation.attribution`. Throttles never block.

A and B are tuned on the very labels being evaluated, so the anchor is as good as a
static limit can be on this traffic: the pair with the best macro recall subject to a
benign flag rate <= 0.1 %; ties go to the lower benign rate, then the higher A, then
the higher B. Candidates are 40 log-spaced integers in [20, 2000], plus the exact
peaks of benign actors in that range (the top `allowed + 1` distinct ones, where the
benign bound changes), plus "off". Tuning is one pass: each counter keeps its peak and
the first time it reached each level (`WindowCounter`), so "first time the count
exceeded L" is a list lookup for any L, and each (A, B) pair is a set union.

>>> c = WindowCounter(60_000, cap=10)
>>> for ts in (0, 1_000, 2_000, 61_000, 61_500):
...     c.add(ts)
>>> c.peak, c.crossed_at(2), c.crossed_at(3)
(3, 2000, None)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evaluation.attribution import NOT_FLAGGED, Outcome, Presence
from evaluation.labels import is_benign, is_scraper

ACCOUNT_WINDOW_MS = 3_600_000
IP_WINDOW_MS = 60_000
IP_THROTTLE_MS = IP_WINDOW_MS
"""How long an IP throttle is in force, for attributing it to accounts."""
MAX_BENIGN_FLAG_RATE = 0.001
GRID = (20, 2000, 40)
"""Candidate thresholds: (lowest, highest, how many log-spaced values)."""


class WindowCounter:
    """Events of one entity in a sliding window: the count, its peak, and when each level was first reached."""

    __slots__ = ("cap", "peak", "reach", "times", "window")

    def __init__(self, window_ms: int, cap: int) -> None:
        self.window = window_ms
        self.cap = cap
        self.times: deque[int] = deque()
        self.peak = 0
        self.reach: list[int] = []  # reach[k - 1]: first time the count was k (k <= cap)

    def add(self, ts: int) -> None:
        """Count an event at `ts` (events come in event-time order)."""
        times = self.times
        times.append(ts)
        low = ts - self.window
        while times[0] < low:
            times.popleft()
        n = len(times)
        if n > self.peak:
            self.peak = n
            if n <= self.cap:
                self.reach.append(ts)

    def crossed_at(self, limit: int | None) -> int | None:
        """The first time the count exceeded `limit` (None: never, or the limit is off)."""
        if limit is None or self.peak <= limit:
            return None
        if limit >= self.cap:
            raise ValueError(f"limit {limit} is beyond what this counter tracks ({self.cap - 1})")
        return self.reach[limit]


def log_grid(low: int, high: int, n: int) -> list[int]:
    """`n` log-spaced integers from `low` to `high` (duplicates after rounding removed).

    >>> log_grid(20, 2000, 5)
    [20, 63, 200, 632, 2000]
    """
    if n < 2:
        return [low]
    return sorted({round(low * (high / low) ** (i / (n - 1))) for i in range(n)})


@dataclass
class Tuning:
    """The chosen limits (None = off), the outcomes they give, and how the choice was made."""

    account_limit: int | None
    ip_limit: int | None
    outcomes: dict[str, Outcome]
    macro_recall: float
    benign_flag_rate: float
    account_candidates: list[int | None] = field(default_factory=list)
    ip_candidates: list[int | None] = field(default_factory=list)
    pairs_evaluated: int = 0
    pairs_within_bound: int = 0

    def to_json(self) -> dict[str, Any]:
        """The tuning as plain JSON values."""
        return {
            "account_profile_views_per_hour": self.account_limit,
            "ip_requests_per_minute": self.ip_limit,
            "macro_recall": self.macro_recall,
            "benign_flag_rate": self.benign_flag_rate,
            "max_benign_flag_rate": MAX_BENIGN_FLAG_RATE,
            "account_candidates": self.account_candidates,
            "ip_candidates": self.ip_candidates,
            "pairs_evaluated": self.pairs_evaluated,
            "pairs_within_bound": self.pairs_within_bound,
        }


def _top_peaks(peaks: list[int], low: int, high: int, how_many: int) -> list[int]:
    inside = sorted({p for p in peaks if low <= p <= high}, reverse=True)
    return inside[:how_many]


def tune(
    labels: Mapping[str, str],
    account_counters: Mapping[str, WindowCounter],
    ip_counters: Mapping[str, WindowCounter],
    presence: Mapping[str, Mapping[str, Presence]],
    grid: tuple[int, int, int] = GRID,
    max_benign_rate: float = MAX_BENIGN_FLAG_RATE,
) -> Tuning:
    """Choose A and B on the labels (see the module docstring) and return them with their outcomes.

    `account_counters` is keyed by actor key, `ip_counters` by address, `presence` by
    actor key then address.
    """
    low, high, n = grid
    benign = [k for k, kind in labels.items() if is_benign(kind)]
    scraper_kinds: dict[str, set[str]] = {}
    for key, kind in labels.items():
        if is_scraper(kind):
            scraper_kinds.setdefault(kind, set()).add(key)
    allowed = int(max_benign_rate * len(benign) + 1e-9)  # benign actors that may be flagged

    benign_account_peaks = [account_counters[k].peak for k in benign if k in account_counters]
    benign_ips = {k[3:] for k in benign if k.startswith("ip:")} | {ip for k in benign for ip in presence.get(k, {})}
    benign_ip_peaks = [ip_counters[ip].peak for ip in benign_ips if ip in ip_counters]
    base = log_grid(low, high, n)
    a_values: list[int | None] = [*sorted({*base, *_top_peaks(benign_account_peaks, low, high, allowed + 1)}), None]
    b_values: list[int | None] = [*sorted({*base, *_top_peaks(benign_ip_peaks, low, high, allowed + 1)}), None]

    by_account = {a: _account_hits(labels, account_counters, a) for a in a_values}
    by_ip = {b: _ip_hits(labels, ip_counters, presence, b) for b in b_values}
    benign_set = set(benign)
    best: tuple[Any, ...] | None = None
    evaluated = within = 0
    for a, hits_a in by_account.items():
        benign_a = benign_set.intersection(hits_a)
        if len(benign_a) > allowed:
            evaluated += len(by_ip)
            continue
        for b, hits_b in by_ip.items():
            evaluated += 1
            flagged_benign = len(benign_a.union(benign_set.intersection(hits_b)))
            if flagged_benign > allowed:
                continue
            within += 1
            recalls = [
                sum(1 for key in members if key in hits_a or key in hits_b) / len(members)
                for members in scraper_kinds.values()
            ]
            macro = sum(recalls) / len(recalls) if recalls else 0.0
            rate = flagged_benign / len(benign) if benign else 0.0
            rank = (macro, -rate, _up(a), _up(b))
            if best is None or rank > best[0]:
                best = (rank, a, b, macro, rate)
    assert best is not None  # (off, off) flags nobody, so it is always within the bound
    _, a, b, macro, rate = best
    outcomes: dict[str, Outcome] = {}
    hits_a, hits_b = by_account[a], by_ip[b]
    for key in labels:
        times = [t for t in (hits_a.get(key), hits_b.get(key)) if t is not None]
        outcomes[key] = Outcome(min(times), False) if times else NOT_FLAGGED
    return Tuning(a, b, outcomes, macro, rate, a_values, b_values, evaluated, within)


def _up(limit: int | None) -> float:
    return float("inf") if limit is None else float(limit)


def _account_hits(
    labels: Mapping[str, str], counters: Mapping[str, WindowCounter], limit: int | None
) -> dict[str, int]:
    """Account-keyed actors the account limit acts on -> when."""
    out: dict[str, int] = {}
    if limit is None:
        return out
    for key in labels:
        counter = counters.get(key)
        crossed = None if counter is None else counter.crossed_at(limit)
        if crossed is not None:
            out[key] = crossed
    return out


def _ip_hits(
    labels: Mapping[str, str],
    counters: Mapping[str, WindowCounter],
    presence: Mapping[str, Mapping[str, Presence]],
    limit: int | None,
) -> dict[str, int]:
    """Actors the IP limit reaches (directly, or through an IP they used) -> when."""
    out: dict[str, int] = {}
    if limit is None:
        return out
    for key in labels:
        if key.startswith("ip:"):
            counter = counters.get(key[3:])
            crossed = None if counter is None else counter.crossed_at(limit)
            if crossed is not None:
                out[key] = crossed
            continue
        first = None
        for ip, used in presence.get(key, {}).items():
            counter = counters.get(ip)
            t = None if counter is None else counter.crossed_at(limit)
            if t is None:
                continue
            reached = used.reached_at(t, t + IP_THROTTLE_MS)
            if reached is not None and (first is None or reached < first):
                first = reached
        if first is not None:
            out[key] = first
    return out
