"""One-minute summaries per account, per IP address, per network and of the whole platform: the high-volume
counting.

Each summary field is declared once, as an aggregation over the minute's `RequestFacts`
(`ACCOUNT` and `ADDRESS`). `summarise` evaluates the declarations in Python (the
reference); the Flink job renders the same declarations as SQL tumbling windows
(`jobs/sql.py`). Every aggregation is a count, a distinct count, a minimum or a maximum,
so a summary does not depend on the order of events within the minute.

Accounts are summarised over all their requests; addresses, networks and the platform's
access path (`PATH`, one subject) over logged-out requests only (logged-in traffic is judged
per account, so people behind one NAT address are not added up). The path leaves out the
requests of declared clients (`RequestFacts.declared`): a verified crawler's burst is not a
surge of the platform's visitors.

>>> from detectors.features.request import RequestFacts
>>> f = RequestFacts(60_500, "a1", None, "10.0.0.1", "10.0.0.0/24", True, 7, False, False, True, False,
...                  False, True, False, "Mozilla/5.0")
>>> s = summarise([f, f._replace(ts=61_000, target=9)], "account")[0]
>>> (s.subject, s.minute, s.last_ts, s.views, s.targets, s.tmin, s.tmax)
('a1', 60000, 61000, 2, 2, 7, 9)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from detectors.features.request import RequestFacts

MINUTE_MS = 60_000
KINDS = ("account", "ip", "network", "path")
PATH = "logged-out:profile_view"
"""The subject of the `path` summaries: the platform's logged-out requests as one (`detectors.surge`)."""


class Agg(NamedTuple):
    """How one summary field is computed from the minute's requests.

    `kind` is `count`, `min`, `max` or `distinct` (a count of distinct values); `column` is a
    `RequestFacts` field (none for `count`); `where` names boolean `RequestFacts` fields that
    must all be true for a request to be counted. Missing values (None) are ignored.
    """

    kind: str
    column: str | None = None
    where: tuple[str, ...] = ()


class AccountMinute(NamedTuple):
    """One account's requests in one minute."""

    subject: str
    minute: int  # start of the minute, epoch ms
    last_ts: int
    created_at: int | None  # earliest account_created_at carried, if any
    first_view: int | None  # time of the minute's first profile view
    requests: int
    views: int  # views of other users' profiles
    nav: int  # ... reached from a page that is not another profile (search, the feed, a list of people)
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
    tier: str | None = None  # the largest trust tier the minute's events assert
    lookups: int = 0  # look-ups of people by an identifier
    searches: int = 0  # pages of search results


class AddressMinute(NamedTuple):
    """One IP address's (or network's) logged-out requests in one minute."""

    subject: str
    minute: int
    last_ts: int
    requests: int
    views: int  # profile views
    not_found: int  # profile views answered 404 (ids that do not exist; not missing assets)
    statics: int
    noref: int  # profile views without a referer
    ips: int  # distinct addresses (1 for an address)
    crawler_ua: int  # requests claiming a crawler user agent
    targets: int  # distinct numeric ids viewed
    tmin: int | None
    tmax: int | None
    searches: int = 0  # pages of search results
    scripted: int = 0  # requests from a script library or headless browser
    browser: int = 0  # requests claiming an ordinary browser


ACCOUNT: dict[str, Agg] = {
    "last_ts": Agg("max", "ts"),
    "created_at": Agg("min", "created_at"),
    "first_view": Agg("min", "ts", ("view",)),
    "requests": Agg("count"),
    "views": Agg("count", None, ("view",)),
    "nav": Agg("count", None, ("view", "nav")),
    "noref": Agg("count", None, ("view", "noref")),
    "not_found": Agg("count", None, ("not_found",)),
    "statics": Agg("count", None, ("static",)),
    "targets": Agg("distinct", "target", ("view",)),
    "tmin": Agg("min", "target", ("view",)),
    "tmax": Agg("max", "target", ("view",)),
    "ips": Agg("distinct", "ip"),
    "scripted": Agg("count", None, ("scripted",)),
    "browser": Agg("count", None, ("browser",)),
    "user_agent": Agg("min", "user_agent"),
    "network": Agg("min", "network"),
    "tier": Agg("max", "tier"),
    "lookups": Agg("count", None, ("lookup",)),
    "searches": Agg("count", None, ("search",)),
}
ADDRESS: dict[str, Agg] = {
    "last_ts": Agg("max", "ts"),
    "requests": Agg("count"),
    "views": Agg("count", None, ("view",)),
    "not_found": Agg("count", None, ("view", "not_found")),
    "statics": Agg("count", None, ("static",)),
    "noref": Agg("count", None, ("view", "noref")),
    "ips": Agg("distinct", "ip"),
    "crawler_ua": Agg("count", None, ("crawler",)),
    "targets": Agg("distinct", "target", ("view",)),
    "tmin": Agg("min", "target", ("view",)),
    "tmax": Agg("max", "target", ("view",)),
    "searches": Agg("count", None, ("search",)),
    "scripted": Agg("count", None, ("scripted",)),
    "browser": Agg("count", None, ("browser",)),
}
SUMMARIES: dict[str, tuple[type, dict[str, Agg], str | None]] = {
    "account": (AccountMinute, ACCOUNT, "account"),
    "ip": (AddressMinute, ADDRESS, "ip"),
    "network": (AddressMinute, ADDRESS, "network"),
    "path": (AddressMinute, ADDRESS, None),
}
"""Per kind: the record, its field aggregations, and the `RequestFacts` field that is the subject (None: `PATH`)."""


def summarise(requests: Iterable[RequestFacts], kind: str) -> list[Any]:
    """Summaries of `kind` (`account`, `ip`, `network` or `path`), sorted by (minute, subject)."""
    record, aggs, key = SUMMARIES[kind]
    groups: dict[tuple[int, str], list[RequestFacts]] = {}
    for f in requests:
        subject = PATH if key is None else getattr(f, key)
        if subject is not None and (kind == "account" or f.account is None) and not (key is None and f.declared):
            groups.setdefault((f.ts - f.ts % MINUTE_MS, subject), []).append(f)
    return [
        record(subject, minute, *(aggregate(agg, fs) for agg in aggs.values()))
        for (minute, subject), fs in sorted(groups.items())
    ]


def aggregate(agg: Agg, requests: list[RequestFacts]) -> Any:
    """One `Agg` over one minute's requests."""
    rows = [f for f in requests if all(getattr(f, w) for w in agg.where)]
    if agg.kind == "count":
        return len(rows)
    values = [v for v in (getattr(f, agg.column) for f in rows) if v is not None]  # type: ignore[arg-type]
    if agg.kind == "distinct":
        return len(set(values))
    if not values:
        return None
    return min(values) if agg.kind == "min" else max(values)
