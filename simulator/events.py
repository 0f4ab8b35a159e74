"""Event lines and the page-level building blocks every actor family uses.

An actor stream yields `(offset_ms, tie, body)`: `offset_ms` since the start of the
window, `tie` the actor's roster position (unique; it tells the writer whose line it
is, for the labels), and `body`
the line after its `{"ts":"...",` prefix, which the writer adds (it sees timestamps in
order, so one cached per-second prefix serves every line). `body=None` is a wake-up
marker: the actor's state is built only when the merge reaches it. A stream may also
yield a chunk, a non-empty list of events in time order (a page and its assets), which
the merge takes in one step.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from random import Random
from typing import TYPE_CHECKING

import orjson

from .clock import iso_ms
from .world import LAST_NAMES, MAIL_DOMAINS, SEARCH_WORDS, SITE, mix64

if TYPE_CHECKING:
    from .world import World

Event = tuple[int, int, "bytes | None"]
Stream = Iterator["Event | list[Event]"]  # events, markers, and chunks (lists of events in time order)

_ts = itemgetter(0)
NEVER = 1 << 62
JS_BYTES = 182_344
CSS_BYTES = 48_211
IMAGES = 5000
_IMAGE_PATHS = tuple(f"/static/img/{n}.png".encode() for n in range(IMAGES))
_IMAGE_BYTES = tuple(b"%d" % (4_000 + mix64(n) % 60_000) for n in range(IMAGES))


@dataclass(slots=True)
class Fleet:
    """What the accounts of one botnet share: subnets, user agent, creation hour, target block."""

    subnets: tuple[int, ...]  # first address of each shared /24
    user_agent: str
    created: int  # offset (ms) of the hour in which the operator created every account
    start: int  # offset (ms) at which the fleet starts
    first_id: int  # the fleet's block of ids starts here ...
    chunk: int  # ... and each member walks its own `chunk` ids of it


@dataclass(slots=True)
class Group:
    """What the members of one scraping group share: a distributed crawl's operation (its members are
    addresses), an account fleet or an account pool (members are accounts)."""

    start: int  # offset (ms) at which the group starts
    stop: int  # ... and stops
    size: int  # members
    user_agents: tuple[str, ...]  # members use these (each member one of them)
    addresses: tuple[str, ...] = ()  # a crawl's member addresses, a pool's shared addresses
    first_id: int = 0  # a crawl's block of ids starts here
    slow: bool = False  # a crawl at a few requests an hour per address
    harvested: bool = False  # a crawl that knows which ids exist (no 404s) rather than walking them
    per_hour: float = 0.0  # a slow crawl's requests an hour per address
    turn: int = 0  # an account pool: ms each account holds the pool's turn


@dataclass(slots=True)
class Actor:
    """One labelled actor: its kind, when it wakes up and who it is."""

    tie: int
    kind: str
    start: int  # offset (ms) of its first activity; nothing earlier is emitted
    slot: int  # address-pool slot (distinct per actor)
    account: int | None = None  # a<account>, None when logged out
    created: int | None = None  # account creation, offset ms (negative: before the window)
    v6: bool = False  # logged-out actor (or mobile user) on IPv6
    stop: int | None = None  # scrapers: offset (ms) at which they stop
    name: str | None = None  # an account id other than a<account> (the partner)
    addr: str | None = None  # a fixed address other than the slot's (NAT gateway, crawler, bot)
    switch: int | None = None  # hijacked account: offset (ms) at which the attacker takes over
    member: int = 0  # position in its group (botnet member, NAT gateway index, crawler address)
    fleet: Fleet | None = None  # botnet members: what the fleet shares
    group: Group | None = None  # distributed crawl, account fleet and account pool members
    tier: str | None = None  # the account's trust tier ("verified", "partner"), None for most

    def ip(self, w: World) -> str:
        """The actor's main address."""
        if self.addr is not None:
            return self.addr
        return w.ipv6(self.slot) if self.v6 else w.ipv4(self.slot)

    def account_id(self) -> str | None:
        """The `account_id` its events carry (None when logged out)."""
        if self.name is not None:
            return self.name
        return None if self.account is None else f"a{self.account}"

    def created_at(self, w: World) -> str:
        """When its account was created, RFC 3339."""
        assert self.created is not None, f"{self.kind} {self.tie} has no account"
        return iso_ms(w.t0 + self.created)

    def key(self, w: World) -> str:
        """Label key: `account:<id>` or, logged out, `ip:<addr>`."""
        account = self.account_id()
        return f"account:{account}" if account is not None else f"ip:{self.ip(w)}"


def before(events: list[Event], stop: int) -> list[Event]:
    """The events (in time order) that come before `stop`.

    >>> before([(1, 0, b"a"), (5, 0, b"b")], 5)
    [(1, 0, b'a')]
    """
    if events and events[-1][0] >= stop:
        return events[: bisect_left(events, stop, key=_ts)]
    return events


def _js(s: str) -> str:
    return orjson.dumps(s).decode()


