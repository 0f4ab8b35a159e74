"""Scrapers: new-account crawler, logged-out id enumerator, low-and-slow aged account."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .clock import HOUR_MS, iso_ms
from .events import Actor, Client, Event, Stream, login, profile_hit, session_id, statics
from .world import DESKTOP_UAS, PYTHON_UA, SCRIPT_UAS, SITE

if TYPE_CHECKING:
    from .world import World


def new_account_crawler(w: World, a: Actor) -> Stream:
    """An account created minutes earlier that views a profile every 1-3 s until it stops.

    Half of them are scripts (python-requests, API paths, no assets, no referer), the
    rest drive a browser (/u/<N>, referers, an asset load now and then).
    """
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    script = rng.random() < p["crawler_script_share"]
    ua = PYTHON_UA if script else DESKTOP_UAS[int(rng.random() * len(DESKTOP_UAS))]
    c = Client(a.ip(w), f"a{a.account}", iso_ms(w.t0 + a.created), ua, session_id(rng),  # type: ignore[operator]
               tie=a.tie, browser=not script, api=script)
    stop = min(w.end, a.stop or w.end)
    out: list[Event] = []
    t = login(c, rng, a.start, out)
    if c.browser:
        t += 2_000
        out.append((t, c.tie, c.line("GET", "/feed", 200, 45_000, SITE + "/login")))
        statics(c, rng, t, "/feed", False, 3, out)
    out.sort()
    yield from (e for e in out if e[0] < stop)
    t = max(t, out[-1][0])
    del out
    lo, hi = (int(x * 1000) for x in p["crawler_interval_s"])
    span = hi - lo
    pop = w.population
    tie = a.tie
    prev = "/feed"
    n = 0
    while True:
        t += lo + int(rng.random() * span)
        if rng.random() < 0.003:  # a short pause (rate-limit back-off, crash, restart)
            t += 60_000 + int(rng.random() * 240_000)
        if t >= stop:
            return
        # ids harvested from pages, a few stale (deleted) or guessed
        uid = w.uniform_existing(rng) if rng.random() < 0.95 else int(rng.random() * pop)
        path, status, nbytes = profile_hit(w, c, rng, uid)
        if script:
            yield t, tie, c.line("GET", path, status, nbytes)
            continue
        yield t, tie, c.line("GET", path, status, nbytes, SITE + prev)
        prev = path
        n += 1
        if n % 250 == 0:  # the odd asset load when the headless browser restarts
            assets: list[Event] = []
            statics(c, rng, t, path, True, 1, assets)
            yield from (e for e in assets if e[0] < stop)
            t = assets[-1][0]


def enumerator(w: World, a: Actor) -> Stream:
    """A logged-out address walking /u/<N> upward at ~2 requests/s from near the top of
    the id space: 404 for deleted ids and for every id past the population."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    stop = min(w.end, a.stop or w.end)
    step = 1000.0 / p["enumerator_rate_per_s"]
    script = rng.random() < 0.7
    agents = SCRIPT_UAS if script else DESKTOP_UAS
    ua = agents[int(rng.random() * len(agents))]
    c = Client(a.ip(w), None, None, ua, session_id(rng), tie=a.tie, browser=False, api=False)
    expected = int((stop - a.start) / step)
    n = max(0, w.population - int(expected * (0.2 + 0.6 * rng.random())))
    exists = w.exists
    pre, ident, tail = c.pre, c.ident, c.tail
    t = a.start
    while t < stop:
        if exists(n):
            status, nbytes = 200, 28_000 + int(rng.random() * 12_000)
        else:
            status, nbytes = 404, 1_812
        if script:  # no cookie jar: every request opens a fresh session
            tail = f',"session_id":"{rng.getrandbits(64):016x}"}}\n'
        yield t, tie, f'{pre}GET","path":"/u/{n}","status":{status}{ident},"bytes":{nbytes}{tail}'.encode()
        n += 1
        t += int(step * (0.8 + 0.4 * rng.random()))


def low_and_slow(w: World, a: Actor) -> Stream:
    """An aged account viewing ~50 random profiles an hour around the clock, paced so no
    sliding hour exceeds `low_and_slow_hourly_cap` views (under a limit of 60 an hour,
    over 500 a day), with feed and search pages in between for cover."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    stop = w.end
    c = Client(a.ip(w), f"a{a.account}", iso_ms(w.t0 + a.created),  # type: ignore[operator]
               DESKTOP_UAS[int(rng.random() * len(DESKTOP_UAS))], session_id(rng), tie=tie, browser=True, api=False)
    cap = int(p["low_and_slow_hourly_cap"])
    cover = 0.08  # share of steps that are cover pages rather than profile views
    mean = HOUR_MS * (1.0 - cover) / p["low_and_slow_per_hour"]
    recent: deque[int] = deque(maxlen=cap)
    out: list[Event] = []
    t = login(c, rng, a.start, out) + 2_000
    out.append((t, c.tie, c.line("GET", "/feed", 200, 45_000, SITE + "/login")))
    statics(c, rng, t, "/feed", False, 4, out)
    prev = "/feed"
    while True:
        out.sort()
        for e in out:
            if e[0] >= stop:
                return
            yield e
        t = max(t, out[-1][0]) if out else t
        out.clear()
        t += int(mean * (0.5 + rng.random()))
        if rng.random() < cover:  # cover traffic, not a profile view
            path = "/feed" if rng.random() < 0.5 else "/search?q=news"
            out.append((t, c.tie, c.line("GET", path, 200, 40_000, SITE + prev)))
            statics(c, rng, t, path, False, 2, out)
            prev = path
            continue
        if len(recent) == cap and t - recent[0] < HOUR_MS:
            t = recent[0] + HOUR_MS  # wait until the oldest view leaves the hour
        recent.append(t)
        path, status, nbytes = profile_hit(w, c, rng, w.uniform_existing(rng))
        out.append((t, c.tie, c.line("GET", path, status, nbytes, SITE + prev)))
        statics(c, rng, t, path, False, 1, out)
        prev = path
