"""Scrapers, one function per strategy: new-account crawler, logged-out id enumerator,
low-and-slow aged account, coordinated botnet, residential-proxy rotation, headless
browser, search-result harvester, hijacked account, logged-out crawl spread over many
residential addresses, fleet of accounts on home addresses, mass look-ups by phone
number or e-mail address, and a pool of accounts taking turns on a few addresses."""

from __future__ import annotations

import math
from collections import deque
from random import Random
from typing import TYPE_CHECKING

from .benign import RESULTS, _sessions
from .clock import DAY_MS, HOUR_MS
from .events import (
    Actor,
    Client,
    Event,
    Stream,
    before,
    email_address,
    login,
    lookup_hit,
    phone_number,
    profile_hit,
    session_id,
    statics,
)
from .world import APP_UAS, CRAWLER_UA, DESKTOP_UAS, HEADLESS_UA, PYTHON_UA, SCRIPT_UAS, SEARCH_WORDS, SITE, mix64

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
    c = Client(
        a.ip(w),
        f"a{a.account}",
        a.created_at(w),
        ua,
        session_id(rng),
        tier=a.tier,
        tie=a.tie,
        browser=not script,
        api=script,
    )
    stop = min(w.end, a.stop or w.end)
    out: list[Event] = []
    t = login(c, rng, a.start, out)
    if c.browser:
        t += 2_000
        out.append((t, c.tie, c.line("GET", "/feed", 200, 45_000, SITE + "/login")))
        statics(c, rng, t, "/feed", False, 3, out)
    out.sort()
    if out[0][0] < stop:
        yield before(out, stop)
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
            if assets[0][0] < stop:
                yield before(assets, stop)
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
    if rng.random() < p["enumerator_fake_googlebot_share"]:
        ua = CRAWLER_UA  # claims to be the search engine, from an address outside its range
    c = Client(a.ip(w), None, None, ua, session_id(rng), tie=a.tie, browser=False, api=False)
    expected = int((stop - a.start) / step)
    n = max(0, w.population - int(expected * (0.2 + 0.6 * rng.random())))
    alive = w.alive
    pop = w.population
    pre, ident, tail = c.pre, c.ident, c.tail
    t = a.start
    while t < stop:
        if n < pop and alive[n]:
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
    sliding hour (closed, `[t - 1 h, t]`) holds more than `low_and_slow_hourly_cap` views
    (under a limit of 60 an hour, over 500 a day), with feed and search pages in between
    for cover."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    stop = w.end
    c = Client(
        a.ip(w),
        f"a{a.account}",
        a.created_at(w),
        DESKTOP_UAS[int(rng.random() * len(DESKTOP_UAS))],
        session_id(rng),
        tier=a.tier,
        tie=tie,
        browser=True,
        api=False,
    )
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
        if out:
            out.sort()
            ready = before(out, stop)
            if ready:
                yield ready
            if len(ready) < len(out):
                return
            t = max(t, out[-1][0])
            out = []
        t += int(mean * (0.5 + rng.random()))
        if rng.random() < cover:  # cover traffic, not a profile view
            path = "/feed" if rng.random() < 0.5 else "/search?q=news"
            out.append((t, c.tie, c.line("GET", path, 200, 40_000, SITE + prev, RESULTS if path != "/feed" else None)))
            statics(c, rng, t, path, False, 2, out)
            prev = path
            continue
        if len(recent) == cap and t - recent[0] <= HOUR_MS:
            t = recent[0] + HOUR_MS + 1  # wait until the oldest view leaves the (closed) hour
        recent.append(t)
        path, status, nbytes = profile_hit(w, c, rng, w.uniform_existing(rng))
        out.append((t, c.tie, c.line("GET", path, status, nbytes, SITE + prev)))
        statics(c, rng, t, path, False, 1, out)
        prev = path


def _pace(t: int, hour: deque[int], day: deque[int]) -> int:
    """The earliest time >= t at which one more view keeps every closed sliding hour and
    day within the deques' lengths (the caps); records the view."""
    if len(hour) == hour.maxlen and t - hour[0] <= HOUR_MS:
        t = hour[0] + HOUR_MS + 1
    if len(day) == day.maxlen and t - day[0] <= DAY_MS:
        t = day[0] + DAY_MS + 1
    hour.append(t)
    day.append(t)
    return t


