"""Behavioural features per account and per address, rolled forward minute by minute.

A behaviour object keeps what one subject did in the last hour, one small tuple of counts
per active minute, and for accounts its profile views per hour for the last day; after
each new minute `update` returns the subject's features at that minute. It is plain state
that pickles small, so the Flink job keeps it in keyed state (`ACCOUNT_FEATURES` and
`ADDRESS_FEATURES` name what `update` returns). Shares are 0 when nothing was counted;
profile views per page of search results count at least one page.

Resolutions: windows up to an hour are at minute resolution (the minutes whose start lies
in the window, the current one included); 24-hour figures are at hour resolution (the
hours that started in the last 24 hours). Regularity is measured per minute:
`minute_cv_1h` is the coefficient of variation of the per-minute profile views from the
first active minute of the hour to now (scripts at a steady pace are near 0, people in
sessions are well above 1). `target_density_1h` is distinct target ids over the span of
ids they cover: near 1 when ids are walked in order, near 0 for ids spread over the whole
population. Without `account_created_at`, an account's age counts from its first profile
view (`account_created_at_source` says which).
"""

from __future__ import annotations

from math import sqrt
from typing import Any

from detectors.events import format_ms
from detectors.features.minutes import MINUTE_MS, AccountMinute, AddressMinute

HOUR_MS, DAY_MS = 3_600_000, 86_400_000
MIN_TARGETS = 5
"""Fewer distinct targets than this give no target density (0)."""

ACCOUNT_FEATURES = (
    "views_1m", "views_10m", "views_1h", "views_24h", "views_total", "account_age_s", "account_created_at",
    "account_created_at_source", "profile_share_1h", "nav_share_1h", "noref_share_1h", "not_found_ratio_1h",
    "static_share_1h", "scripted_share_1h", "browser_share_1h", "target_density_1h", "minute_cv_1h",
    "active_minutes_1h", "hours_active_24h", "night_share_24h", "ips_per_minute_10m", "target_min_1h",
    "target_max_1h", "user_agent", "network", "account_tier", "lookups_10m", "lookups_1h", "searches_10m",
    "searches_1h", "views_per_search_10m", "views_per_search_1h",
)  # fmt: skip
"""What `AccountBehaviour.update` returns."""
ACCOUNT_CONTEXT = (
    "account_created_at", "account_created_at_source", "target_min_1h", "target_max_1h", "user_agent", "network",
    "account_tier",
)  # fmt: skip
"""Those of them that are evidence and cohort keys, not numbers a rule compares."""
ADDRESS_FEATURES = (
    "logged_out_views_1m", "logged_out_views_10m", "logged_out_views_1h", "requests_10m", "not_found_ratio_10m",
    "static_share_10m", "noref_share_10m", "crawler_ua_share_10m", "target_density_10m",
    "addresses_per_minute_max_1h", "target_min_1m", "logged_out_searches_10m", "logged_out_searches_1h",
    "logged_out_views_per_search_10m", "logged_out_views_per_search_1h", "scripted_share_10m", "browser_share_10m",
)  # fmt: skip
"""What `AddressBehaviour.update` returns (all numbers)."""
RULE_FEATURES = {
    "account": tuple(f for f in ACCOUNT_FEATURES if f not in ACCOUNT_CONTEXT),
    "ip": ADDRESS_FEATURES,
}
"""Subject type of a behaviour rule -> the features its conditions may name (tests hold these to `update`)."""

# Positions in an account's per-minute tuple.
_MIN, _VIEWS, _REQ, _STAT, _NAV, _NOREF, _NF, _SCR, _BRW, _TGT, _IPS, _LO, _HI, _LOOK, _SEARCH = range(15)
# ... and in an address's.
_AVIEWS, _AREQ, _ANF, _ASTAT, _ANOREF, _AIPS, _ACRAWL, _ATGT, _ALO, _AHI, _ASEARCH, _ASCR, _ABRW = range(1, 14)


def share(part: int, whole: int) -> float:
    """part / whole rounded to 4 places, 0 when whole is 0.

    >>> share(1, 3), share(1, 0)
    (0.3333, 0.0)
    """
    return round(part / whole, 4) if whole else 0.0


def per(part: int, whole: int) -> float:
    """part per one of whole, rounded to 4 places; whole counts at least 1.

    >>> per(3, 30), per(3, 0)
    (0.1, 3.0)
    """
    return round(part / max(whole, 1), 4)


def _column(rows: list[tuple[Any, ...]], i: int) -> int:
    """The sum of column `i` over rows, 0 for rows kept before the column was counted (state of an older version)."""
    return sum(r[i] for r in rows if len(r) > i)


