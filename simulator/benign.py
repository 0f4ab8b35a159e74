"""Benign actors, including the hard negatives a detector must not act on.

Established users (diurnal sessions), brand-new users (onboarding burst), recruiters
(hundreds of profiles a day through search), users behind a shared NAT address, mobile
users whose address keeps changing, logged-out visitors, the allowlisted partner API
client and the verified search-engine crawler.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Generator, Iterator
from operator import itemgetter
from random import Random
from typing import TYPE_CHECKING

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
from .world import (
    APP_UAS,
    CRAWLER_UA,
    DESKTOP_UAS,
    MOBILE_WEB_UAS,
    PARTNER_NET,
    PARTNER_UA,
    PLACES,
    ROLES,
    SEARCH_WORDS,
    SITE,
    dotted,
    mix64,
)

if TYPE_CHECKING:
    from .world import World

_by_time = itemgetter(0)
_MAX_THINK_MS = 600_000
_ONBOARDING_MS = 570_000  # suggested profiles are all viewed within 9.5 min of sign-up
_GOOGLE = "https://www.google.com/"
RESULTS = 10  # people listed on a search page (`World.search_results`): the records it discloses
# Images a browser fetches with each kind of page.
_IMAGES = {"feed": 6, "search": 4, "profile": 3, "messages": 1, "login": 0}


# -- established accounts -------------------------------------------------------------


def benign_user(w: World, a: Actor) -> Stream:
    """An established account: a few sessions over the window, Poisson with a daily rhythm."""
    return _sessions(w, a, a.start, 1, w.end)


def benign_nat_user(w: World, a: Actor) -> Stream:
    """An established account behind a shared address (an office proxy or a carrier-grade
    NAT) that dozens of other accounts use too; it behaves like `benign_user`."""
    return _sessions(w, a, a.start, 1, w.end)


def benign_mobile_user(w: World, a: Actor) -> Stream:
    """An established account on a phone (app or mobile web) whose carrier address changes
    every few minutes, even within a session; some are on IPv6."""
    return _sessions(w, a, a.start, 1, w.end)


def benign_new_user(w: World, a: Actor) -> Stream:
    """An account created in the window: views 15-40 suggested profiles within 10 minutes
    of sign-up, then behaves like an established user."""
    yield a.start, a.tie, None
    out, nxt = _onboarding(w, a)
    if out:
        yield out  # one chunk
    del out  # the merge holds it now; this frame lives on for the later sessions
    yield from _sessions(w, a, nxt, 2, w.end)


def _onboarding(w: World, a: Actor) -> tuple[list[Event], int]:
    """The first session after sign-up (suggested profiles from the feed), and the next start."""
    rng = w.rng(a.tie, 1)
    c = _account_client(w, rng, a, a.start)
    lo, hi = (int(x) for x in w.params["onboarding_profiles"])
    out: list[Event] = []
    t = a.start
    out.append(
        (
            t,
            c.tie,
            c.line("GET", "/feed", 200, 40_000 + int(rng.random() * 20_000), SITE + "/signup" if c.browser else None),
        )
    )
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
    _drain(browse(w, rng, c, t, _pages(w, rng), account=a.account, first="feed"), out)
    return _in_window(out, w.end), _next_session(w, rng, a.start, max(e[0] for e in out))


def _sessions(
    w: World, a: Actor, t: int, k: int, stop: int, build: Callable[..., Generator[Event, None, int]] | None = None
) -> Stream:
    """Sessions from t until `stop` (events at or after it are dropped). Between sessions the
    actor holds nothing but the next start: it yields a wake-up marker there and builds the
    session only when woken; `build(w, a, t, k, stop)` yields a session's events (and
    markers between its pages) and returns the next session's start."""
    build = build or _session
    if t >= stop:
        yield stop, a.tie, None  # a stream starts with a marker, even an empty one
        return
    while t < stop:
        yield t, a.tie, None
        t = yield from build(w, a, t, k, stop)
        k += 1


def _session(w: World, a: Actor, t: int, k: int, stop: int) -> Generator[Event, None, int]:
    """Yield an account's k-th session starting at t, page by page; return the next session's start."""
    rng = w.rng(a.tie, k)
    c = _account_client(w, rng, a, t)
    s, ref, last = t, None, -1
    if rng.random() < 0.15:  # cookie expired: log in first
        out: list[Event] = []
        s = login(c, rng, t, out) + 1_500 + int(rng.random() * 2_000)
        ref = SITE + "/login"
        out.sort(key=_by_time)
        if out[0][0] < stop:
            yield before(out, stop)
        last = out[-1][0]
    last = max(last, (yield from browse(w, rng, c, s, _pages(w, rng), account=a.account, referer=ref, stop=stop)))
    return _next_session(w, rng, t, last)


