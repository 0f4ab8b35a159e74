"""Behaviour of the labelled traffic simulator (simulator/)."""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import KINDS, SCENARIOS, generate
from jobs.cli import main as cli
from simulator.clock import iso_ms, parse_start
from simulator.merge import merge
from simulator.scenarios import load_scenario
from simulator.world import World

SMALL = {"scenario": "small", "hours": SCENARIOS["small"]["hours"], "accounts": SCENARIOS["small"]["accounts"]}
START = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
KEYS = ["ts", "ip", "method", "path", "status", "account_id", "account_created_at", "user_agent", "referer",
        "bytes", "session_id"]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PROFILE = re.compile(r"^/(?:u|api/v1/users)/(\d+)$")
NETS = [ipaddress.ip_network(n) for n in
        ("10.0.0.0/8", "100.64.0.0/10", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
HOUR = timedelta(hours=1)


def ts(e: dict) -> datetime:
    return datetime.fromisoformat(e["ts"])


def actor(e: dict) -> str:
    return f"account:{e['account_id']}" if e["account_id"] else f"ip:{e['ip']}"


def read(out: Path) -> tuple[list[dict], dict[str, str]]:
    events = [json.loads(line) for line in (out / "events.jsonl").read_bytes().splitlines()]
    return events, json.loads((out / "labels.json").read_text())


def by_kind(events: list[dict], labels: dict[str, str]) -> dict[str, dict[str, list[dict]]]:
    """kind -> actor key -> its events."""
    out: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        out[labels[actor(e)]][actor(e)].append(e)
    return out


def profile_times(evs: list[dict]) -> list[datetime]:
    return [ts(e) for e in evs if PROFILE.match(e["path"])]


def max_in_sliding_hour(times: list[datetime]) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= HOUR:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    summary = generate(out, seed=7, **SMALL)
    events, labels = read(out)
    return out, summary, events, labels, by_kind(events, labels)


# -- files ---------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = (generate(tmp_path / d, seed=s, **SMALL) for d, s in (("a", 3), ("b", 3), ("c", 4)))
    assert a["events"] > 10_000
    for name in ("events.jsonl", "labels.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "events.jsonl").read_bytes() != (tmp_path / "c" / "events.jsonl").read_bytes()


def test_events_sorted_and_inside_the_window(small):
    _, _, events, _, _ = small
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)  # fixed-width RFC 3339: string order is time order
    assert ts(events[0]) >= START and ts(events[-1]) < START + 2 * HOUR


def test_every_line_is_canonical_json_with_the_schema(small):
    out, _, events, _, _ = small
    for line, e in zip((out / "events.jsonl").read_bytes().splitlines(keepends=True), events, strict=True):
        assert orjson.dumps(e) + b"\n" == line  # compact, key order as written, nothing odd
        keys = list(e)
        assert keys == [k for k in KEYS if k in e]
        assert {"ts", "ip", "method", "path", "status", "account_id", "user_agent", "bytes", "session_id"} <= set(e)
        assert TS.match(e["ts"])
        assert e["method"] in ("GET", "POST") and isinstance(e["status"], int) and e["bytes"] >= 0
        assert any(ipaddress.ip_address(e["ip"]) in n for n in NETS)
        if e["account_id"] is None:
            assert "account_created_at" not in e
        else:
            assert re.fullmatch(r"a\d+", e["account_id"]) and TS.match(e["account_created_at"])
            assert e["account_created_at"] < e["ts"]


def test_routes_and_status_codes(small):
    _, _, events, _, _ = small
    route = re.compile(r"^(/u/\d+|/api/v1/users/\d+|/search\?q=[a-z+]+(&page=\d+)?|/feed|/messages|/login"
                       r"|/static/app\.js|/static/app\.css|/static/img/\d+\.png)$")
    assert all(route.match(e["path"]) for e in events)
    population = max(SMALL["accounts"] * 20, 10_000)
    for e in events:
        m = PROFILE.match(e["path"])
        if m and int(m.group(1)) >= population:
            assert e["status"] == 404
    assert {e["status"] for e in events if PROFILE.match(e["path"])} == {200, 404}


def test_labels_cover_exactly_the_actors_in_the_events(small):
    _, summary, events, labels, _ = small
    assert list(labels) == sorted(labels)
    assert {actor(e) for e in events} == set(labels)
    assert summary["actors"] == {k: Counter(labels.values())[k] for k in KINDS}
    assert summary["events"] == len(events)


def test_small_has_every_kind(small):
    _, summary, _, labels, _ = small
    assert set(labels.values()) == set(KINDS)
    assert all(summary["actors"][k] >= 1 for k in KINDS)


# -- behaviour ----------------------------------------------------------------------

def test_new_account_crawler_views_hundreds_of_profiles_in_its_first_hour(small):
    _, _, _, _, kinds = small
    for key, evs in kinds["scraper_new_account_crawler"].items():
        first = ts(evs[0])
        assert first - datetime.fromisoformat(evs[0]["account_created_at"]) < timedelta(minutes=30)
        assert sum(1 for t in profile_times(evs) if t < first + HOUR) >= 300, key


def test_new_users_view_15_or_more_profiles_in_their_first_ten_minutes(small):
    _, _, _, _, kinds = small
    assert kinds["benign_new_user"]
    for key, evs in kinds["benign_new_user"].items():
        created = datetime.fromisoformat(evs[0]["account_created_at"])
        assert created >= START  # created during the simulation
        early = [t for t in profile_times(evs) if t < created + timedelta(minutes=10)]
        assert len(early) >= 15, key
        assert max_in_sliding_hour(profile_times(evs)) < 60, key  # a burst, not a crawl


def test_benign_users_are_old_accounts_with_modest_profile_viewing(small):
    _, _, _, _, kinds = small
    users = kinds["benign_user"]
    pages = profiles = 0
    for key, evs in users.items():
        assert datetime.fromisoformat(evs[0]["account_created_at"]) < START - timedelta(days=29)
        assert max_in_sliding_hour(profile_times(evs)) < 40, key
        pages += sum(1 for e in evs if not e["path"].startswith("/static/"))
        profiles += len(profile_times(evs))
    assert 0.15 < profiles / pages < 0.35
    browser = [e for evs in users.values() for e in evs if e["user_agent"].startswith("Mozilla")]
    assert sum(e["path"].startswith("/static/") for e in browser) > len(browser) / 3  # assets follow pages


def test_enumerator_walks_ids_upward_and_hits_many_404s(small):
    _, _, _, _, kinds = small
    for key, evs in kinds["scraper_enumerator_logged_out"].items():
        ids = [int(PROFILE.match(e["path"]).group(1)) for e in evs]
        assert ids == list(range(ids[0], ids[0] + len(ids)))
        assert sum(e["status"] == 404 for e in evs) / len(evs) >= 0.4
        rate = len(evs) / (ts(evs[-1]) - ts(evs[0])).total_seconds()
        assert 1.5 < rate < 2.5, key
    benign = [e for k in ("benign_user", "benign_logged_out") for evs in kinds[k].values() for e in evs
              if PROFILE.match(e["path"])]
    assert sum(e["status"] == 404 for e in benign) / len(benign) < 0.05


def test_low_and_slow_stays_under_60_an_hour_but_passes_500_a_day(tmp_path):
    generate(tmp_path, seed=2, scenario="small", hours=24, accounts=60)
    events, labels = read(tmp_path)
    slow = by_kind(events, labels)["scraper_low_and_slow"]
    assert slow
    for key, evs in slow.items():
        assert datetime.fromisoformat(evs[0]["account_created_at"]) < START - timedelta(days=300)
        times = profile_times(evs)
        assert max_in_sliding_hour(times) <= 60, key
        assert len(times) > 500, key
        hours = Counter(t.hour for t in times)
        assert len(hours) == 24 and min(hours.values()) >= 40  # around the clock


def test_low_and_slow_pacing_holds_its_cap_even_when_it_wants_more(tmp_path):
    f = tmp_path / "eager.json"
    f.write_text(json.dumps({"low_and_slow_per_hour": 90, "low_and_slow_hourly_cap": 55}))
    generate(tmp_path / "out", scenario=str(f), hours=4, accounts=60)
    events, labels = read(tmp_path / "out")
    for key, evs in by_kind(events, labels)["scraper_low_and_slow"].items():
        assert max_in_sliding_hour(profile_times(evs)) == 55, key  # uncapped it would be ~90


# -- options ------------------------------------------------------------------------

def test_max_events_gives_a_prefix_of_the_full_run(tmp_path, small):
    full, _, events, _, _ = small
    summary = generate(tmp_path, seed=7, max_events=1234, **SMALL)
    cut, labels = read(tmp_path)
    assert summary["events"] == len(cut) == 1234
    assert (full / "events.jsonl").read_bytes().startswith((tmp_path / "events.jsonl").read_bytes())
    assert set(labels) == {actor(e) for e in cut}
    assert generate(tmp_path / "z", seed=7, max_events=0, **SMALL)["events"] == 0


def test_gzip_output_decompresses_to_the_plain_file(tmp_path, small):
    full, _, _, _, _ = small
    summary = generate(tmp_path / "a", seed=7, gzip_output=True, **SMALL)
    generate(tmp_path / "b", seed=7, gzip_output=True, **SMALL)
    path = Path(summary["path"])
    assert path.name == "events.jsonl.gz"
    assert gzip.decompress(path.read_bytes()) == (full / "events.jsonl").read_bytes()
    assert path.read_bytes() == (tmp_path / "b" / "events.jsonl.gz").read_bytes()


def test_scenario_json_overrides_default(tmp_path):
    f = tmp_path / "many_crawlers.json"
    f.write_text(json.dumps({"crawler_share": 0.05, "enumerators_per_account": 0.02}))
    summary = generate(tmp_path / "out", scenario=str(f), hours=0.5, accounts=100)
    assert summary["actors"]["scraper_new_account_crawler"] == 5
    assert summary["actors"]["scraper_enumerator_logged_out"] == 2
    assert load_scenario(str(f))["think_median_s"] == SCENARIOS["default"]["think_median_s"]
    f.write_text(json.dumps({"crawler_shares": 0.05}))
    with pytest.raises(ValueError, match="unknown key 'crawler_shares'"):
        generate(tmp_path / "bad", scenario=str(f))
    with pytest.raises(ValueError, match="neither a built-in"):
        generate(tmp_path / "bad", scenario="huge")


def test_actor_mix_scales_with_accounts():
    from simulator.scenarios import actor_counts
    for name, params in SCENARIOS.items():
        for accounts in (50, 200, 5000):
            counts = actor_counts(params, accounts)
            assert sum(counts[k] for k in ("benign_user", "benign_new_user", "scraper_new_account_crawler",
                                           "scraper_low_and_slow")) == accounts, name
            assert all(counts[k] >= 1 for k in KINDS if k.startswith("scraper_")), name
    assert actor_counts(SCENARIOS["default"], 5000)["benign_logged_out"] == 3000


def test_cli_uses_the_scenario_size(tmp_path, capsys):
    assert cli(["simulate", "--out", str(tmp_path), "--scenario", "small", "--max-events", "500"]) == 0
    assert "500 events" in capsys.readouterr().out
    assert sum(1 for _ in open(tmp_path / "events.jsonl")) == 500


def test_cli_unknown_scenario_is_a_usage_error(tmp_path, capsys):
    assert cli(["simulate", "--out", str(tmp_path), "--scenario", "nope"]) == 2
    assert "scenario 'nope' is neither a built-in" in capsys.readouterr().err


# -- building blocks ----------------------------------------------------------------

@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_iso_ms_matches_datetime(ms):
    expected = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    got = iso_ms(ms)
    assert TS.match(got)
    assert parse_start(got) == ms
    assert abs(datetime.fromisoformat(got) - expected) < timedelta(milliseconds=1)


@settings(max_examples=60)
@given(st.lists(st.lists(st.tuples(st.integers(0, 50), st.booleans()), max_size=8), max_size=6))
def test_merge_is_a_sorted_union_and_opens_streams_only_when_due(raw):
    streams = []
    for steps in raw:  # build non-decreasing streams with some wake-up markers
        t, evs = 0, []
        for dt, marker in steps:
            t += dt
            evs.append((t, marker))
        streams.append(evs)
    starts = [evs[0][0] if evs else 0 for evs in streams]
    opened: list[int] = []

    def open_stream(tie):
        opened.append(tie)
        yield starts[tie], tie, None
        for i, (t, marker) in enumerate(streams[tie]):
            yield t, tie, None if marker else b"%d.%d" % (tie, i)

    got = []
    for ev in merge(starts, open_stream):
        assert all(starts[o] <= ev[0] for o in opened)  # nothing was opened ahead of time
        got.append(ev)
    want = sorted((t, tie, b"%d.%d" % (tie, i)) for tie, evs in enumerate(streams)
                  for i, (t, marker) in enumerate(evs) if not marker)
    assert got == want


@given(st.integers(0, 10**6), st.integers(0, 2**40))
def test_world_ids_and_addresses(seed, n):
    w = World(seed, 1.0, 100, load_scenario("small"), 0)
    assert not w.exists(w.population + n)
    assert w.exists(w.existing_from(n))
    assert any(ipaddress.ip_address(w.ipv4(n)) in net for net in NETS)
    assert ipaddress.ip_address(w.ipv6(n)) in NETS[-1]
    assert w.ipv4(n) != w.ipv4(n + 1)


def test_popularity_is_heavy_tailed():
    import random
    w = World(1, 1.0, 1000, load_scenario("small"), 0)
    rng = random.Random(0)
    counts = Counter(w.popular(rng) for _ in range(20_000))
    top = counts.most_common(10)
    assert sum(c for _, c in top) > 0.15 * 20_000  # ten ids out of 20k take a large share
    assert len(counts) > 3_000  # and a long tail
    assert all(w.exists(u) for u in counts)
    missing = sum(not w.exists(n) for n in range(w.population)) / w.population
    assert 0.27 < missing < 0.33
