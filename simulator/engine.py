"""Build the actor roster, merge the actors' streams by time, write events and labels."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from random import Random
from typing import Any, BinaryIO

import orjson

from . import benign, scrapers
from .clock import DAY_MS, HOUR_MS, MS_TAIL, parse_start, second_prefix
from .events import Actor, Event, Fleet, Group, Stream
from .merge import merge_slices
from .scenarios import ACCOUNT_KINDS, KINDS, LOGGED_OUT_KINDS, actor_counts, group_sizes, load_scenario
from .world import (
    CRAWLER_NET,
    DESKTOP_UAS,
    MOBILE_WEB_UAS,
    PARTNER_ACCOUNT,
    World,
    dotted,
    home_slot,
    mix64,
    v6_network,
)

BEHAVIOUR: dict[str, Callable[[World, Actor], Stream]] = {
    "benign_user": benign.benign_user,
    "benign_new_user": benign.benign_new_user,
    "benign_recruiter": benign.benign_recruiter,
    "benign_nat_user": benign.benign_nat_user,
    "benign_mobile_user": benign.benign_mobile_user,
    "benign_logged_out": benign.benign_logged_out,
    "benign_partner_api": benign.benign_partner_api,
    "benign_search_crawler": benign.benign_search_crawler,
    "scraper_new_account_crawler": scrapers.new_account_crawler,
    "scraper_enumerator_logged_out": scrapers.enumerator,
    "scraper_low_and_slow": scrapers.low_and_slow,
    "scraper_botnet": scrapers.botnet,
    "scraper_proxy_rotation": scrapers.proxy_rotation,
    "scraper_headless_browser": scrapers.headless_browser,
    "scraper_search_harvester": scrapers.search_harvester,
    "scraper_hijacked_account": scrapers.hijacked_account,
    "benign_power_recruiter": benign.benign_power_recruiter,
    "benign_friend_finder": benign.benign_friend_finder,
    "benign_contact_importer": benign.benign_contact_importer,
    "scraper_distributed_crawl": scrapers.distributed_crawl,
    "scraper_account_fleet": scrapers.account_fleet,
    "scraper_lookup": scrapers.lookup_scraper,
    "scraper_account_pool": scrapers.account_pool,
}
assert set(BEHAVIOUR) == set(KINDS)
Tick = Callable[[int, int | None, float | None], None]
"""Progress callback: (events written since the last call, latest event time in epoch ms, share done)."""
_MINUTE = 60_000


def generate(
    out_dir: str | Path,
    *,
    seed: int = 1,
    hours: float | None = None,
    accounts: int | None = None,
    scenario: str = "small",
    start: str = "2026-01-05T08:00:00Z",
    gzip_output: bool = False,
    max_events: int | None = None,
    tick: Tick | None = None,
) -> dict[str, Any]:
    """Write out_dir/events.jsonl (or events.jsonl.gz) sorted by ts, and out_dir/labels.json; return a summary dict
    {"events": N, "actors": {kind: count}, "path": str(events_file)}.

    `scenario` is a name in SCENARIOS or a JSON file overriding `default`; `hours` and
    `accounts` default to the scenario's own size. The same
    arguments give byte-identical files. labels.json maps each actor that appears in
    the events (`account:<id>` or `ip:<addr>`) to its kind; `actors` counts them.
    `tick(events, event time, share done)`, if given, is called after each batch written.
    """
    params = load_scenario(scenario)
    hours = params["hours"] if hours is None else hours
    accounts = params["accounts"] if accounts is None else accounts
    if not hours > 0:
        raise ValueError(f"hours must be positive, got {hours!r}")
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts!r}")
    if max_events is not None and max_events < 0:
        raise ValueError(f"max_events must be None or >= 0, got {max_events!r}")
    w = World(seed, hours, accounts, params, parse_start(start))
    actors = roster(w, actor_counts(params, accounts, seed))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("events.jsonl.gz" if gzip_output else "events.jsonl")
    seen = bytearray(len(actors))
    merged = merge_slices([a.start for a in actors], lambda tie: BEHAVIOUR[actors[tie].kind](w, actors[tie]))
    with open(path, "wb") as raw:
        if gzip_output:  # fixed header (no name, mtime 0) so the bytes depend on the data only
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                n = write_events(merged, gz, w.t0, max_events, seen, _ticking(tick, w, max_events))
        else:
            n = write_events(merged, raw, w.t0, max_events, seen, _ticking(tick, w, max_events))
    labels = {}
    counts = dict.fromkeys(KINDS, 0)
    for a in actors:
        if seen[a.tie]:
            labels[a.key(w)] = a.kind
            counts[a.kind] += 1
    (out / "labels.json").write_bytes(orjson.dumps(labels, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")
    return {"events": n, "actors": counts, "path": str(path)}


def _ticking(tick: Tick | None, w: World, max_events: int | None) -> Callable[[int, int], None] | None:
    """`tick` fed with (events of a batch, its last offset): the event time and the share done (of the simulated
    span, or of `max_events` if that ends first)."""
    if tick is None:
        return None

    written = 0

    def batch(n: int, last: int) -> None:
        nonlocal written
        written += n
        done = last / w.end
        if max_events:
            done = max(done, written / max_events)
        tick(n, w.t0 + last, min(1.0, done))

    return batch


def write_events(
    batches: Iterator[list[Event]],
    f: BinaryIO,
    t0: int,
    max_events: int | None,
    seen: bytearray,
    batch_written: Callable[[int, int], None] | None = None,
) -> int:
    """Write merged batches of events as JSON lines (adding the "ts" field); return the count.

    Marks each actor that writes in `seen`; stops after `max_events`. Checks that time
    never goes back. `batch_written(events, last offset)` is called after each batch.

    >>> import io
    >>> f, seen = io.BytesIO(), bytearray(2)
    >>> write_events(iter([[(5, 1, b'"x":1}\\n')], [(1005, 0, b'"x":2}\\n')]]), f, 0, None, seen)
    2
    >>> bytes(seen), f.getvalue().decode().splitlines()[1]
    (b'\\x01\\x01', '{"ts":"1970-01-01T00:00:01.005Z","x":2}')
    """
    left = -1 if max_events is None else max_events
    write = f.write
    ms_tail = MS_TAIL
    base = next_second = -(1 << 62)  # offsets (ms) of the current second's start and the next's
    prefix = b""
    last = base
    n = 0
    for batch in batches:
        if left == 0:
            break
        if 0 < left < len(batch):
            del batch[left:]
        left -= len(batch)
        buf = []
        append = buf.append
        for ts, tie, body in batch:
            if ts >= next_second:
                sec = (t0 + ts) // 1000
                base = sec * 1000 - t0
                next_second = base + 1000
                prefix = second_prefix(sec)
            elif ts < last:
                raise AssertionError(f"actor {tie} went back in time ({ts} < {last} ms)")
            last = ts
            append(prefix + ms_tail[ts - base] + body)
            seen[tie] = 1
        write(b"".join(buf))
        n += len(buf)
        if batch_written is not None and buf:
            batch_written(len(buf), last)
    return n


def roster(w: World, counts: dict[str, int]) -> list[Actor]:
    """All actors, with their wake-up times, in tie order.

    Account ids are shuffled over kinds so an id says nothing about its kind; the
    roster draws from the world's stream (0, 0), which no actor uses. Group members
    (botnet fleets, NAT gateways, crawler addresses) are numbered in tie order.
    """
    rng = w.rng(0, 0)
    end = w.end
    p = w.params
    kinds = [k for k in ACCOUNT_KINDS for _ in range(counts[k])]
    rng.shuffle(kinds)
    logged_out = [k for k in LOGGED_OUT_KINDS for _ in range(counts[k])]
    rng.shuffle(logged_out)
    fleets = _fleets(w, rng, counts["scraper_botnet"])
    nat_ips = max(1, round(counts["benign_nat_user"] / p["nat_accounts_per_ip"]))
    sizes = group_sizes(p, w.seed)
    groups = {
        "scraper_distributed_crawl": _operations(w, rng, sizes["scraper_distributed_crawl"], len(kinds + logged_out)),
        "scraper_account_fleet": _account_fleets(w, rng, sizes["scraper_account_fleet"]),
        "scraper_account_pool": _account_pools(w, rng, sizes["scraper_account_pool"]),
    }
    members = dict.fromkeys(KINDS, 0)
    actors = []
    for i, kind in enumerate(kinds + logged_out):
        a = Actor(tie=i, kind=kind, start=0, slot=i, account=i if i < len(kinds) else None)
        a.member = members[kind]
        members[kind] += 1
        if kind in groups:  # its group, and its place in it
            for g in groups[kind]:
                if a.member < g.size:
                    a.group = g
                    break
                a.member -= g.size
        _place(w, rng, a, p, end, fleets, nat_ips)
        a.tier = _tier(w, a, p)
        actors.append(a)
    return actors


_ESTABLISHED = frozenset(
    {
        "benign_user",
        "benign_nat_user",
        "benign_mobile_user",
        "benign_recruiter",
        "benign_friend_finder",
        "benign_contact_importer",
    }
)
_AGED_SCRAPERS = frozenset(
    {
        "scraper_low_and_slow",
        "scraper_headless_browser",
        "scraper_search_harvester",
        "scraper_hijacked_account",
        "scraper_account_fleet",
        "scraper_lookup",
        "scraper_account_pool",
    }
)


def _tier(w: World, a: Actor, p: dict[str, Any]) -> str | None:
    """The account's trust tier: the partner's "partner"; "verified" for a share of established accounts
    (`verified_share`), of heavy recruiters and of scrapers' aged accounts (drawn from a hash: no rng)."""
    if a.kind == "benign_partner_api":
        return "partner"
    share = (
        p["verified_share"]
        if a.kind in _ESTABLISHED
        else p["power_recruiter_verified_share"]
        if a.kind == "benign_power_recruiter"
        else p["scraper_verified_share"]
        if a.kind in _AGED_SCRAPERS
        else 0.0
    )
    return "verified" if (mix64(a.tie ^ w.salt ^ 0x71E2) >> 11) / 2.0**53 < share else None


