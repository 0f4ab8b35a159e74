"""Build the actor roster, merge the actors' streams by time, write events and labels."""

from __future__ import annotations

import gzip
from pathlib import Path
from random import Random
from typing import Any, BinaryIO, Callable, Iterator

import orjson

from .benign import benign_logged_out, benign_new_user, benign_user
from .clock import DAY_MS, MS_TAIL, parse_start, second_prefix
from .events import Actor, Event, Stream
from .merge import merge
from .scenarios import KINDS, actor_counts, load_scenario
from .scrapers import enumerator, low_and_slow, new_account_crawler
from .world import World

BEHAVIOUR: dict[str, Callable[[World, Actor], Stream]] = {
    "benign_user": benign_user,
    "benign_new_user": benign_new_user,
    "benign_logged_out": benign_logged_out,
    "scraper_new_account_crawler": new_account_crawler,
    "scraper_enumerator_logged_out": enumerator,
    "scraper_low_and_slow": low_and_slow,
}
_ACCOUNT_KINDS = ("benign_user", "benign_new_user", "scraper_new_account_crawler", "scraper_low_and_slow")
_MINUTE = 60_000
_BATCH = 4096


def generate(out_dir: str | Path, *, seed: int = 1, hours: float | None = None, accounts: int | None = None,
             scenario: str = "small", start: str = "2026-01-05T08:00:00Z", gzip_output: bool = False,
             max_events: int | None = None) -> dict[str, Any]:
    """Write out_dir/events.jsonl (or events.jsonl.gz) sorted by ts, and out_dir/labels.json; return a summary dict
    {"events": N, "actors": {kind: count}, "path": str(events_file)}.

    `scenario` is a name in SCENARIOS or a JSON file overriding `default`; `hours` and
    `accounts` default to the scenario's own size. The same
    arguments give byte-identical files. labels.json maps each actor that appears in
    the events (`account:<id>` or `ip:<addr>`) to its kind; `actors` counts them.
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
    merged = merge([a.start for a in actors], lambda tie: BEHAVIOUR[actors[tie].kind](w, actors[tie]))
    with open(path, "wb") as raw:
        if gzip_output:  # fixed header (no name, mtime 0) so the bytes depend on the data only
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                n = write_events(merged, gz, w.t0, max_events, seen)
        else:
            n = write_events(merged, raw, w.t0, max_events, seen)
    labels = {}
    counts = dict.fromkeys(KINDS, 0)
    for a in actors:
        if seen[a.tie]:
            labels[a.key(w)] = a.kind
            counts[a.kind] += 1
    (out / "labels.json").write_bytes(orjson.dumps(labels, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")
    return {"events": n, "actors": counts, "path": str(path)}


def write_events(merged: Iterator[Event], f: BinaryIO, t0: int, max_events: int | None, seen: bytearray) -> int:
    """Write the merged stream as JSON lines (adding the "ts" field); return the count.

    Marks each actor that writes in `seen`; stops after `max_events`.
    """
    if max_events == 0:
        return 0
    limit = -1 if max_events is None else max_events
    write = f.write
    ms_tail = MS_TAIL
    cur = -1
    prefix = b""
    last = -(1 << 62)
    buf: list[bytes] = []
    n = 0
    for ts, tie, body in merged:
        if ts < last:
            raise AssertionError(f"actor {tie} went back in time ({ts} < {last} ms)")
        last = ts
        sec, ms = divmod(t0 + ts, 1000)
        if sec != cur:
            cur = sec
            prefix = second_prefix(sec)
        buf.append(prefix + ms_tail[ms] + body)
        seen[tie] = 1
        n += 1
        if n == limit:
            break
        if len(buf) == _BATCH:
            write(b"".join(buf))
            buf.clear()
    write(b"".join(buf))
    return n


def roster(w: World, counts: dict[str, int]) -> list[Actor]:
    """All actors, with their wake-up times, in tie order.

    Account ids are shuffled over kinds so an id says nothing about its kind; the
    roster draws from the world's stream (0, 0), which no actor uses.
    """
    rng = w.rng(0, 0)
    end = w.end
    p = w.params
    kinds = [k for k in _ACCOUNT_KINDS for _ in range(counts[k])]
    rng.shuffle(kinds)
    logged_out = [k for k in ("benign_logged_out", "scraper_enumerator_logged_out") for _ in range(counts[k])]
    rng.shuffle(logged_out)
    actors = []
    for i, kind in enumerate(kinds):
        a = Actor(tie=i, kind=kind, start=0, slot=i, account=i)
        _place(w, rng, a, p, end)
        actors.append(a)
    for kind in logged_out:
        i = len(actors)
        a = Actor(tie=i, kind=kind, start=0, slot=i)
        _place(w, rng, a, p, end)
        actors.append(a)
    return actors


def _place(w: World, rng: Random, a: Actor, p: dict[str, Any], end: int) -> None:
    """Set when an actor starts (and stops), and when its account was created."""
    r = rng.random()
    if a.kind == "benign_user":
        a.start = w.first_arrival(rng, p["sessions_per_hour"])
        a.created = -int((30 + 970 * r) * DAY_MS)
    elif a.kind == "benign_new_user":
        hi = end - 15 * _MINUTE if end > 30 * _MINUTE else end // 2
        a.created = w.diurnal_time(rng, 0, hi)
        a.start = a.created + 5_000 + int(r * 55_000)
    elif a.kind == "benign_logged_out":
        a.start = w.diurnal_time(rng, 0, end)
        a.v6 = r < p["mobile_share"] / 2
    elif a.kind == "scraper_new_account_crawler":
        a.start = int(r * end / 4)
        a.created = a.start - int((2 + 13 * rng.random()) * _MINUTE)
        a.stop = a.start + int((end - a.start) * (0.85 + 0.15 * rng.random()))
    elif a.kind == "scraper_enumerator_logged_out":
        lo, hi = p["enumerator_minutes"]
        duration = int((lo + (hi - lo) * rng.random()) * _MINUTE)
        a.start = int(r * max(0, end - duration))
        a.stop = a.start + duration
    elif a.kind == "scraper_low_and_slow":
        a.start = int(r * min(10 * _MINUTE, end / 4))
        a.created = a.start - int((335 + 60 * rng.random()) * DAY_MS)
    else:
        raise AssertionError(a.kind)