def _drain(pages: Generator[Event, None, int], out: list[Event]) -> int:
    """Append the events of `pages` (not its markers) to out; return what it returns."""
    while True:
        try:
            e = next(pages)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if e.__class__ is list:
            out.extend(e)  # type: ignore[arg-type]
        elif e[2] is not None:  # type: ignore[index]
            out.append(e)  # type: ignore[arg-type]


def _hand_over(out: list[Event], t: int, tie: int, stop: int) -> Iterator[Event | list[Event]]:
    """Yield the pending events in `out` that come before t as one chunk, in time order (a
    stable sort, so ties keep the order they were made in), and drop them; then a wake-up
    marker at t, so the next page is built only when the merge gets there. Nothing at or
    after `stop` is yielded."""
    if out:
        out.sort(key=_by_time)
        n = bisect_left(out, t, key=_by_time) if out[-1][0] >= t else len(out)
        ready = before(out[:n], stop)
        if ready:
            yield ready
        del out[:n]
    if t < stop:
        yield t, tie, None


def _in_window(out: list[Event], stop: int) -> list[Event]:
    """Sort a session's events by time (stable) and drop those at or after `stop`."""
    out.sort(key=_by_time)
    if out and out[-1][0] >= stop:
        return [e for e in out if e[0] < stop]
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


def _account_client(w: World, rng: Random, a: Actor, t: int) -> Client:
    """The device and address of one session starting at t.

    Most accounts: desktop (home IPv4) or mobile web / app (home IPv6). Recruiters work at
    a desktop. NAT users send everything from their group's shared address (phones behind
    a carrier NAT, desktops behind an office proxy). Mobile users are on a phone whose
    carrier address changes every few minutes.
    """
    p = w.params
    h = mix64(a.account ^ w.salt)  # type: ignore[operator]
    created = a.created_at(w)
    sid = session_id(rng)
    account = a.account_id()
    kind = a.kind
    tie = a.tie
    if kind in ("benign_recruiter", "benign_power_recruiter"):
        return Client(
            w.ipv4(a.slot),
            account,
            created,
            DESKTOP_UAS[h % len(DESKTOP_UAS)],
            sid,
            tier=a.tier,
            tie=tie,
            browser=True,
            api=False,
        )
    if kind == "benign_nat_user":
        ip, carrier = w.nat_gateway(a.member)
        if not carrier:
            return Client(
                ip,
                account,
                created,
                DESKTOP_UAS[h % len(DESKTOP_UAS)],
                sid,
                tier=a.tier,
                tie=tie,
                browser=True,
                api=False,
            )
        mobile = True
    elif kind == "benign_mobile_user":
        ip, mobile = "", True
    else:
        mobile = rng.random() < p["mobile_share"]
        ip = w.ipv6(a.slot) if mobile else w.ipv4(a.slot)
    if not mobile:
        return Client(
            ip, account, created, DESKTOP_UAS[h % len(DESKTOP_UAS)], sid, tier=a.tier, tie=tie, browser=True, api=False
        )
    if rng.random() < p["app_share_of_mobile"]:
        c = Client(ip, account, created, APP_UAS[h % len(APP_UAS)], sid, tier=a.tier, tie=tie, browser=False, api=True)
    else:
        c = Client(
            ip,
            account,
            created,
            MOBILE_WEB_UAS[h % len(MOBILE_WEB_UAS)],
            sid,
            tier=a.tier,
            tie=tie,
            browser=True,
            api=False,
        )
    if kind == "benign_mobile_user":
        _roaming(w, rng, a, c, t)
    return c


def _roaming(w: World, rng: Random, a: Actor, c: Client, t: int) -> None:
    """Give a mobile client a fresh carrier address now and every `mobile_ip_change_min`."""
    lo, hi = (int(x * 60_000) for x in w.params["mobile_ip_change_min"])
    v6 = a.v6

    def connect(c: Client, now: int) -> None:
        key = a.tie << 32 | rng.getrandbits(32)
        c.set_ip(w.carrier_ipv6(key) if v6 else w.carrier_ipv4(key))
        c.roam_at = now + lo + int(rng.random() * (hi - lo))

    connect(c, t)
    c.roam = connect


