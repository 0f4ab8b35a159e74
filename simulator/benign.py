"""Benign actors: established users, brand-new users (onboarding burst), logged-out visitors."""

from __future__ import annotations

import math
from operator import itemgetter
from random import Random
from typing import TYPE_CHECKING

from .clock import iso_ms
from .events import Actor, Client, Event, Stream, login, profile_hit, session_id, statics
from .world import APP_UAS, DESKTOP_UAS, MOBILE_WEB_UAS, SEARCH_WORDS, SITE, mix64

if TYPE_CHECKING:
    from .world import World

_by_time = itemgetter(0)
_MAX_THINK_MS = 600_000
_ONBOARDING_MS = 570_000  # suggested profiles are all viewed within 9.5 min of sign-up
_GOOGLE = "https://www.google.com/"
# Images a browser fetches with each kind of page.
_IMAGES = {"feed": 6, "search": 4, "profile": 3, "messages": 1, "login": 0}


def benign_user(w: World, a: Actor) -> Stream:
    """An established account: a few sessions over the window, Poisson with a daily rhythm."""
    return _sessions(w, a, a.start, 1)


def benign_new_user(w: World, a: Actor) -> Stream:
    """An account created in the window: views 15-40 suggested profiles within 10 minutes
    of sign-up, then behaves like an established user."""
    yield a.start, a.tie, None
    out, nxt = _onboarding(w, a)
    yield from out
    del out
    yield from _sessions(w, a, nxt, 2)


def _onboarding(w: World, a: Actor) -> tuple[list[Event], int]:
    """The first session after sign-up (suggested profiles from the feed), and the next start."""
    rng = w.rng(a.tie, 1)
    c = _account_client(w, rng, a)
    lo, hi = (int(x) for x in w.params["onboarding_profiles"])
    out: list[Event] = []
    t = a.start
    out.append((t, c.tie, c.line("GET", "/feed", 200, 40_000 + int(rng.random() * 20_000),
                          SITE + "/signup" if c.browser else None)))
    if c.browser:
        statics(c, rng, t, "/feed", True, 4, out)
    deadline = a.created + _ONBOARDING_MS  # type: ignore[operator]
    n = lo + int(rng.random() * (hi - lo + 1))
    times = sorted(t + 2_000 + int(rng.random() * (deadline - t - 2_000)) for _ in range(n))
    for ts in times:
        path, status, nbytes = profile_hit(w, c, rng, w.popular(rng))
        out.append((ts, c.tie, c.line("GET", path, status, nbytes, SITE + "/feed" if c.browser else None)))
        if c.browser:
            statics(c, rng, ts, path, False, 2, out)
    if times:
        t = times[-1] + _think(w, rng)
    browse(w, rng, c, t, _pages(w, rng), out, account=a.account, first="feed")
    return _in_window(w, out), _next_session(w, rng, a.start, max(e[0] for e in out))


def benign_logged_out(w: World, a: Actor) -> Stream:
    """A logged-out visitor: lands from a search engine, views a few pages, leaves."""
    yield a.start, a.tie, None
    rng = w.rng(a.tie, 1)
    h = mix64(a.slot)
    ua = MOBILE_WEB_UAS[h % len(MOBILE_WEB_UAS)] if a.v6 else DESKTOP_UAS[h % len(DESKTOP_UAS)]
    c = Client(a.ip(w), None, None, ua, session_id(rng), tie=a.tie, browser=True, api=False)
    r = rng.random()
    first = "profile" if r < 0.6 else "search" if r < 0.85 else "login"
    pages = 1 if first == "login" else min(8, 1 + int(rng.expovariate(0.5)))
    out: list[Event] = []
    browse(w, rng, c, a.start, pages, out, account=None, first=first, referer=_GOOGLE)
    yield from _in_window(w, out)


def _sessions(w: World, a: Actor, t: int, k: int) -> Stream:
    """Sessions from t on. Between sessions the actor holds nothing but the next start:
    it yields a wake-up marker there and builds the session only when woken."""
    end = w.end
    while t < end:
        yield t, a.tie, None
        out, t = _session(w, a, t, k)
        k += 1
        yield from out
        del out


def _session(w: World, a: Actor, t: int, k: int) -> tuple[list[Event], int]:
    """Events of an account's k-th session starting at t, and the next session's start."""
    rng = w.rng(a.tie, k)
    out: list[Event] = []
    c = _account_client(w, rng, a)
    s, ref = t, None
    if rng.random() < 0.15:  # cookie expired: log in first
        s = login(c, rng, t, out) + 1_500 + int(rng.random() * 2_000)
        ref = SITE + "/login"
    browse(w, rng, c, s, _pages(w, rng), out, account=a.account, first="feed", referer=ref)
    return _in_window(w, out), _next_session(w, rng, t, out[-1][0])


