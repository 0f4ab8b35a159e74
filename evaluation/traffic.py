"""The one pass over the events: per-actor aggregates and the anchors' per-entity state.

Events are read once, in order, and not kept. What is kept:

- per labeled actor: requests, profile views served (profile_view route, status < 400),
  personal-data records disclosed (see `records_of`) and, for scrapers only, the times
  of those views and disclosures (to count what was served before any first-action
  time afterwards);
- per labeled account and IP it used: a `Presence` (request clusters, for attribution);
- anchor (a): a sliding-hour counter of profile views per labeled account and a
  sliding-minute counter of requests per IP, each with its first-reach times;
- anchor (b): the CrowdSec crawl bucket of each IP and its overflow times.

Memory is bounded by the actors, the IPs, the entities' window contents and the
scrapers' view times, not by the length of the file.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from detectors.events import BadEvent, format_ms, parse_line
from detectors.routes import Route, RouteTable
from evaluation.attribution import Presence
from evaluation.labels import InputError, is_scraper
from evaluation.leaky_bucket import METHODS, CrawlBuckets
from evaluation.static_limit import ACCOUNT_WINDOW_MS, IP_WINDOW_MS, WindowCounter
from jobs.inputs import Source

_RECORDS = re.compile(rb'"records"\s*:\s*(\d+)')


def records_of(route: Route, status: int, line: bytes) -> int:
    """Personal-data records one request disclosed: none unless its route discloses personal data and it was
    answered (status < 400); then the event's `records` field if it has one (search results on the page,
    contacts matched), else 1 (a profile, the person behind a looked-up phone number or e-mail address).

    >>> lookup, feed = Route("lookup", "1", True), Route("feed", None, False)
    >>> records_of(lookup, 200, b'{}'), records_of(lookup, 404, b'{}'), records_of(feed, 200, b'{}')
    (1, 0, 0)
    >>> records_of(Route("search", None, True), 200, b'{"path":"/search","records": 10}')
    10
    """
    if not route.personal_data or status >= 400:
        return 0
    if b'"records"' in line:
        m = _RECORDS.search(line)
        if m is not None:
            return int(m[1])
    return 1


class ActorTraffic:
    """What one labeled actor sent."""

    __slots__ = (
        "hour",
        "kind",
        "presence",
        "record_counts",
        "record_times",
        "records",
        "requests",
        "view_times",
        "views_logged_out",
        "views_served",
    )

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.requests = 0
        self.views_served = 0
        self.records = 0
        self.view_times: array[int] | None = array("q") if is_scraper(kind) else None
        # scrapers: the time of each disclosing request and the running total of records up to it
        self.record_times: array[int] | None = array("q") if is_scraper(kind) else None
        self.record_counts: array[int] | None = array("q") if is_scraper(kind) else None
        self.presence: dict[str, Presence] = {}
        self.views_logged_out: Presence | None = None  # when a logged-out actor asked for profiles (an access path's)
        self.hour: WindowCounter | None = None

    def records_until(self, t: int | None) -> int:
        """Records disclosed at or before t (all of them when t is None)."""
        if t is None or not self.record_times:
            return self.records if t is None else 0
        i = bisect_right(self.record_times, t)
        return self.record_counts[i - 1] if i else 0  # type: ignore[index]


@dataclass
class Traffic:
    """Everything the evaluation keeps from the events."""

    actors: dict[str, ActorTraffic]
    ip_minute: dict[str, WindowCounter] = field(default_factory=dict)
    crawl: CrawlBuckets = field(default_factory=CrawlBuckets)
    lines: int = 0
    events: int = 0
    rejected: int = 0
    first_reason: str | None = None
    first_ts: int | None = None
    last_ts: int | None = None

    @property
    def presence(self) -> dict[str, dict[str, Presence]]:
        """Actor key -> IP -> `Presence`, for the labeled accounts that sent requests."""
        return {key: a.presence for key, a in self.actors.items() if a.presence}

    @property
    def views_logged_out(self) -> dict[str, Presence]:
        """Actor key -> when it asked for profiles logged out, for the logged-out actors that did."""
        return {key: a.views_logged_out for key, a in self.actors.items() if a.views_logged_out is not None}

    @property
    def account_hour(self) -> dict[str, WindowCounter]:
        """Actor key -> sliding-hour profile-view counter, for the labeled accounts that viewed profiles."""
        return {key: a.hour for key, a in self.actors.items() if a.hour is not None}


Tick = Callable[[int, int | None, float | None], None]
"""Progress callback of `scan`: (lines read since the last call, latest event time, share of the file read or None)."""
TICK_LINES = 4096


def scan(
    path: Path,
    labels: Mapping[str, str],
    counter_cap: int,
    routes: RouteTable | None = None,
    tick: Tick | None = None,
    declared: Callable[[str], bool] | None = None,
) -> Traffic:
    """Read the events once and build the `Traffic`; `counter_cap` is the highest limit the anchor may try + 1.

    Invalid lines are counted and skipped, as `scrapeguard run` rejects them. Events
    must be in event-time order; an event earlier than the one before stops the pass.
    `routes` (default: the built-in table) says which requests disclose personal data. `declared` says which
    addresses are declared clients (`Allowlist.declares`): a gateway lets their logged-out views through an action
    on the access path (docs/enforcement.md), so those views are not in `views_logged_out`.
    `path` may be `-` (standard input); `tick`, if given, is called every `TICK_LINES` lines and at the end.
    """
    with Source(path) as source:
        traffic = _scan(source, labels, counter_cap, routes, tick, declared or (lambda ip: False))
    if tick is not None:
        tick(traffic.lines % TICK_LINES, traffic.last_ts, 1.0 if source.size is not None else None)
    return traffic


def _scan(
    source: Source,
    labels: Mapping[str, str],
    counter_cap: int,
    routes: RouteTable | None,
    tick: Tick | None,
    declared: Callable[[str], bool],
) -> Traffic:
    path = source.path
    size = source.size
    match = (routes or RouteTable.default()).match
    actors = {key: ActorTraffic(kind) for key, kind in labels.items()}
    traffic = Traffic(actors)
    ip_minute = traffic.ip_minute
    pour = traffic.crawl.pour
    route_cache: dict[str, Route] = {}
    prev = None
    line_no = 0
    events = rejected = 0
    for line_no, line in enumerate(source.lines(), 1):
        if tick is not None and line_no % TICK_LINES == 0:
            tick(TICK_LINES, prev, source.position / size if size else None)
        try:
            e = parse_line(line)
        except BadEvent as exc:
            if line.strip():
                rejected += 1
                if traffic.first_reason is None:
                    traffic.first_reason = f"line {line_no}: {exc}"
            continue
        events += 1
        ts = e.ts
        if prev is not None and ts < prev:
            raise InputError(
                f"events {path} line {line_no}: event time {format_ms(ts)} is before the previous event's "
                f"({format_ms(prev)}); the evaluation reads events sorted by ts"
            )
        if prev is None:
            traffic.first_ts = ts
        prev = ts
        url = e.path
        route = route_cache.get(url)
        if route is None:
            route = match(url)
            if len(route_cache) < 200_000:  # /feed, /static/... repeat; profile paths mostly do not
                route_cache[url] = route
        action = route.action
        ip = e.ip
        account = e.account_id
        actor = actors.get("ip:" + ip if account is None else "account:" + account)
        if actor is not None:
            actor.requests += 1
            view = action == "profile_view"
            if view and e.status < 400:
                actor.views_served += 1
                if actor.view_times is not None:
                    actor.view_times.append(ts)
            if route.personal_data:
                n = records_of(route, e.status, line)
                if n:
                    actor.records += n
                    if actor.record_times is not None:
                        actor.record_times.append(ts)
                        actor.record_counts.append(actor.records)  # type: ignore[union-attr]
            if view and account is None and not declared(ip):
                if actor.views_logged_out is None:
                    actor.views_logged_out = Presence()
                actor.views_logged_out.add(ts)
            if account is not None:
                used = actor.presence.get(ip)
                if used is None:
                    used = actor.presence[ip] = Presence()
                used.add(ts)
                if view:
                    hour = actor.hour
                    if hour is None:
                        hour = actor.hour = WindowCounter(ACCOUNT_WINDOW_MS, counter_cap)
                    hour.add(ts)
        minute = ip_minute.get(ip)
        if minute is None:
            minute = ip_minute[ip] = WindowCounter(IP_WINDOW_MS, counter_cap)
        minute.add(ts)
        if action != "static" and e.method in METHODS:
            pour(ip, ts, url)
    traffic.lines, traffic.events, traffic.rejected = line_no, events, rejected
    traffic.last_ts = prev
    return traffic