def botnet(w: World, a: Actor) -> Stream:
    """One account of a coordinated fleet. Every member is under every per-entity limit:
    at most `botnet_hourly_cap` profile views in any sliding hour and `botnet_daily_cap` in
    any sliding day, from its own address. What gives the fleet away is what members share
    (see `Fleet`): a few /24 subnets, one user agent, accounts created within the same
    hour, start times within minutes, and adjacent, disjoint blocks of ids that each
    member walks upward. Scripts: no assets, no referers."""
    yield a.start, a.tie, None
    p = w.params
    f = a.fleet
    assert f is not None
    rng = w.rng(a.tie, 1)
    tie = a.tie
    c = Client(
        a.ip(w),
        a.account_id(),
        a.created_at(w),
        f.user_agent,
        session_id(rng),
        tier=a.tier,
        tie=tie,
        browser=False,
        api=False,
    )
    hour: deque[int] = deque(maxlen=int(p["botnet_hourly_cap"]))
    day: deque[int] = deque(maxlen=int(p["botnet_daily_cap"]))
    mean = HOUR_MS / p["botnet_per_hour"]
    jitter = p["botnet_jitter"]
    stop = w.end
    lo = f.first_id + a.member * f.chunk
    hi = lo + f.chunk
    n = lo
    out: list[Event] = []
    t = login(c, rng, a.start, out)
    yield from out
    while True:
        t = int(t + mean * (1.0 - jitter + 2.0 * jitter * rng.random()))
        if t >= stop:
            return
        t = _pace(t, hour, day)
        if t >= stop:
            return
        uid = w.existing_from(n)
        if not lo <= uid < hi:  # past the end of its block: start the next pass
            uid = w.existing_from(lo)
        n = uid + 1
        path, status, nbytes = profile_hit(w, c, rng, uid)
        yield t, tie, c.line("GET", path, status, nbytes)


def proxy_rotation(w: World, a: Actor) -> Stream:
    """An account created days earlier scraping through a residential proxy pool: a new
    exit address every `proxy_requests_per_ip` requests, a profile every
    `proxy_interval_s`, one session (the cookie travels with it), browser user agent, no
    assets."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    exits = 0
    c = Client(
        w.residential(tie << 24),
        a.account_id(),
        a.created_at(w),
        DESKTOP_UAS[int(rng.random() * len(DESKTOP_UAS))],
        session_id(rng),
        tier=a.tier,
        tie=tie,
        browser=False,
        api=False,
    )
    nlo, nhi = (int(x) for x in p["proxy_requests_per_ip"])
    lo, hi = (int(x * 1000) for x in p["proxy_interval_s"])
    stop = min(w.end, a.stop or w.end)
    pop = w.population
    out: list[Event] = []
    t = login(c, rng, a.start, out)
    yield from (e for e in out if e[0] < stop)
    left = nlo + int(rng.random() * (nhi - nlo + 1)) - 1  # the login was the first on this exit
    while True:
        t += lo + int(rng.random() * (hi - lo))
        if t >= stop:
            return
        if left <= 0:
            exits += 1
            c.set_ip(w.residential(tie << 24 | exits))
            left = nlo + int(rng.random() * (nhi - nlo + 1))
        left -= 1
        uid = w.uniform_existing(rng) if rng.random() < 0.97 else int(rng.random() * pop)
        path, status, nbytes = profile_hit(w, c, rng, uid)
        yield t, tie, c.line("GET", path, status, nbytes)


def headless_browser(w: World, a: Actor) -> Stream:
    """An account driving a headless browser around the clock: human-like lognormal pauses
    (median `headless_think_median_s`), every page's assets loaded, referers set, but only
    ever profile pages, walking from each profile to one of its connections."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    ua = HEADLESS_UA if rng.random() < p["headless_ua_share"] else DESKTOP_UAS[int(rng.random() * len(DESKTOP_UAS))]
    c = Client(
        a.ip(w),
        a.account_id(),
        a.created_at(w),
        ua,
        session_id(rng),
        tier=a.tier,
        tie=tie,
        browser=True,
        api=False,
    )
    mu = math.log(p["headless_think_median_s"] * 1000.0)
    sigma = p["headless_think_sigma"]
    stop = min(w.end, a.stop or w.end)
    uid = w.popular(rng)
    ref: str | None = None
    first = True
    out: list[Event] = []
    t = a.start
    while t < stop:
        path, status, nbytes = profile_hit(w, c, rng, uid)
        out.append((t, tie, c.line("GET", path, status, nbytes, ref)))
        statics(c, rng, t, path, first, 3, out)
        first = False
        ready = before(out, stop)
        if ready:
            yield ready
        if len(ready) < len(out):
            return
        last = out[-1][0]
        out = []
        ref = SITE + path
        t = max(last + 1, t + int(min(max(math.exp(mu + sigma * rng.gauss(0.0, 1.0)), 1_500.0), 120_000.0)))
        # a connection listed on the page, or (at a dead end, or now and then) back to its list of seeds
        jump = status == 404 or rng.random() < 0.15
        uid = w.uniform_existing(rng) if jump else w.friend(uid, int(rng.random() * 20))


