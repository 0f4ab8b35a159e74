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
from .events import Actor, Event, Fleet, Stream
from .merge import merge_slices
from .scenarios import ACCOUNT_KINDS, KINDS, actor_counts, load_scenario
from .world import CRAWLER_NET, DESKTOP_UAS, PARTNER_ACCOUNT, World, dotted

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
    actors = roster(w, actor_counts(params, accounts))
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
    logged_out = [
        k
        for k in ("benign_logged_out", "benign_search_crawler", "scraper_enumerator_logged_out")
        for _ in range(counts[k])
    ]
    rng.shuffle(logged_out)
    fleets = _fleets(w, rng, counts["scraper_botnet"])
    nat_ips = max(1, round(counts["benign_nat_user"] / p["nat_accounts_per_ip"]))
    members = dict.fromkeys(KINDS, 0)
    actors = []
    for i, kind in enumerate(kinds + logged_out):
        a = Actor(tie=i, kind=kind, start=0, slot=i, account=i if i < len(kinds) else None)
        a.member = members[kind]
        members[kind] += 1
        _place(w, rng, a, p, end, fleets, nat_ips)
        actors.append(a)
    return actors


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