# -- recruiters -----------------------------------------------------------------------


def benign_recruiter(w: World, a: Actor) -> Stream:
    """A recruiter (or other power user): during a working shift, session after session of
    searching and opening a few results of each page, hundreds of profiles a day."""
    return _sessions(w, a, a.start, 1, w.end, _recruiter_session)


def recruiter_start(w: World, a: Actor, rng: Random) -> int:
    """First session: within minutes of the window's start when it opens during the shift,
    else soon after the next shift starts."""
    return _on_shift(w, a, int(rng.random() * min(20 * 60_000, w.end / 2)), rng)


def _on_shift(w: World, a: Actor, t: int, rng: Random) -> int:
    """t if it lies in the actor's shift, else soon after the next shift start."""
    since = _since_shift(w, a, t)
    if since < w.params["recruiter_shift_hours"] * HOUR_MS:
        return t
    return t + DAY_MS - since + int(rng.random() * 30 * 60_000)


def _since_shift(w: World, a: Actor, t: int) -> int:
    """Time since the actor's shift (last) began, at t."""
    lo, hi = w.params["recruiter_shift_start_utc"]
    u = (mix64(a.tie ^ w.salt ^ 0x5F1) >> 11) / 2.0**53  # the recruiter's own start of day
    begin = int((lo + (hi - lo) * u) * HOUR_MS)
    return int((w.t0 + t - begin) % DAY_MS)


def _recruiter_session(w: World, a: Actor, t: int, k: int, stop: int) -> Generator[Event, None, int]:
    """Search, open some results, next page or new query, until the session's quota of
    profiles; then a break. Yields page by page; returns the next session's start."""
    rng = w.rng(a.tie, k)
    p = w.params
    c = _account_client(w, rng, a, t)
    tie = c.tie
    out: list[Event] = []  # made, not yet handed over
    prev = None
    if rng.random() < 0.1:
        t = login(c, rng, t, out) + 1_500 + int(rng.random() * 2_000)
        prev = SITE + "/login"
    lo, hi = (int(x) for x in p["recruiter_profiles_per_session"])
    quota = lo + int(rng.random() * (hi - lo + 1))
    mu = math.log(p["recruiter_think_s"] * 1000.0)
    message = p["recruiter_message_share"]
    views = 0
    last = t
    first = True
    while views < quota and t < stop:
        query = ROLES[int(rng.random() * len(ROLES))]
        if rng.random() < 0.7:
            query += "+" + PLACES[int(rng.random() * len(PLACES))]
        page = 1
        while views < quota and t < stop:
            yield from _hand_over(out, t, tie, stop)
            path = f"/search?q={query}" if page == 1 else f"/search?q={query}&page={page}"
            out.append((t, tie, c.line("GET", path, 200, 30_000 + int(rng.random() * 15_000), prev, RESULTS)))
            statics(c, rng, t, path, first, 4, out)
            first = False
            last = t
            results = w.search_results(query, page)
            t += 2_000 + int(rng.random() * 6_000)  # reads the result list
            for i in sorted(rng.sample(range(10), 2 + int(rng.random() * 7))):
                if views >= quota or t >= stop:
                    break
                yield from _hand_over(out, t, tie, stop)
                ppath, status, nbytes = profile_hit(w, c, rng, results[i])
                out.append((t, tie, c.line("GET", ppath, status, nbytes, SITE + path)))
                statics(c, rng, t, ppath, False, 2 + int(rng.random() * 2), out)
                views += 1
                last = t
                think = int(min(max(math.exp(mu + 0.6 * rng.gauss(0.0, 1.0)), 2_000.0), 300_000.0))
                if rng.random() < message:  # writes to the candidate
                    out.append(
                        (
                            t + think // 2,
                            tie,
                            c.line("POST", "/messages", 201, 350 + int(rng.random() * 150), SITE + ppath),
                        )
                    )
                t += think
            prev = SITE + path
            if rng.random() < 0.35:
                break  # a new query
            page += 1
    out.sort(key=_by_time)
    if out and out[0][0] < stop:
        yield before(out, stop)
    brk = math.exp(math.log(p["recruiter_break_min"] * 60_000.0) + 0.5 * rng.gauss(0.0, 1.0))
    return _on_shift(w, a, max(t, last) + int(brk), rng)