def search_harvester(w: World, a: Actor) -> Stream:
    """An account paging through `/search?q=<term>&page=N` and visiting every profile
    listed on each page, fast (`harvester_interval_s`), for `harvester_minutes`."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    script = rng.random() < p["harvester_script_share"]
    ua = PYTHON_UA if script else DESKTOP_UAS[int(rng.random() * len(DESKTOP_UAS))]
    c = Client(
        a.ip(w),
        a.account_id(),
        a.created_at(w),
        ua,
        session_id(rng),
        tier=a.tier,
        tie=tie,
        browser=False,
        api=False,
    )
    lo, hi = (int(x * 1000) for x in p["harvester_interval_s"])
    plo, phi = (int(x) for x in p["harvester_pages_per_term"])
    stop = min(w.end, a.stop or w.end)
    words = SEARCH_WORDS
    out: list[Event] = []
    t = login(c, rng, a.start, out)
    yield from (e for e in out if e[0] < stop)
    while True:
        term = words[int(rng.random() * len(words))]
        for page in range(1, plo + int(rng.random() * (phi - plo + 1)) + 1):
            t += lo + int(rng.random() * (hi - lo))
            if t >= stop:
                return
            listing = f"/search?q={term}&page={page}"
            yield (
                t,
                tie,
                c.line(
                    "GET",
                    listing,
                    200,
                    30_000 + int(rng.random() * 15_000),
                    None if script else SITE + listing,
                    RESULTS,
                ),
            )
            for uid in w.search_results(term, page):
                t += lo + int(rng.random() * (hi - lo))
                if t >= stop:
                    return
                path, status, nbytes = profile_hit(w, c, rng, uid)
                yield t, tie, c.line("GET", path, status, nbytes, None if script else SITE + listing)


def hijacked_account(w: World, a: Actor) -> Stream:
    """An aged account used normally by its owner (exactly as `benign_user`) until
    `a.switch`; then an attacker logs in from a residential proxy with a script and views
    a profile every `hijack_interval_s` until the end."""
    switch = a.switch if a.switch is not None else w.end
    yield from _sessions(w, a, a.start, 1, switch)
    if switch >= w.end:
        return
    yield switch, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1 << 23)  # a stream no session of the owner reaches
    tie = a.tie
    ua = SCRIPT_UAS[int(rng.random() * len(SCRIPT_UAS))]
    c = Client(
        w.residential(tie << 24 | 0xFFFFFF),
        a.account_id(),
        a.created_at(w),
        ua,
        session_id(rng),
        tier=a.tier,
        tie=tie,
        browser=False,
        api=True,
    )
    lo, hi = (int(x * 1000) for x in p["hijack_interval_s"])
    stop = w.end
    pop = w.population
    out: list[Event] = []
    t = login(c, rng, switch, out)
    yield from (e for e in out if e[0] < stop)
    while True:
        t += lo + int(rng.random() * (hi - lo))
        if t >= stop:
            return
        uid = w.uniform_existing(rng) if rng.random() < 0.97 else int(rng.random() * pop)
        path, status, nbytes = profile_hit(w, c, rng, uid)
        yield t, tie, c.line("GET", path, status, nbytes)


def distributed_crawl(w: World, a: Actor) -> Stream:
    """One address of a logged-out crawl spread over many residential addresses (`Group`): a few dozen profile
    requests, each unremarkable alone, with an ordinary browser user agent and no cookies, assets, referers or
    revisits. Together the operation's addresses walk its block of ids round by round: in round k address j
    takes id `first_id + k * size + (j + shift_k) % size`, so each address's own ids look scattered while
    the operation covers the block. A harvested operation skips the ids that do not exist (no 404s); a slow
    one makes 1-2 requests an hour per address, all window long."""
    g = a.group
    assert g is not None
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    c = Client(a.ip(w), None, None, g.user_agents[int(rng.random() * len(g.user_agents))], "", tie=tie,
               browser=False, api=False)  # fmt: skip
    pre, ident = c.pre, c.ident
    lo, hi = (int(x) for x in p["distributed_requests_per_address"])
    n = lo + int(rng.random() * (hi - lo + 1))
    stop = min(w.end, g.stop)
    size, member = g.size, a.member
    if g.slow:
        gap = HOUR_MS / g.per_hour
        t = a.start + rng.random() * gap
    else:
        gap = (g.stop - g.start) / n
        t = g.start + rng.random() * gap
    key = mix64(g.first_id ^ w.salt ^ 0xD15)
    for k in range(n):
        if k:
            t = (t + gap * (0.7 + 0.6 * rng.random())) if g.slow else g.start + (k + rng.random()) * gap
        ts = int(t)
        if ts >= stop:
            return
        uid = g.first_id + k * size + (member + mix64(key ^ k)) % size
        if w.exists(uid):
            status, nbytes = 200, 28_000 + int(rng.random() * 12_000)
        elif g.harvested:
            continue  # its list has only the ids that exist
        else:
            status, nbytes = 404, 1_812
        tail = f',"session_id":"{rng.getrandbits(64):016x}"}}\n'  # no cookie jar
        yield ts, tie, f'{pre}GET","path":"/u/{uid}","status":{status}{ident},"bytes":{nbytes}{tail}'.encode()


def account_fleet(w: World, a: Actor) -> Stream:
    """One account of a fleet, each on its own home address: aged accounts created days apart, profile views of
    random (not sequential) existing ids at an irregular pace under every per-account limit, now and then a feed
    page; no assets, no referers, one of a few desktop user agents the fleet shares."""
    g = a.group
    assert g is not None
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    c = Client(a.ip(w), a.account_id(), a.created_at(w), g.user_agents[int(rng.random() * len(g.user_agents))],
               session_id(rng), tier=a.tier, tie=tie, browser=False, api=False)  # fmt: skip
    mean = HOUR_MS / _draw(p["account_fleet_per_hour"], rng)
    feed = _draw(p["account_fleet_feed_share"], rng)
    stop = min(w.end, g.stop)
    pop = w.population
    out: list[Event] = []
    t = login(c, rng, a.start, out)
    yield from (e for e in out if e[0] < stop)
    while True:
        t += 1 + int(rng.expovariate(1.0 / mean))
        if rng.random() < 0.01:  # a pause
            t += 300_000 + int(rng.random() * 900_000)
        if t >= stop:
            return
        if rng.random() < feed:
            yield t, tie, c.line("GET", "/feed", 200, 8_000 + int(rng.random() * 20_000))
            continue
        uid = w.uniform_existing(rng) if rng.random() < 0.97 else int(rng.random() * pop)
        path, status, nbytes = profile_hit(w, c, rng, uid)
        yield t, tie, c.line("GET", path, status, nbytes)


def lookup_scraper(w: World, a: Actor) -> Stream:
    """An account looking people up in bulk through the look-up endpoint: phone numbers walked in order through a
    range, or e-mail addresses from a leaked list, one every `lookup_interval_s`; most find no one (404), the
    rest disclose the person behind the number or address. A script, or a client posing as the platform's app."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    email = rng.random() < p["lookup_email_share"]
    ua = APP_UAS[int(rng.random() * len(APP_UAS))] if rng.random() < 0.5 else PYTHON_UA
    c = Client(a.ip(w), a.account_id(), a.created_at(w), ua, session_id(rng), tier=a.tier, tie=tie, browser=False,
               api=True)  # fmt: skip
    found = _draw(p["lookup_found_share"], rng)
    lo, hi = (int(x * 1000) for x in p["lookup_interval_s"])
    stop = min(w.end, a.stop or w.end)
    out: list[Event] = []
    t = login(c, rng, a.start, out)
    yield from (e for e in out if e[0] < stop)
    number = rng.getrandbits(26)
    while True:
        t += lo + int(rng.random() * (hi - lo))
        if t >= stop:
            return
        if email:
            ident = email_address(rng)
        else:
            ident = phone_number(number)
            number += 1
        path, status, nbytes = lookup_hit(c, rng, ident, email, rng.random() < found)
        yield t, tie, c.line("GET", path, status, nbytes)


