"""Behavioural features per account and per address, rolled forward minute by minute.

A behaviour object keeps one subject's minute summaries for the last hour (and, for
accounts, views per hour for the last 24) and, after each new minute, returns its features
at that minute (`update`). 24-hour figures are at hour resolution: they sum the hours that
started in the last 24 hours. It is plain state that
pickles, so the Flink job keeps it in keyed state. Shares are 0 when nothing was counted.

Regularity is measured at minute resolution: `minute_cv_1h` is the coefficient of
variation of the per-minute profile views from the first active minute of the hour to
now (scripts at a steady pace are near 0, people in sessions are well above 1).
`target_density_1h` is distinct target ids over the span of ids they cover: near 1 when
ids are walked in order, near 0 for ids spread over the whole population.
"""

from __future__ import annotations

from collections import deque
from math import sqrt
from typing import Any

from detectors.events import format_ms
from detectors.features.minutes import MINUTE_MS, AccountMinute, AddressMinute

HOUR_MS, DAY_MS = 3_600_000, 86_400_000
MIN_TARGETS = 5
"""Fewer distinct targets than this give no target density (0)."""

ACCOUNT_FEATURES = (
    "views_1m",
    "views_10m",
    "views_1h",
    "views_24h",
    "account_age_s",
    "views_first_hour",
    "profile_share_1h",
    "nav_share_1h",
    "noref_share_1h",
    "not_found_ratio_1h",
    "static_share_1h",
    "scripted_share_1h",
    "browser_share_1h",
    "target_density_1h",
    "minute_cv_1h",
    "active_minutes_1h",
    "hours_active_24h",
    "night_share_24h",
    "ips_per_minute_10m",
)
"""The numbers `AccountBehaviour.update` returns: what an `account` behaviour rule may test."""
ACCOUNT_CONTEXT = (
    "account_created_at",
    "account_created_at_source",
    "target_min_1h",
    "target_max_1h",
    "user_agent",
    "network",
)
"""What else it returns: evidence and fleet keys, not features a rule compares."""
ADDRESS_FEATURES = (
    "logged_out_views_1m",
    "logged_out_views_10m",
    "logged_out_views_1h",
    "requests_10m",
    "not_found_ratio_10m",
    "accounts_per_minute_max_1h",
    "young_account_share_1h",
    "addresses_per_minute_max_1h",
    "crawler_ua_share_10m",
    "target_density_10m",
)
"""The numbers `AddressBehaviour.update` returns (all it returns): what an `ip` behaviour rule may test."""
RULE_FEATURES = {"account": ACCOUNT_FEATURES, "ip": ADDRESS_FEATURES}
"""Subject type of a behaviour rule -> the features its conditions may name (tests hold these to `update`)."""


def share(part: int, whole: int) -> float:
    """part / whole rounded to 4 places, 0 when whole is 0.

    >>> share(1, 3), share(1, 0)
    (0.3333, 0.0)
    """
    return round(part / whole, 4) if whole else 0.0


def density(targets: int, lo: int | None, hi: int | None) -> float:
    """Distinct targets over the id span they cover (0 below `MIN_TARGETS`).

    >>> density(10, 100, 109), density(10, 0, 99_999)
    (1.0, 0.0001)
    """
    if targets < MIN_TARGETS or lo is None or hi is None:
        return 0.0
    return round(min(1.0, targets / (hi - lo + 1)), 4)