def _operations(w: World, rng: Random, sizes: list[int], actors: int) -> list[Group]:
    """The distributed crawls: per operation its addresses on residential /24s (inside the home range, where
    people live too, but never an address of another actor) and IPv6 /48s, its user agents, its span and its
    block of ids. The last `distributed_slow_share` of them are slow."""
    p = w.params
    ops = []
    slow_ops = round(len(sizes) * p["distributed_slow_share"])
    nets: set[int] = set()
    pool = DESKTOP_UAS + MOBILE_WEB_UAS
    most = int(p["distributed_requests_per_address"][1])
    for g, size in enumerate(sizes):
        slow = g >= len(sizes) - slow_ops
        harvested = rng.random() < p["distributed_harvested_share"]
        uas = tuple(rng.sample(pool, _int_between(p["distributed_user_agents"], rng)))
        if slow:
            start, stop = 0, w.end
            per_hour = _between(p["distributed_slow_per_hour"], rng)
        else:
            start, stop = _span(rng, rng.random(), p["distributed_minutes"], w.end)
            per_hour = 0.0
        v6 = round(size * _between(p["distributed_v6_share"], rng))
        addresses = _residential_v4(w, rng, size - v6, _int_between(p["distributed_subnets"], rng), nets, actors)
        addresses += _residential_v6(w, rng, v6, _int_between(p["distributed_v6_nets"], rng), nets)
        rng.shuffle(addresses)
        first = int(rng.random() * max(1, w.population - size * most))
        ops.append(Group(start, stop, size, uas, tuple(addresses), first, slow, harvested, per_hour))
    return ops