def density(targets: int, lo: int | None, hi: int | None) -> float:
    """Distinct targets over the id span they cover (0 below `MIN_TARGETS`).

    >>> density(10, 100, 109), density(10, 0, 99_999)
    (1.0, 0.0001)
    """
    if targets < MIN_TARGETS or lo is None or hi is None:
        return 0.0
    return round(min(1.0, targets / (hi - lo + 1)), 4)


def _span(rows: list[tuple[Any, ...]], lo: int, hi: int) -> tuple[int | None, int | None]:
    los = [r[lo] for r in rows if r[lo] is not None]
    his = [r[hi] for r in rows if r[hi] is not None]
    return (min(los) if los else None), (max(his) if his else None)


def _since(rows: list[tuple[Any, ...]], now: int, ms: int) -> list[tuple[Any, ...]]:
    """The rows (one per active minute, oldest first) of the `ms` up to minute `now`."""
    start = now - ms
    return [r for r in rows if r[_MIN] > start]


# A minute's tuple: (minute, views, requests, statics, nav, noref, not_found, scripted, browser, targets, ips, tmin,
# tmax), the counts first so that one zip sums them (tmin and tmax may be None and are never summed).


class AccountBehaviour:
    """One account's rolling state (see module docstring)."""

    def __init__(self, night_hours: tuple[int, int] = (0, 6)) -> None:
        self.minutes: list[tuple[Any, ...]] = []  # the last hour's active minutes, oldest first
        self.hours: dict[int, int] = {}  # hour start -> views, for the hours that started in the last 24 h
        self.created_at: int | None = None
        self.first_view: int | None = None
        self.views_total = 0
        self.night = night_hours
        self.tier: str | None = None

    def update(self, m: AccountMinute) -> dict[str, Any]:
        """Add the account's next minute; its features at that minute's last request."""
        if m.created_at is not None:
            self.created_at = m.created_at if self.created_at is None else min(self.created_at, m.created_at)
        if m.first_view is not None and self.first_view is None:
            self.first_view = m.first_view
        self.views_total += m.views
        self.tier = m.tier or getattr(self, "tier", None)  # the latest the platform asserted
        self.minutes = [r for r in self.minutes if r[_MIN] > m.minute - HOUR_MS]
        self.minutes.append(
            (m.minute, m.views, m.requests, m.statics, m.nav, m.noref, m.not_found, m.scripted, m.browser,
             m.targets, m.ips, m.tmin, m.tmax, m.lookups, m.searches)
        )  # fmt: skip
        hour = m.minute - m.minute % HOUR_MS
        self.hours[hour] = self.hours.get(hour, 0) + m.views
        self.hours = {h: v for h, v in self.hours.items() if h > m.minute - DAY_MS}
        rows = self.minutes
        ten = _since(rows, m.minute, 10 * MINUTE_MS)
        totals = [sum(column) for column in zip(*(r[:_LO] for r in rows), strict=True)]
        views_1h, requests_1h, statics_1h = totals[_VIEWS], totals[_REQ], totals[_STAT]
        views_24h = sum(self.hours.values())
        lo, hi = _span(rows, _LO, _HI)
        views_10m = sum(r[_VIEWS] for r in ten)
        searches_10m, searches_1h = _column(ten, _SEARCH), _column(rows, _SEARCH)
        return {
            "views_1m": m.views,
            "views_10m": views_10m,
            "views_1h": views_1h,
            "views_24h": views_24h,
            "views_total": self.views_total,
            **self.age(m.last_ts),
            "profile_share_1h": share(views_1h, requests_1h - statics_1h),
            "nav_share_1h": share(totals[_NAV], views_1h),
            "noref_share_1h": share(totals[_NOREF], views_1h),
            "not_found_ratio_1h": share(totals[_NF], requests_1h),
            "static_share_1h": share(statics_1h, requests_1h),
            "scripted_share_1h": share(totals[_SCR], requests_1h),
            "browser_share_1h": share(totals[_BRW], requests_1h),
            "target_density_1h": density(totals[_TGT], lo, hi),
            "minute_cv_1h": _minute_cv(rows, m.minute),
            "active_minutes_1h": sum(1 for r in rows if r[_VIEWS]),
            "hours_active_24h": sum(1 for v in self.hours.values() if v),
            "night_share_24h": share(sum(v for h, v in self.hours.items() if self._is_night(h)), views_24h),
            "ips_per_minute_10m": round(sum(r[_IPS] for r in ten) / len(ten), 3),
            "target_min_1h": lo,
            "target_max_1h": hi,
            "user_agent": m.user_agent,
            "network": m.network,
            "account_tier": self.tier,
            "lookups_10m": _column(ten, _LOOK),
            "lookups_1h": _column(rows, _LOOK),
            "searches_10m": searches_10m,
            "searches_1h": searches_1h,
            "views_per_search_10m": per(views_10m, searches_10m),
            "views_per_search_1h": per(views_1h, searches_1h),
        }

    def age(self, ts: int) -> dict[str, Any]:
        """Age features at `ts`: from `account_created_at` when the events carry it, else from the first view."""
        created, source = (
            (self.created_at, "account_created_at") if self.created_at is not None else (self.first_view, "first_view")
        )
        if created is None:
            return {"account_age_s": None, "account_created_at": None, "account_created_at_source": None}
        return {
            "account_age_s": (ts - created) / 1000,
            "account_created_at": format_ms(created),
            "account_created_at_source": source,
        }

    def views_in(self, now: int, ms: int) -> int:
        """Profile views in the `ms` up to minute `now` (at minute resolution up to an hour, else hourly)."""
        if ms <= HOUR_MS:
            return sum(r[_VIEWS] for r in _since(self.minutes, now, ms))
        return sum(v for h, v in self.hours.items() if h > now - ms)

    def _is_night(self, hour: int) -> bool:
        lo, hi = self.night
        return lo <= (hour // HOUR_MS) % 24 < hi


def _minute_cv(rows: list[tuple[Any, ...]], now: int) -> float:
    """Coefficient of variation of per-minute views from the first minute with views in `rows` to `now`."""
    active = [r for r in rows if r[_VIEWS]]
    if len(active) < 2:
        return 0.0
    n = (now - active[0][_MIN]) // MINUTE_MS + 1
    total = sum(r[_VIEWS] for r in active)
    mean = total / n
    var = (sum(r[_VIEWS] * r[_VIEWS] for r in active) / n) - mean * mean
    return round(float(sqrt(max(var, 0.0)) / mean), 3)


class AddressBehaviour:
    """One IP address's (or network's) rolling state: its logged-out requests."""

    def __init__(self) -> None:
        self.minutes: list[tuple[Any, ...]] = []
        self.hours: dict[int, int] = {}  # hour start -> logged-out views, for the hours that started in the last 24 h

    def update(self, m: AddressMinute) -> dict[str, Any]:
        """Add the address's next minute; its features at that minute's last request."""
        self.minutes = [r for r in self.minutes if r[_MIN] > m.minute - HOUR_MS]
        hour = m.minute - m.minute % HOUR_MS
        self.hours = {h: v for h, v in self.hours.items() if h > m.minute - DAY_MS}
        self.hours[hour] = self.hours.get(hour, 0) + m.views
        self.minutes.append(
            (m.minute, m.views, m.requests, m.not_found, m.statics, m.noref, m.ips, m.crawler_ua, m.targets,
             m.tmin, m.tmax, m.searches, m.scripted, m.browser)
        )  # fmt: skip
        rows = self.minutes
        ten = _since(rows, m.minute, 10 * MINUTE_MS)
        t = [sum(r[i] for r in ten) if i else 0 for i in range(_ATGT + 1)]
        lo, hi = _span(ten, _ALO, _AHI)
        views_1h = sum(r[_AVIEWS] for r in rows)
        searches_10m, searches_1h = _column(ten, _ASEARCH), _column(rows, _ASEARCH)
        return {
            "logged_out_views_1m": m.views,
            "logged_out_views_10m": t[_AVIEWS],
            "logged_out_views_1h": views_1h,
            "requests_10m": t[_AREQ],
            "not_found_ratio_10m": share(t[_ANF], t[_AVIEWS]),
            "static_share_10m": share(t[_ASTAT], t[_AREQ]),
            "noref_share_10m": share(t[_ANOREF], t[_AVIEWS]),
            "crawler_ua_share_10m": share(t[_ACRAWL], t[_AREQ]),
            "target_density_10m": density(t[_ATGT], lo, hi),
            "addresses_per_minute_max_1h": max(r[_AIPS] for r in rows),
            "target_min_1m": m.tmin,  # the block of ids an address fleet is grouped by (detectors/coordination.py)
            "logged_out_searches_10m": searches_10m,
            "logged_out_searches_1h": searches_1h,
            "logged_out_views_per_search_10m": per(t[_AVIEWS], searches_10m),
            "logged_out_views_per_search_1h": per(views_1h, searches_1h),
            "scripted_share_10m": share(_column(ten, _ASCR), t[_AREQ]),
            "browser_share_10m": share(_column(ten, _ABRW), t[_AREQ]),
        }

    def views_in(self, now: int, ms: int) -> int:
        """Logged-out profile views in the `ms` up to minute `now` (at minute resolution up to an hour, else hourly)."""
        if ms <= HOUR_MS:
            return sum(r[_AVIEWS] for r in _since(self.minutes, now, ms))
        return sum(v for h, v in self.hours.items() if h > now - ms)