def account_pool(w: World, a: Actor) -> Stream:
    """One account of a pool of aged accounts that take turns on a few shared addresses: in its turn (every
    `size` turns of the pool) it logs in and views a burst of random profiles, then the next account takes
    over the same addresses. No assets, no referers."""
    g = a.group
    assert g is not None
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    ua = g.user_agents[a.member % len(g.user_agents)]
    ip = g.addresses[a.member % len(g.addresses)]
    lo, hi = (int(x) for x in p["account_pool_views_per_turn"])
    ilo, ihi = (int(x * 1000) for x in p["account_pool_interval_s"])
    stop = min(w.end, g.stop)
    cycle = g.size * g.turn
    turn = a.start
    while turn < stop:
        c = Client(ip, a.account_id(), a.created_at(w), ua, session_id(rng), tier=a.tier, tie=tie, browser=False,
                   api=False)  # fmt: skip
        out: list[Event] = []
        t = login(c, rng, turn, out)
        over = min(stop, turn + g.turn)
        for _ in range(lo + int(rng.random() * (hi - lo + 1))):
            t += ilo + int(rng.random() * (ihi - ilo))
            if t >= over:
                break
            path, status, nbytes = profile_hit(w, c, rng, w.uniform_existing(rng))
            out.append((t, tie, c.line("GET", path, status, nbytes)))
        ready = before(out, stop)
        if ready:
            yield ready
        turn += cycle
        if turn < stop:
            yield turn, tie, None


def _draw(pair: list[float], rng: Random) -> float:
    """A value drawn uniformly from a [low, high] range."""
    lo, hi = pair
    return lo + (hi - lo) * rng.random()