def benign_power_recruiter(w: World, a: Actor) -> Stream:
    """A heavy, legitimate user (a recruiter or sourcer) at 241-390 profiles an hour while working: search, open
    several results at once in tabs, read them, next page or query; every page with its assets and the search
    page as referer. Sessions of an hour or two with short breaks, over a working day."""
    return _sessions(w, a, a.start, 1, w.end, _power_session)


def _unit(w: World, a: Actor, salt: int) -> float:
    """A number in [0, 1) fixed for the actor (the same in every session)."""
    return (mix64(a.tie ^ w.salt ^ salt) >> 11) / 2.0**53


def _between(pair: list[float], u: float) -> float:
    lo, hi = pair
    return lo + (hi - lo) * u


def _power_session(w: World, a: Actor, t: int, k: int, stop: int) -> Generator[Event, None, int]:
    """One working session at the recruiter's own pace; returns the next session's start."""
    rng = w.rng(a.tie, k)
    p = w.params
    c = _account_client(w, rng, a, t)
    tie = c.tie
    out: list[Event] = []
    prev = None
    if rng.random() < 0.1:
        t = login(c, rng, t, out) + 1_500 + int(rng.random() * 2_000)
        prev = SITE + "/login"
    per_view = HOUR_MS / _between(p["power_recruiter_views_per_hour"], _unit(w, a, 0x9E1))  # ms per profile
    shift_end = t - _since_shift(w, a, t) + int(p["recruiter_shift_hours"] * HOUR_MS)
    end = min(stop, shift_end, t + int(_between(p["power_recruiter_session_min"], rng.random()) * 60_000))
    last = t
    first = True
    while t < end:
        query = ROLES[int(rng.random() * len(ROLES))]
        if rng.random() < 0.8:
            query += "+" + PLACES[int(rng.random() * len(PLACES))]
        page = 1
        while t < end:
            yield from _hand_over(out, t, tie, stop)
            path = f"/search?q={query}" if page == 1 else f"/search?q={query}&page={page}"
            out.append((t, tie, c.line("GET", path, 200, 30_000 + int(rng.random() * 15_000), prev, RESULTS)))
            statics(c, rng, t, path, first, 4, out)
            first = False
            results = w.search_results(query, page)
            picks = sorted(rng.sample(range(10), 3 + int(rng.random() * 8)))  # opened in tabs
            budget = int(len(picks) * per_view * (0.85 + 0.3 * rng.random()))  # to read them all
            opened = t + 2_000 + int(rng.random() * 4_000)  # skims the list
            for i in picks:
                yield from _hand_over(out, opened, tie, stop)
                ppath, status, nbytes = profile_hit(w, c, rng, results[i])
                out.append((opened, tie, c.line("GET", ppath, status, nbytes, SITE + path)))
                statics(c, rng, opened, ppath, False, 2 + int(rng.random() * 2), out)
                if rng.random() < 0.05:  # writes to the candidate while reading the tabs
                    msg = opened + int(rng.random() * budget)
                    out.append(
                        (msg, tie, c.line("POST", "/messages", 201, 350 + int(rng.random() * 150), SITE + ppath))
                    )
                last = opened
                opened += 800 + int(rng.random() * 2_500)
            t += max(budget, opened - t + 1_000)
            prev = SITE + path
            if rng.random() < 0.35:
                break  # a new query
            page += 1
    out.sort(key=_by_time)
    if out and out[0][0] < stop:
        yield before(out, stop)
    brk = _between(p["power_recruiter_break_min"], rng.random()) * 60_000
    return _on_shift(w, a, max(t, last) + int(brk), rng)


# -- look-ups and contact import ----------------------------------------------------------


def benign_friend_finder(w: World, a: Actor) -> Stream:
    """An established account that looks a few people up by phone number or e-mail address (1-8, typed one by
    one), opens the profiles it finds, browses on; later sessions as `benign_user`."""
    yield a.start, a.tie, None
    out, nxt = _friend_lookups(w, a)
    if out:
        yield out
    del out
    yield from _sessions(w, a, nxt, 2, w.end)


