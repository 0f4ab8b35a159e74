"""Event lines and the page-level building blocks every actor family uses.

An actor stream yields `(offset_ms, tie, body)`: `offset_ms` since the start of the
window, `tie` the actor's roster position (unique, breaks timestamp ties), and `body`
the line after its `{"ts":"...",` prefix, which the writer adds (it sees timestamps in
order, so one cached per-second prefix serves every line). `body=None` is a wake-up
marker: the actor's state is built only when the merge reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import TYPE_CHECKING, Iterator

import orjson

from .world import SITE, mix64

if TYPE_CHECKING:
    from .world import World

Event = tuple[int, int, "bytes | None"]
Stream = Iterator[Event]

JS_BYTES = 182_344
CSS_BYTES = 48_211
IMAGES = 5000
_IMAGE_PATHS = tuple(f"/static/img/{n}.png" for n in range(IMAGES))
_IMAGE_BYTES = tuple(4_000 + mix64(n) % 60_000 for n in range(IMAGES))


@dataclass(slots=True)
class Actor:
    """One labelled actor: its kind, when it wakes up and who it is."""

    tie: int
    kind: str
    start: int  # offset (ms) of its first activity; nothing earlier is emitted
    slot: int  # address-pool slot (distinct per actor)
    account: int | None = None  # a<account>, None when logged out
    created: int | None = None  # account creation, offset ms (negative: before the window)
    v6: bool = False  # logged-out actor on an IPv6 mobile address
    stop: int | None = None  # scrapers: offset (ms) at which they stop

    def ip(self, w: World) -> str:
        """The actor's main address."""
        return w.ipv6(self.slot) if self.v6 else w.ipv4(self.slot)

    def key(self, w: World) -> str:
        """Label key: `account:<id>` or, logged out, `ip:<addr>`."""
        return f"account:a{self.account}" if self.account is not None else f"ip:{self.ip(w)}"


def _js(s: str) -> str:
    return orjson.dumps(s).decode()


class Client:
    """Constant fragments of one client's lines (address, identity, agent, session).

    Event builders append `(ts, tie, body)` to a list, ready to be yielded as they are.
    """

    __slots__ = ("tie", "pre", "ident", "tail", "browser", "api")

    def __init__(self, ip: str, account_id: str | None, created_at: str | None, user_agent: str,
                 session_id: str, *, tie: int, browser: bool, api: bool):
        self.tie = tie  # the actor's roster position, carried into its events
        self.pre = '"ip":' + _js(ip) + ',"method":"'
        if account_id:
            who = f'"account_id":{_js(account_id)},"account_created_at":{_js(created_at or "")}'
        else:
            who = '"account_id":null'
        self.ident = "," + who + ',"user_agent":' + _js(user_agent)
        self.tail = ',"session_id":' + _js(session_id) + "}\n"
        self.browser = browser  # loads static assets, sends referers
        self.api = api  # API client (app, script): profiles at /api/v1/users/<N>

    def line(self, method: str, path: str, status: int, nbytes: int, referer: str | None = None) -> bytes:
        """The body of one event (paths and referers are built from URL-safe parts)."""
        ref = ',"referer":"' + referer + '"' if referer else ""
        return (f'{self.pre}{method}","path":"{path}","status":{status}{self.ident}{ref}'
                f',"bytes":{nbytes}{self.tail}').encode()


def session_id(rng: Random) -> str:
    """A 16-hex-digit session id."""
    return f"{rng.getrandbits(64):016x}"


def profile_hit(w: World, c: Client, rng: Random, uid: int) -> tuple[str, int, int]:
    """(path, status, bytes) of viewing profile u<uid> from client c."""
    found = w.exists(uid)
    r = rng.random()
    if c.api:
        return f"/api/v1/users/{uid}", (200 if found else 404), (1800 + int(r * 1400) if found else 62)
    return f"/u/{uid}", (200 if found else 404), (28_000 + int(r * 12_000) if found else 1_812)


def statics(c: Client, rng: Random, t: int, page_path: str, first: bool, images: int,
            out: list[Event]) -> None:
    """Append the asset loads a browser makes after showing a page at t."""
    head = c.pre + 'GET","path":"'
    mid = f'","status":200{c.ident},"referer":"{SITE}{page_path}","bytes":'
    tail, tie = c.tail, c.tie
    t += 40 + int(rng.random() * 120)
    if first:
        out.append((t, tie, f"{head}/static/app.js{mid}{JS_BYTES}{tail}".encode()))
        t += 5 + int(rng.random() * 40)
        out.append((t, tie, f"{head}/static/app.css{mid}{CSS_BYTES}{tail}".encode()))
    for _ in range(images):
        t += 10 + int(rng.random() * 180)
        n = int(rng.random() * IMAGES)
        out.append((t, tie, f"{head}{_IMAGE_PATHS[n]}{mid}{_IMAGE_BYTES[n]}{tail}".encode()))


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