def _residential_v4(w: World, rng: Random, n: int, subnets: int, taken: set[int], actors: int) -> list[str]:
    """n addresses dealt over `subnets` (or more, at 200 an /24) random /24s of the home range not used
    before, skipping the home address of any actor."""
    if n <= 0:
        return []
    subnets = max(subnets, -(-n // 200))
    chosen = []
    while len(chosen) < subnets:
        net = 0x0A000000 + (int(rng.random() * (1 << 15)) << 8)
        if net not in taken:
            taken.add(net)
            chosen.append(net)
    out = []
    hosts = [rng.sample(range(2, 255), 254 - 2) for _ in chosen]
    i = 0
    while len(out) < n:
        j = i % len(chosen)
        host = hosts[j].pop()
        addr = chosen[j] + host
        if home_slot(w, addr) >= actors:  # no other actor's home address
            out.append(dotted(addr))
        i += 1
    return out


def _residential_v6(w: World, rng: Random, n: int, nets: int, taken: set[int]) -> list[str]:
    """n addresses (a /64 each) under `nets` random /48s of 2001:db8::/32, away from the /48s where
    the home addresses of IPv6 users are."""
    if n <= 0:
        return []
    chosen = []
    while len(chosen) < nets:
        net = 0x100 + int(rng.random() * 0xFF00)  # home /64s sit under 2001:db8:0-ff:: (roster slots < 2**24)
        if -net not in taken:
            taken.add(-net)
            chosen.append(net)
    return [v6_network(chosen[i % len(chosen)], rng.getrandbits(16), rng.getrandbits(64) | 1) for i in range(n)]


def _account_fleets(w: World, rng: Random, sizes: list[int]) -> list[Group]:
    """The account fleets: each shares one to three desktop user agents and a start."""
    fleets = []
    for size in sizes:
        uas = tuple(rng.sample(DESKTOP_UAS, 1 + int(rng.random() * 3)))
        fleets.append(Group(int(rng.random() * w.end / 4), w.end, size, uas))
    return fleets


def _account_pools(w: World, rng: Random, sizes: list[int]) -> list[Group]:
    """The account pools: a few residential addresses, one browser user agent, and a turn long enough for the
    longest burst."""
    p = w.params
    pools = []
    for j, size in enumerate(sizes):
        addresses = tuple(
            w.residential(((0xB00 + j) << 16) | i) for i in range(_int_between(p["account_pool_addresses"], rng))
        )
        most = int(p["account_pool_views_per_turn"][1]) * p["account_pool_interval_s"][1]
        turn = int(most * 1000) + 60_000
        ua = (DESKTOP_UAS[int(rng.random() * len(DESKTOP_UAS))],)
        pools.append(Group(int(rng.random() * w.end / 8), w.end, size, ua, addresses, turn=turn))
    return pools


def _between(pair: list[float], rng: Random) -> float:
    lo, hi = pair
    return lo + (hi - lo) * rng.random()


def _int_between(pair: list[float], rng: Random) -> int:
    lo, hi = (int(x) for x in pair)
    return lo + int(rng.random() * (hi - lo + 1))


def _fleets(w: World, rng: Random, bots: int) -> list[Fleet]:
    """The botnets: `bots` accounts in fleets of `botnet_size`."""
    p = w.params
    size = int(p["botnet_size"])
    fleets = []
    for g in range(-(-bots // size)):
        subnets = tuple(w.hosting_subnet(g << 8 | j) for j in range(int(p["botnet_subnets"])))
        created = -int((3 + 27 * rng.random()) * DAY_MS)  # the operator made them all 3-30 days ago
        start = int(rng.random() * w.end / 8)
        chunk = max(1, min(int(p["botnet_ids_per_account"]), w.population // size))
        first = int(rng.random() * (w.population - chunk * size + 1))
        fleets.append(Fleet(subnets, DESKTOP_UAS[int(rng.random() * len(DESKTOP_UAS))], created, start, first, chunk))
    return fleets


def _place(w: World, rng: Random, a: Actor, p: dict[str, Any], end: int, fleets: list[Fleet], nat_ips: int) -> None:
    """Set when an actor starts (and stops), its account's creation and its fixed address."""
    r = rng.random()
    kind = a.kind
    if kind in ("benign_user", "benign_nat_user", "benign_mobile_user"):
        a.start = w.first_arrival(rng, p["sessions_per_hour"])
        a.created = -int((30 + 970 * r) * DAY_MS)
        if kind == "benign_nat_user":
            a.member %= nat_ips  # its gateway
        elif kind == "benign_mobile_user":
            a.v6 = rng.random() < p["mobile_v6_share"]
    elif kind == "benign_new_user":
        hi = end - 15 * _MINUTE if end > 30 * _MINUTE else end // 2
        a.created = w.diurnal_time(rng, 0, hi)
        a.start = a.created + 5_000 + int(r * 55_000)
    elif kind == "benign_recruiter":
        a.created = -int((60 + 2000 * r) * DAY_MS)
        a.start = benign.recruiter_start(w, a, rng)
    elif kind == "benign_logged_out":
        a.start = w.diurnal_time(rng, 0, end)
        a.v6 = r < p["mobile_share"] / 2
    elif kind == "benign_partner_api":
        a.name = PARTNER_ACCOUNT
        a.created = -int((700 + 30 * r) * DAY_MS)
        a.start = int(rng.random() * min(30_000, end))
    elif kind == "benign_search_crawler":
        base, size = CRAWLER_NET
        a.addr = dotted(base + (a.member * 5 + w.salt % size) % size)  # distinct for up to 32 addresses
        a.start = int(r * min(60_000, end))
    elif kind == "scraper_new_account_crawler":
        a.start = int(r * end / 4)
        a.created = a.start - int((2 + 13 * rng.random()) * _MINUTE)
        a.stop = a.start + int((end - a.start) * (0.85 + 0.15 * rng.random()))
    elif kind == "scraper_enumerator_logged_out":
        a.start, a.stop = _span(rng, r, p["enumerator_minutes"], end)
    elif kind == "scraper_low_and_slow":
        a.start = int(r * min(10 * _MINUTE, end / 4))
        a.created = a.start - int((335 + 60 * rng.random()) * DAY_MS)
    elif kind == "scraper_botnet":
        size = int(p["botnet_size"])
        f = a.fleet = fleets[a.member // size]
        a.member %= size
        nsub = len(f.subnets)
        a.addr = dotted(f.subnets[a.member % nsub] + 2 + (a.member // nsub * 7 + int(r * 5)) % 250)
        a.created = f.created + int(rng.random() * HOUR_MS)
        a.start = min(end - 1, f.start + int(rng.random() * 5 * _MINUTE))
    elif kind == "scraper_proxy_rotation":
        a.start, a.stop = _span(rng, r, p["proxy_minutes"], end)
        lo, hi = p["proxy_account_age_days"]
        a.created = a.start - _MINUTE - int((lo + (hi - lo) * rng.random()) * DAY_MS)
    elif kind == "scraper_headless_browser":
        a.start = int(r * min(10 * _MINUTE, end / 4))
        a.created = a.start - int((7 + 83 * rng.random()) * DAY_MS)
    elif kind == "scraper_search_harvester":
        a.start, a.stop = _span(rng, r, p["harvester_minutes"], end)
        a.created = a.start - int((1 + 60 * rng.random()) * DAY_MS)
    elif kind in ("benign_friend_finder", "benign_contact_importer"):
        a.start = w.first_arrival(rng, p["sessions_per_hour"])
        days = (30 + 970 * r) if kind == "benign_friend_finder" else (1 + 59 * r)
        a.created = -int(days * DAY_MS)
    elif kind == "benign_power_recruiter":
        a.created = -int((60 + 2000 * r) * DAY_MS)
        a.start = benign.recruiter_start(w, a, rng)
    elif kind == "scraper_distributed_crawl":
        g = a.group
        assert g is not None
        a.addr = g.addresses[a.member]
        a.start = min(end - 1, g.start)
        a.stop = g.stop
    elif kind == "scraper_account_fleet":
        g = a.group
        assert g is not None
        a.created = -int(_between(p["account_fleet_age_days"], rng) * DAY_MS)
        a.start = min(end - 1, g.start + int(r * 30 * _MINUTE))
    elif kind == "scraper_lookup":
        a.start, a.stop = _span(rng, r, p["lookup_minutes"], end)
        a.created = a.start - _MINUTE - int(_between(p["lookup_account_age_days"], rng) * DAY_MS)
    elif kind == "scraper_account_pool":
        g = a.group
        assert g is not None
        a.created = -int((60 + 640 * r) * DAY_MS)
        a.start = min(end - 1, g.start + a.member * g.turn)
    elif kind == "scraper_hijacked_account":
        a.created = -int((180 + 1500 * r) * DAY_MS)
        lo, hi = p["hijack_switch_at"]
        a.switch = max(1, int(end * (lo + (hi - lo) * rng.random())))
        a.start = w.first_arrival(rng, p["sessions_per_hour"], a.switch)  # the owner is active before it
    else:
        raise AssertionError(kind)


def _span(rng: Random, r: float, minutes: list[float], end: int) -> tuple[int, int]:
    """(start, stop) of a run lasting `minutes` (a [low, high] range), inside the window if it fits."""
    lo, hi = minutes
    duration = int((lo + (hi - lo) * rng.random()) * _MINUTE)
    start = int(r * max(0, end - duration))
    return start, start + max(1, duration)