def _friend_lookups(w: World, a: Actor) -> tuple[list[Event], int]:
    rng = w.rng(a.tie, 1)
    p = w.params
    c = _account_client(w, rng, a, a.start)
    tie = c.tie
    out: list[Event] = []
    t = a.start
    out.append((t, tie, c.line("GET", "/feed", 200, 40_000 + int(rng.random() * 20_000), None)))
    if c.browser:
        statics(c, rng, t, "/feed", True, 4, out)
    lo, hi = (int(x) for x in p["friend_lookups"])
    found_share = _between(p["friend_lookup_found_share"], rng.random())
    ref = SITE + "/feed" if c.browser else None
    for j in range(lo + int(rng.random() * (hi - lo + 1))):
        t += 8_000 + int(rng.random() * 50_000)  # types the number or address
        email = rng.random() < 0.5
        ident = email_address(rng) if email else phone_number(rng.getrandbits(27))
        path, status, nbytes = lookup_hit(c, rng, ident, email, rng.random() < found_share)
        out.append((t, tie, c.line("GET", path, status, nbytes, ref)))
        if c.browser:
            statics(c, rng, t, path, False, 1, out)
        if status == 200:  # opens the profile found
            t += 2_000 + int(rng.random() * 4_000)
            ppath, pstatus, pbytes = profile_hit(w, c, rng, w.friend(a.account, j))  # type: ignore[arg-type]
            out.append((t, tie, c.line("GET", ppath, pstatus, pbytes, SITE + path if c.browser else None)))
            if c.browser:
                statics(c, rng, t, ppath, False, 2, out)
            t += _think(w, rng)
    _drain(browse(w, rng, c, t + _think(w, rng), _pages(w, rng), account=a.account, first="feed"), out)
    out = _in_window(out, w.end)
    return out, _next_session(w, rng, a.start, max([e[0] for e in out], default=a.start))


def benign_contact_importer(w: World, a: Actor) -> Stream:
    """An account that uploads its address book once (`contacts/import`: the people on the platform among its
    contacts come back, `contact_import_matches` records), opens a few of them, browses on."""
    yield a.start, a.tie, None
    out, nxt = _contact_import(w, a)
    if out:
        yield out
    del out
    yield from _sessions(w, a, nxt, 2, w.end)


def _contact_import(w: World, a: Actor) -> tuple[list[Event], int]:
    rng = w.rng(a.tie, 1)
    c = _account_client(w, rng, a, a.start)
    tie = c.tie
    out: list[Event] = []
    t = a.start
    lo, hi = (int(x) for x in w.params["contact_import_matches"])
    matches = lo + int(rng.random() * (hi - lo + 1))
    path = "/api/v1/contacts/import" if c.api else "/contacts/import"
    if c.browser:
        out.append((t, tie, c.line("GET", "/contacts", 200, 12_000 + int(rng.random() * 3_000), SITE + "/feed")))
        statics(c, rng, t, "/contacts", True, 1, out)
        t += 10_000 + int(rng.random() * 30_000)  # chooses the address book to upload
    out.append((t, tie, c.line("POST", path, 200, 400 + 350 * matches, SITE + "/contacts" if c.browser else None,
                               matches)))  # fmt: skip
    for j in range(2 + int(rng.random() * 7)):  # opens some of the people found
        t += 3_000 + _think(w, rng)
        ppath, status, nbytes = profile_hit(w, c, rng, w.friend(a.account, j))  # type: ignore[arg-type]
        out.append((t, tie, c.line("GET", ppath, status, nbytes, SITE + "/contacts" if c.browser else None)))
        if c.browser:
            statics(c, rng, t, ppath, False, 2, out)
    _drain(browse(w, rng, c, t + _think(w, rng), _pages(w, rng), account=a.account, first="feed"), out)
    out = _in_window(out, w.end)
    return out, _next_session(w, rng, a.start, max([e[0] for e in out], default=a.start))


# -- logged out -----------------------------------------------------------------------


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
    _drain(browse(w, rng, c, a.start, pages, account=None, first=first, referer=_GOOGLE), out)
    out = _in_window(out, w.end)
    if out:
        yield out


# -- allowlisted machines -------------------------------------------------------------