class AccountBehaviour:
    """One account's rolling features."""

    def __init__(self, night_hours: tuple[int, int] = (0, 6)) -> None:
        self.rows: deque[AccountMinute] = deque()  # the last hour's minutes (without their strings)
        self.hours: dict[int, int] = {}  # hour start -> views, for the hours that started in the last 24 h
        self.first_seen: int | None = None
        self.created_at: int | None = None
        self.views_first_hour = 0
        self.night = night_hours

    def _is_night(self, minute: int) -> bool:
        lo, hi = self.night
        return lo <= (minute // HOUR_MS) % 24 < hi

    def update(self, m: AccountMinute) -> dict[str, Any]:
        """Add the account's next minute; its features at that minute's last request."""
        if self.first_seen is None:
            self.first_seen = m.first_ts
        if m.created_at is not None:
            self.created_at = m.created_at if self.created_at is None else min(self.created_at, m.created_at)
        self.rows.append(m._replace(subject="", user_agent=None, network=""))  # keyed state: keep it small
        while self.rows[0].minute <= m.minute - HOUR_MS:
            self.rows.popleft()
        hour = m.minute - m.minute % HOUR_MS
        self.hours[hour] = self.hours.get(hour, 0) + m.views
        for h in [h for h in self.hours if h <= m.minute - DAY_MS]:
            del self.hours[h]
        views_24h = sum(self.hours.values())
        night_24h = sum(v for h, v in self.hours.items() if self._is_night(h))
        created, source = (
            (self.created_at, "account_created_at") if self.created_at is not None else (self.first_seen, "first_seen")
        )
        age_ms = m.last_ts - created
        if m.first_ts - created < HOUR_MS:
            self.views_first_hour += m.views
        hour_rows = list(self.rows)
        ten = _last_ten_minutes(hour_rows, m.minute)
        views_1h = sum(r.views for r in hour_rows)
        requests_1h = sum(r.requests for r in hour_rows)
        statics_1h = sum(r.statics for r in hour_rows)
        lo, hi = _target_span(hour_rows)
        return {
            "views_1m": m.views,
            "views_10m": sum(r.views for r in ten),
            "views_1h": views_1h,
            "views_24h": views_24h,
            "account_age_s": age_ms / 1000,
            "account_created_at": format_ms(created),
            "account_created_at_source": source,
            "views_first_hour": self.views_first_hour,
            "profile_share_1h": share(views_1h, requests_1h - statics_1h),
            "nav_share_1h": share(sum(r.nav for r in hour_rows), views_1h),
            "noref_share_1h": share(sum(r.noref for r in hour_rows), views_1h),
            "not_found_ratio_1h": share(sum(r.not_found for r in hour_rows), requests_1h),
            "static_share_1h": share(statics_1h, requests_1h),
            "scripted_share_1h": share(sum(r.scripted for r in hour_rows), requests_1h),
            "browser_share_1h": share(sum(r.browser for r in hour_rows), requests_1h),
            "target_density_1h": density(sum(r.targets for r in hour_rows), lo, hi),
            "minute_cv_1h": _minute_cv(hour_rows, m.minute),
            "active_minutes_1h": sum(1 for r in hour_rows if r.views),
            "hours_active_24h": sum(1 for v in self.hours.values() if v),
            "night_share_24h": share(night_24h, views_24h),
            "ips_per_minute_10m": round(sum(r.ips for r in ten) / len(ten), 3),
            "target_min_1h": lo,
            "target_max_1h": hi,
            "user_agent": m.user_agent,
            "network": m.network,
        }


def _last_ten_minutes(rows: list[Any], now: int) -> list[Any]:
    """The rows (one per minute, oldest first) of the ten minutes up to minute `now`."""
    return [r for r in rows[-10:] if r.minute > now - 10 * MINUTE_MS]


def _target_span(rows: list[Any]) -> tuple[int | None, int | None]:
    """The lowest and highest target id viewed in `rows`."""
    lo = min((r.tmin for r in rows if r.tmin is not None), default=None)
    hi = max((r.tmax for r in rows if r.tmax is not None), default=None)
    return lo, hi


def _minute_cv(rows: list[AccountMinute], now: int) -> float:
    """Coefficient of variation of per-minute views from the first minute with views in `rows` to `now`."""
    active = [r for r in rows if r.views]
    if len(active) < 2:
        return 0.0
    n = (now - active[0].minute) // MINUTE_MS + 1
    total = sum(r.views for r in active)
    mean = total / n
    var = (sum(r.views * r.views for r in active) / n) - mean * mean
    return round(sqrt(max(var, 0.0)) / mean, 3)


class AddressBehaviour:
    """One IP address's (or network's) rolling features."""

    def __init__(self) -> None:
        self.rows: deque[AddressMinute] = deque()

    def update(self, m: AddressMinute) -> dict[str, Any]:
        """Add the address's next minute; its features at that minute's last request."""
        self.rows.append(m._replace(subject=""))
        while self.rows[0].minute <= m.minute - HOUR_MS:
            self.rows.popleft()
        rows = self.rows
        ten = _last_ten_minutes(list(rows), m.minute)
        accounts = sum(r.accounts for r in rows)
        lo, hi = _target_span(ten)
        return {
            "logged_out_views_1m": m.views,
            "logged_out_views_10m": sum(r.views for r in ten),
            "logged_out_views_1h": sum(r.views for r in rows),
            "requests_10m": sum(r.requests for r in ten),
            "not_found_ratio_10m": share(sum(r.not_found for r in ten), sum(r.views for r in ten)),
            "accounts_per_minute_max_1h": max(r.accounts for r in rows),
            "young_account_share_1h": share(sum(r.young for r in rows), accounts),
            "addresses_per_minute_max_1h": max(r.ips for r in rows),
            "crawler_ua_share_10m": share(sum(r.crawler_ua for r in ten), sum(r.requests for r in ten)),
            "target_density_10m": density(sum(r.targets for r in ten), lo, hi),
        }
