"""One-minute summaries per account, per IP address and per network: the high-volume counting.

The Flink job computes them with SQL tumbling windows (`jobs/features_sql.py`); `summarise`
here is the reference. Every field is a count, a distinct count, a minimum or a maximum,
so the result does not depend on the order of events within the minute.

>>> from detectors.features.request import RequestFacts
>>> f = RequestFacts(60_500, "a1", None, "10.0.0.1", "10.0.0.0/24", True, 7, False, False, True, False,
...                  "browser", "Mozilla/5.0")
>>> s = summarise([f, f._replace(ts=61_000, target=9)], "account")[0]
>>> (s.subject, s.minute, s.last_ts, s.views, s.targets, s.tmin, s.tmax)
('a1', 60000, 61000, 2, 2, 7, 9)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from detectors.features.request import RequestFacts

MINUTE_MS = 60_000
YOUNG_MS = 86_400_000
"""An account younger than a day counts as young in per-address summaries."""
SCRIPTED = ("script", "headless")


class AccountMinute(NamedTuple):
    """One account's requests in one minute."""

    subject: str
    minute: int
    last_ts: int
    created_at: int | None  # earliest account_created_at carried, if any
    first_ts: int
    requests: int
    views: int  # views of other users' profiles
    nav: int  # ... reached from search or the feed
    noref: int  # ... without a referer
    not_found: int  # requests answered 404
    statics: int
    targets: int  # distinct numeric target ids viewed
    tmin: int | None
    tmax: int | None
    ips: int  # distinct addresses
    scripted: int  # requests from a script library or a headless browser
    browser: int  # requests claiming a desktop or mobile browser
    user_agent: str | None  # the smallest user agent string of the minute (cohort key)
    network: str  # the smallest network of the minute


class AddressMinute(NamedTuple):
    """One IP address's (or network's) requests in one minute."""

    subject: str
    minute: int
    last_ts: int
    requests: int
    logged_out: int  # requests without an account
    views: int  # logged-out profile views
    not_found: int  # logged-out profile views answered 404 (ids that do not exist; not missing assets)
    accounts: int  # distinct accounts
    young: int  # distinct accounts younger than a day (from account_created_at)
    ips: int  # distinct addresses (1 for an address)
    crawler_ua: int  # requests claiming a crawler user agent
    targets: int  # distinct numeric ids of logged-out views
    tmin: int | None
    tmax: int | None


def summarise(requests: Iterable[RequestFacts], kind: str) -> list[AccountMinute] | list[AddressMinute]:
    """Summaries of `kind` (`account`, `ip` or `network`), sorted by (minute, subject); addresses only for
    minutes with logged-out requests."""
    groups: dict[tuple[int, str], list[RequestFacts]] = {}
    for f in requests:
        subject = f.account if kind == "account" else f.ip if kind == "ip" else f.network
        if subject is not None:
            groups.setdefault((f.ts - f.ts % MINUTE_MS, subject), []).append(f)
    if kind == "account":
        return [_account(subject, minute, fs) for (minute, subject), fs in sorted(groups.items())]
    summaries = [_address(subject, minute, fs) for (minute, subject), fs in sorted(groups.items())]
    return [s for s in summaries if s.logged_out]  # logged-in traffic is judged per account


def _account(subject: str, minute: int, fs: list[RequestFacts]) -> AccountMinute:
    views = [f for f in fs if f.view]
    targets = {f.target for f in views if f.target is not None}
    created = [f.created_at for f in fs if f.created_at is not None]
    return AccountMinute(
        subject=subject,
        minute=minute,
        last_ts=max(f.ts for f in fs),
        created_at=min(created) if created else None,
        first_ts=min(f.ts for f in fs),
        requests=len(fs),
        views=len(views),
        nav=sum(f.nav for f in views),
        noref=sum(f.noref for f in views),
        not_found=sum(f.not_found for f in fs),
        statics=sum(f.static for f in fs),
        targets=len(targets),
        tmin=min(targets) if targets else None,
        tmax=max(targets) if targets else None,
        ips=len({f.ip for f in fs}),
        scripted=sum(f.ua in SCRIPTED for f in fs),
        browser=sum(f.ua == "browser" for f in fs),
        user_agent=min((f.user_agent for f in fs if f.user_agent), default=None),
        network=min(f.network for f in fs),
    )


def _address(subject: str, minute: int, fs: list[RequestFacts]) -> AddressMinute:
    out = [f for f in fs if f.account is None]
    targets = {f.target for f in out if f.view and f.target is not None}
    return AddressMinute(
        subject=subject,
        minute=minute,
        last_ts=max(f.ts for f in fs),
        requests=len(fs),
        logged_out=len(out),
        views=sum(f.view for f in out),
        not_found=sum(f.not_found and f.view for f in out),
        accounts=len({f.account for f in fs if f.account is not None}),
        young=len(
            {
                f.account
                for f in fs
                if f.account is not None and f.created_at is not None and f.ts - f.created_at < YOUNG_MS
            }
        ),
        ips=len({f.ip for f in fs}),
        crawler_ua=sum(f.ua == "crawler" for f in fs),
        targets=len(targets),
        tmin=min(targets) if targets else None,
        tmax=max(targets) if targets else None,
    )