def benign_partner_api(w: World, a: Actor) -> Stream:
    """The partner's sync service: account `partner-acme`, profile reads over the API at a
    steady 2-5 a second around the clock from its servers in 198.51.100.0/28, and a token
    refresh every hour."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    created = a.created_at(w)
    base, _ = PARTNER_NET
    clients = [
        Client(
            dotted(base + 1 + i),
            a.account_id(),
            created,
            PARTNER_UA,
            session_id(rng),
            tier=a.tier,
            tie=tie,
            browser=False,
            api=True,
        )
        for i in range(int(p["partner_ips"]))
    ]
    lo, hi = (int(x * 1000) for x in p["partner_interval_s"])
    span = hi - lo
    stop = w.end
    pop = w.population
    alive = w.alive
    uniform = w.uniform_existing
    n = len(clients)
    token_at = a.start
    t = a.start
    while t < stop:
        c = clients[int(rng.random() * n)]
        if t >= token_at:
            yield t, tie, c.line("POST", "/api/v1/token", 200, 412)
            token_at += HOUR_MS
            t += 50 + int(rng.random() * 200)
            continue
        uid = uniform(rng) if rng.random() < 0.98 else int(rng.random() * pop)  # a few since deleted
        if uid < pop and alive[uid]:
            yield t, tie, c.line("GET", f"/api/v1/users/{uid}", 200, 1_800 + int(rng.random() * 1_400))
        else:
            yield t, tie, c.line("GET", f"/api/v1/users/{uid}", 404, 62)
        t += lo + int(rng.random() * span)


def benign_search_crawler(w: World, a: Actor) -> Stream:
    """One address of the verified search-engine crawler (Googlebot, 66.249.64.0/27):
    logged out, no cookies, public profiles at a Poisson rate (its share of
    `search_crawler_rate_per_s`), robots.txt every hour, now and then a script to render."""
    yield a.start, a.tie, None
    p = w.params
    rng = w.rng(a.tie, 1)
    tie = a.tie
    c = Client(a.ip(w), None, None, CRAWLER_UA, "", tie=tie, browser=False, api=False)
    pre, ident = c.pre, c.ident
    mean = 1000.0 * p["search_crawler_ips"] / p["search_crawler_rate_per_s"]
    stop = w.end
    pop = w.population
    robots_at = a.start
    t = float(a.start)
    while t < stop:
        ts = int(t)
        tail = f',"session_id":"{rng.getrandbits(64):016x}"}}\n'  # no cookie jar
        if ts >= robots_at:
            path, status, nbytes = "/robots.txt", 200, 312
            robots_at += HOUR_MS
        elif rng.random() < 0.03:
            path, status, nbytes = "/static/app.js", 200, 182_344
        else:
            r = rng.random()
            uid = w.popular(rng) if r < 0.5 else w.uniform_existing(rng) if r < 0.98 else int(rng.random() * pop)
            path, status, nbytes = profile_hit(w, c, rng, uid)
        yield ts, tie, f'{pre}GET","path":"{path}","status":{status}{ident},"bytes":{nbytes}{tail}'.encode()
        t += rng.expovariate(1.0 / mean) + 20.0


# -- pages ----------------------------------------------------------------------------


def browse(
    w: World,
    rng: Random,
    c: Client,
    t: int,
    pages: int,
    *,
    account: int | None,
    first: str = "feed",
    referer: str | None = None,
    stop: int | None = None,
) -> Generator[Event, None, int]:
    """Yield `pages` page views (plus assets) from t, in time order, with a wake-up marker
    before each page after the first (so a page is built only when the merge reaches
    it); nothing at or after `stop` (default: the window's end). Return the time of the
    last event made, or -1 if none.

    Logged-in clients mix feed, search, messages and profiles (`profile_share` of
    pages); logged-out ones see only profiles and search. Profiles are the account's
    friends (its social neighbourhood) about a third of the time, else drawn by
    popularity. A roaming client changes address when its time comes.
    """
    ps = w.params["profile_share"]
    end = w.end
    stop = end if stop is None else stop
    tie = c.tie
    out: list[Event] = []  # made, not yet handed over
    last = -1
    prev: str | None = None
    query = ""
    page_no = 1
    kind = first
    for i in range(pages):
        if t >= end:
            break
        if i:
            yield from _hand_over(out, t, tie, stop)
        if t >= c.roam_at:
            c.roam(c, t)  # type: ignore[misc]
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
        out.append((t, tie, c.line("GET", path, status, nbytes, ref, RESULTS if kind == "search" else None)))
        if c.browser:
            base = _IMAGES[kind]
            statics(c, rng, t, path, i == 0, base // 2 + int(rng.random() * (base + 1)), out)
        last = max(last, out[-1][0])
        think = _think(w, rng)
        if kind == "messages" and rng.random() < 0.15:  # sends a message while there
            out.append(
                (
                    t + think // 2,
                    tie,
                    c.line(
                        "POST",
                        "/messages",
                        201,
                        350 + int(rng.random() * 150),
                        SITE + "/messages" if c.browser else None,
                    ),
                )
            )
            last = max(last, t + think // 2)
        prev = path
        t += think
    if out:
        out.sort(key=_by_time)
        if out[0][0] < stop:
            yield before(out, stop)
    return last