def _in_window(w: World, out: list[Event]) -> list[Event]:
    """Sort a session's events by time (stable) and drop those past the window."""
    out.sort(key=_by_time)
    if out and out[-1][0] >= w.end:
        return [e for e in out if e[0] < w.end]
    return out


def _next_session(w: World, rng: Random, start: int, last: int) -> int:
    """Next session start: Poisson after `start`, but at least a minute after `last` (the
    session's final event)."""
    nxt = w.next_arrival(rng, start, w.params["sessions_per_hour"])
    if nxt < last + 60_000:
        nxt = last + 60_000 + rng.random() * 900_000
    return int(nxt)


def _pages(w: World, rng: Random) -> int:
    """Pages in a session: about geometric with mean `pages_per_session`, at most 60."""
    extra = w.params["pages_per_session"] - 0.5
    return min(60, 1 + int(rng.expovariate(1.0 / extra))) if extra > 0.5 else 1


def _think(w: World, rng: Random) -> int:
    """Lognormal think time (median `think_median_s`), clamped to [1.5 s, 10 min]."""
    ms = math.exp(w.think_mu + w.think_sigma * rng.gauss(0.0, 1.0))
    return int(min(max(ms, 1_500.0), _MAX_THINK_MS))


def _account_client(w: World, rng: Random, a: Actor) -> Client:
    """The device of one session: desktop (IPv4), or mobile web / app (IPv6)."""
    p = w.params
    h = mix64(a.account ^ w.salt)  # type: ignore[operator]
    created = iso_ms(w.t0 + a.created)  # type: ignore[operator]
    sid = session_id(rng)
    account = f"a{a.account}"
    if rng.random() < p["mobile_share"]:
        ip = w.ipv6(a.slot)
        if rng.random() < p["app_share_of_mobile"]:
            return Client(ip, account, created, APP_UAS[h % len(APP_UAS)], sid, tie=a.tie, browser=False, api=True)
        return Client(ip, account, created, MOBILE_WEB_UAS[h % len(MOBILE_WEB_UAS)], sid, tie=a.tie,
                      browser=True, api=False)
    return Client(w.ipv4(a.slot), account, created, DESKTOP_UAS[h % len(DESKTOP_UAS)], sid, tie=a.tie,
                  browser=True, api=False)


def browse(w: World, rng: Random, c: Client, t: int, pages: int, out: list[Event], *,
           account: int | None, first: str = "feed", referer: str | None = None) -> int:
    """Append `pages` page views (plus assets) from t; return the time of the last page.

    Logged-in clients mix feed, search, messages and profiles (`profile_share` of
    pages); logged-out ones see only profiles and search.
    """
    ps = w.params["profile_share"]
    end = w.end
    prev: str | None = None
    query = ""
    page_no = 1
    kind = first
    last = t
    for i in range(pages):
        if t >= end:
            break
        if i:
            r = rng.random()
            if account is None:
                kind = "profile" if r < 0.6 else "search"
            elif r < ps:
                kind = "profile"
            else:
                r = (r - ps) / (1.0 - ps)
                kind = "feed" if r < 0.4 else "search" if r < 0.7 else "messages"
        if not c.browser:
            ref = None
        elif i:
            ref = SITE + prev if prev else None
        else:
            ref = referer
        if kind == "feed":
            path, status, nbytes = "/feed", 200, (40_000 if c.browser else 8_000) + int(rng.random() * 20_000)
        elif kind == "profile":
            if account is not None and not (prev or "").startswith("/search") and rng.random() < 0.35:
                uid = w.friend(account, int(rng.random() * (5 + mix64(account) % 20)))
            else:
                uid = w.popular(rng)
            path, status, nbytes = profile_hit(w, c, rng, uid)
        elif kind == "search":
            if prev is not None and prev.startswith("/search") and rng.random() < 0.4:
                page_no += 1
                path = f"/search?q={query}&page={page_no}"
            else:
                words = SEARCH_WORDS
                query = words[int(rng.random() * len(words))]
                if rng.random() < 0.4:
                    query += "+" + words[int(rng.random() * len(words))]
                page_no = 1
                path = f"/search?q={query}"
            status, nbytes = 200, (30_000 if c.browser else 4_000) + int(rng.random() * 15_000)
        elif kind == "messages":
            path, status, nbytes = "/messages", 200, 18_000 + int(rng.random() * 8_000)
        else:  # login page, logged out
            path, status, nbytes = "/login", 200, 9_000 + int(rng.random() * 400)
        out.append((t, c.tie, c.line("GET", path, status, nbytes, ref)))
        if c.browser:
            base = _IMAGES[kind]
            statics(c, rng, t, path, i == 0, base // 2 + int(rng.random() * (base + 1)), out)
        last = t
        think = _think(w, rng)
        if kind == "messages" and rng.random() < 0.15:  # sends a message while there
            out.append((t + think // 2, c.tie, c.line("POST", "/messages", 201, 350 + int(rng.random() * 150),
                                               SITE + "/messages" if c.browser else None)))
        prev = path
        t += think
    return last