class Client:
    """Constant fragments of one client's lines (address, identity, agent, session).

    Event builders append `(ts, tie, body)` to a list, ready to be yielded as they are.
    """

    __slots__ = ("api", "browser", "ident", "pre", "roam", "roam_at", "tail", "tie")

    def __init__(
        self,
        ip: str,
        account_id: str | None,
        created_at: str | None,
        user_agent: str,
        session_id: str,
        *,
        tie: int,
        browser: bool,
        api: bool,
        tier: str | None = None,
    ):
        self.tie = tie  # the actor's roster position, carried into its events
        self.pre = '"ip":' + _js(ip) + ',"method":"'
        if account_id:
            who = f'"account_id":{_js(account_id)},"account_created_at":{_js(created_at or "")}'
            if tier:
                who += ',"account_tier":' + _js(tier)
        else:
            who = '"account_id":null'
        self.ident = "," + who + ',"user_agent":' + _js(user_agent)
        self.tail = ',"session_id":' + _js(session_id) + "}\n"
        self.browser = browser  # loads static assets, sends referers
        self.api = api  # API client (app, script): profiles at /api/v1/users/<N>
        self.roam_at = NEVER  # page-level builders call `roam(self, t)` once t reaches this
        self.roam: Callable[[Client, int], None] | None = None

    def set_ip(self, ip: str) -> None:
        """Send the following events from another address (same session)."""
        self.pre = '"ip":' + _js(ip) + ',"method":"'

    def line(
        self, method: str, path: str, status: int, nbytes: int, referer: str | None = None, records: int | None = None
    ) -> bytes:
        """The body of one event (paths and referers are built from URL-safe parts); `records`: the people a
        search page lists or a contact import matched."""
        ref = ',"referer":"' + referer + '"' if referer else ""
        rec = "" if records is None else f',"records":{records}'
        return (
            f'{self.pre}{method}","path":"{path}","status":{status}{self.ident}{ref},"bytes":{nbytes}{rec}{self.tail}'
        ).encode()


def session_id(rng: Random) -> str:
    """A 16-hex-digit session id."""
    return f"{rng.getrandbits(64):016x}"


def lookup_hit(c: Client, rng: Random, identifier: str, email: bool, found: bool) -> tuple[str, int, int]:
    """(path, status, bytes) of looking a person up by phone number or e-mail address (URL-safe, as sent):
    the app and scripts use the API, a browser the web page."""
    field = "email" if email else "phone"
    base = "/api/v1/users/lookup" if c.api or not c.browser else "/lookup"
    if found:
        return f"{base}?{field}={identifier}", 200, (900 + int(rng.random() * 600) if base != "/lookup" else 14_000)
    return f"{base}?{field}={identifier}", 404, 70


def phone_number(n: int) -> str:
    """A mobile number in international form, percent-encoded as a query value.

    >>> phone_number(12345678)
    '%2B4915112345678'
    """
    return f"%2B491{5_100_000_000 + n % 100_000_000:010d}"


def email_address(rng: Random) -> str:
    """An e-mail address of the kind found in leaked lists, percent-encoded as a query value."""
    first = SEARCH_WORDS[int(rng.random() * 24)]  # the first names
    last = LAST_NAMES[int(rng.random() * len(LAST_NAMES))]
    sep = "." if rng.random() < 0.6 else "_"
    return f"{first}{sep}{last}{int(rng.random() * 100)}%40{MAIL_DOMAINS[int(rng.random() * len(MAIL_DOMAINS))]}"


def profile_hit(w: World, c: Client, rng: Random, uid: int) -> tuple[str, int, int]:
    """(path, status, bytes) of viewing profile u<uid> from client c."""
    found = uid < w.population and w.alive[uid]  # ids are never negative
    r = rng.random()
    if c.api:
        return f"/api/v1/users/{uid}", (200 if found else 404), (1800 + int(r * 1400) if found else 62)
    return f"/u/{uid}", (200 if found else 404), (28_000 + int(r * 12_000) if found else 1_812)


def statics(c: Client, rng: Random, t: int, page_path: str, first: bool, images: int, out: list[Event]) -> None:
    """Append the asset loads a browser makes after showing a page at t."""
    head = (c.pre + 'GET","path":"').encode()
    mid = f'","status":200{c.ident},"referer":"{SITE}{page_path}","bytes":'.encode()
    tail, tie = c.tail.encode(), c.tie
    join = b"".join
    t += 40 + int(rng.random() * 120)
    if first:
        out.append((t, tie, join((head, b"/static/app.js", mid, b"%d" % JS_BYTES, tail))))
        t += 5 + int(rng.random() * 40)
        out.append((t, tie, join((head, b"/static/app.css", mid, b"%d" % CSS_BYTES, tail))))
    paths, sizes, random = _IMAGE_PATHS, _IMAGE_BYTES, rng.random
    for _ in range(images):
        t += 10 + int(random() * 180)
        n = int(random() * IMAGES)
        out.append((t, tie, join((head, paths[n], mid, sizes[n], tail))))


def login(c: Client, rng: Random, t: int, out: list[Event], referer: str | None = None) -> int:
    """Append a login (form view for browsers, then the POST); return the time of the POST."""
    if c.browser:
        out.append((t, c.tie, c.line("GET", "/login", 200, 9_000 + int(rng.random() * 400), referer)))
        statics(c, rng, t, "/login", True, 1, out)
        t += 4_000 + int(rng.random() * 8_000)
        out.append((t, c.tie, c.line("POST", "/login", 302, 0, SITE + "/login")))
    else:
        out.append((t, c.tie, c.line("POST", "/login", 302 if not c.api else 200, 0 if not c.api else 412)))
    return t
