"""Behaviour of the labelled traffic simulator (simulator/)."""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import groupby, pairwise
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.cli import main as cli
from simulator import KINDS, SCENARIOS, generate
from simulator.clock import iso_ms, parse_start
from simulator.engine import roster
from simulator.merge import merge
from simulator.scenarios import ACCOUNT_KINDS, HELD_OUT_KINDS, actor_counts, check, load_scenario
from simulator.world import APP_UAS, CRAWLER_UA, DESKTOP_UAS, MOBILE_WEB_UAS, PARTNER_UA, SCRIPT_UAS, World

SMALL = {"scenario": "small", "hours": SCENARIOS["small"]["hours"], "accounts": SCENARIOS["small"]["accounts"]}
START = datetime(2026, 1, 5, 8, tzinfo=UTC)
KEYS = [
    "ts",
    "ip",
    "method",
    "path",
    "status",
    "account_id",
    "account_created_at",
    "account_tier",
    "user_agent",
    "referer",
    "bytes",
    "records",
    "session_id",
]
LOOKUP = re.compile(r"^/(?:api/v1/users/)?lookup\?(phone=%2B49\d{11}|email=[a-z]+[._][a-z]+\d{1,2}%40[a-z]+\.example)$")
ENABLED = [k for k in KINDS if k not in HELD_OUT_KINDS]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PROFILE = re.compile(r"^/(?:u|api/v1/users)/(\d+)$")
NETS = [
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "100.64.0.0/10", "198.51.100.0/24", "203.0.113.0/24", "66.249.64.0/27", "2001:db8::/32")
]
HOME = ipaddress.ip_network("10.0.0.0/9")
RESIDENTIAL = ipaddress.ip_network("10.128.0.0/10")
HOSTING = ipaddress.ip_network("10.192.0.0/10")
CGNAT, CORPORATE = ipaddress.ip_network("100.64.0.0/16"), ipaddress.ip_network("203.0.113.0/24")
CARRIER = ipaddress.ip_network("100.96.0.0/11")
PARTNER_NET = ipaddress.ip_network("198.51.100.0/28")
CRAWLER_NET = ipaddress.ip_network("66.249.64.0/27")
V6 = ipaddress.ip_network("2001:db8::/32")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


def ts(e: dict) -> datetime:
    return datetime.fromisoformat(e["ts"])


def actor(e: dict) -> str:
    return f"account:{e['account_id']}" if e["account_id"] else f"ip:{e['ip']}"


def read(out: Path) -> tuple[list[dict], dict[str, str]]:
    events = [json.loads(line) for line in (out / "events.jsonl").read_bytes().splitlines()]
    return events, json.loads((out / "labels.json").read_text())


def by_kind(events: list[dict], labels: dict[str, str]) -> dict[str, dict[str, list[dict]]]:
    """kind -> actor key -> its events, for the kinds that sent events.

    A plain dict, not a defaultdict: a test that loops over a kind's actors must fail with a
    KeyError when the kind is gone, not pass without checking anything.
    """
    out: dict[str, dict[str, list[dict]]] = {}
    for e in events:
        out.setdefault(labels[actor(e)], {}).setdefault(actor(e), []).append(e)
    return out


def test_by_kind_fails_on_a_kind_that_sent_nothing():
    kinds = by_kind([{"account_id": "a1", "ip": "192.0.2.1"}], {"account:a1": "benign_user"})
    assert kinds == {"benign_user": {"account:a1": [{"account_id": "a1", "ip": "192.0.2.1"}]}}
    with pytest.raises(KeyError):
        kinds["scraper_new_account_crawler"]  # the loops over a kind's actors must not pass vacuously


def profile_times(evs: list[dict]) -> list[datetime]:
    return [ts(e) for e in evs if PROFILE.match(e["path"])]


def max_in_window(times: list[datetime], window: timedelta) -> int:
    """Most events in any closed window [t - window, t] (how the detector counts)."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] > window:
            j += 1
        best = max(best, i - j + 1)
    return best


def max_in_sliding_hour(times: list[datetime]) -> int:
    return max_in_window(times, HOUR)


def ip_in(e: dict, net) -> bool:
    return ipaddress.ip_address(e["ip"]) in net


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


def gaps(times: list[datetime]) -> list[float]:
    return [(b - a).total_seconds() for a, b in pairwise(times)]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    summary = generate(out, seed=7, **SMALL)
    events, labels = read(out)
    return out, summary, events, labels, by_kind(events, labels)


DAY_PARAMS = {
    "botnet_size": 10,
    "partner_interval_s": [5, 10],
    "search_crawler_rate_per_s": 0.05,
    "search_crawler_ips": 2,
    "logged_out_per_account": 0.5,
}


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """A full day with 60 accounts (every kind; the allowlisted machines slowed down to keep it small)."""
    out = tmp_path_factory.mktemp("day")
    scenario = out / "day.json"
    scenario.write_text(json.dumps(DAY_PARAMS))
    generate(out, seed=2, scenario=str(scenario), hours=24, accounts=60)
    events, labels = read(out)
    return events, labels, by_kind(events, labels)


# -- files ---------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, _, _ = (generate(tmp_path / d, seed=s, **SMALL) for d, s in (("a", 3), ("b", 3), ("c", 4)))
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
            assert "account_created_at" not in e and "account_tier" not in e
        else:
            assert re.fullmatch(r"a\d+|partner-acme", e["account_id"]) and TS.match(e["account_created_at"])
            assert e["account_created_at"] < e["ts"]
            assert e.get("account_tier", "verified") in ("verified", "partner")
        if "records" in e:
            assert (e["path"].startswith("/search?q=") and e["records"] == 10) or (
                e["path"].endswith("contacts/import") and 5 <= e["records"] <= 80
            )


def test_routes_and_status_codes(small):
    _, _, events, _, _ = small
    route = re.compile(
        r"^(/u/\d+|/api/v1/users/\d+|/search\?q=[a-z+]+(&page=\d+)?|/feed|/messages|/login"
        r"|/static/app\.js|/static/app\.css|/static/img/\d+\.png|/api/v1/token|/robots\.txt"
        r"|/contacts|/contacts/import|/api/v1/contacts/import)$"
    )
    assert all(route.match(e["path"]) or LOOKUP.match(e["path"]) for e in events)
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


def test_small_has_every_kind_but_the_held_out_ones(small):
    _, summary, _, labels, _ = small
    assert set(labels.values()) == set(ENABLED)
    assert all(summary["actors"][k] >= 1 for k in ENABLED)
    assert all(summary["actors"][k] == 0 for k in HELD_OUT_KINDS)


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
    benign = [
        e
        for k in ("benign_user", "benign_logged_out")
        for evs in kinds[k].values()
        for e in evs
        if PROFILE.match(e["path"])
    ]
    assert sum(e["status"] == 404 for e in benign) / len(benign) < 0.05


def test_low_and_slow_stays_at_58_an_hour_but_passes_500_a_day(day):
    _, _, kinds = day
    slow = kinds["scraper_low_and_slow"]
    assert slow
    for key, evs in slow.items():
        assert datetime.fromisoformat(evs[0]["account_created_at"]) < START - timedelta(days=300)
        times = profile_times(evs)
        assert max_in_sliding_hour(times) <= 58, key
        assert len(times) > 500, key
        hours = Counter(t.hour for t in times)
        assert len(hours) == 24 and min(hours.values()) >= 30  # around the clock (the first hour starts late)


# -- hard negatives -----------------------------------------------------------------


def test_recruiters_view_hundreds_of_profiles_a_day_through_search(small, day):
    _, _, _, _, kinds = small
    assert kinds["benign_recruiter"]
    per_day = [len(profile_times(evs)) / SMALL["hours"] * 8 for evs in kinds["benign_recruiter"].values()]
    assert statistics.fmean(per_day) >= 200 and min(per_day) >= 100  # 2 h of their working day, as an 8-hour day
    for key, evs in day[2]["benign_recruiter"].items():
        assert len(profile_times(evs)) >= 200, key
        views = [e for e in evs if PROFILE.match(e["path"])]
        assert sum("/search?q=" in e.get("referer", "") for e in views) / len(views) > 0.95  # found by search
        assert datetime.fromisoformat(evs[0]["account_created_at"]) < START - timedelta(days=59)
        assert len({t.hour for t in profile_times(evs)}) <= 10  # a working day, not around the clock


def test_nat_addresses_carry_dozens_of_accounts(small):
    _, _, events, labels, kinds = small
    accounts_by_ip: dict[str, set[str]] = defaultdict(set)
    for evs in kinds["benign_nat_user"].values():
        for e in evs:
            assert ip_in(e, CGNAT) or ip_in(e, CORPORATE), e["ip"]
            accounts_by_ip[e["ip"]].add(e["account_id"])
    assert accounts_by_ip and all(len(a) >= 20 for a in accounts_by_ip.values())
    nat_ips = set(accounts_by_ip)
    assert all(labels[actor(e)] == "benign_nat_user" for e in events if e["ip"] in nat_ips)  # theirs only


def test_mobile_users_change_address_every_few_minutes(small):
    _, _, _, _, kinds = small
    users = kinds["benign_mobile_user"]
    ips = set()
    for key, evs in users.items():
        seen: dict[str, list[datetime]] = defaultdict(list)
        for e in evs:
            assert ip_in(e, CARRIER) or ip_in(e, V6), e["ip"]
            assert not e["user_agent"].startswith("Mozilla/5.0 (Windows") and "Macintosh" not in e["user_agent"]
            seen[e["ip"]].append(ts(e))
        for ip, times in seen.items():  # a new address at least every 10 min (+ the page it was on)
            assert times[-1] - times[0] <= timedelta(minutes=15), (key, ip)
        ips |= set(seen)
        long_sessions = ts(evs[-1]) - ts(evs[0]) > timedelta(minutes=15)
        assert len(seen) > 1 or not long_sessions, key
    assert len(ips) > 1.5 * len(users)
    assert any(":" in ip for ip in ips) and any("." in ip for ip in ips)  # IPv6 and IPv4 carriers


def test_partner_api_is_one_allowlistable_account(small):
    _, _, events, labels, kinds = small
    assert [k for k, v in labels.items() if v == "benign_partner_api"] == ["account:partner-acme"]
    evs = kinds["benign_partner_api"]["account:partner-acme"]
    assert {e["user_agent"] for e in evs} == {PARTNER_UA}
    assert all(ip_in(e, PARTNER_NET) for e in evs) and len({e["ip"] for e in evs}) > 1
    assert all(re.fullmatch(r"/api/v1/users/\d+|/api/v1/token", e["path"]) for e in evs)
    reads = profile_times(evs)
    rate = len(reads) / (reads[-1] - reads[0]).total_seconds()
    assert 2.0 <= rate <= 5.0
    assert max_in_window(reads, MINUTE) <= 5 * 60 + 1
    assert datetime.fromisoformat(evs[0]["account_created_at"]) < START - timedelta(days=365)
    assert all(e["user_agent"] != PARTNER_UA for e in events if e["account_id"] != "partner-acme")


def test_search_crawler_is_googlebot_from_its_verified_range(small):
    _, _, events, labels, kinds = small
    crawler = kinds["benign_search_crawler"]
    assert len(crawler) == SCENARIOS["small"]["search_crawler_ips"]
    for key, evs in crawler.items():
        assert key.startswith("ip:") and ipaddress.ip_address(key[3:]) in CRAWLER_NET
        assert all(e["user_agent"] == CRAWLER_UA and e["account_id"] is None for e in evs)
        assert sum(PROFILE.match(e["path"]) is not None for e in evs) / len(evs) > 0.9
        assert evs[0]["path"] == "/robots.txt"
    for e in events:  # the range is the crawler's alone; a Googlebot agent elsewhere is a scraper's disguise
        if ip_in(e, CRAWLER_NET):
            assert labels[actor(e)] == "benign_search_crawler"
        elif e["user_agent"] == CRAWLER_UA:
            assert labels[actor(e)].startswith("scraper_")


def test_no_address_is_shared_between_labelled_addresses_and_accounts_by_accident(small):
    _, _, events, labels, _ = small
    kinds_by_ip: dict[str, set[str]] = defaultdict(set)
    for e in events:
        kinds_by_ip[e["ip"]].add(labels[actor(e)])
    for key, kind in labels.items():
        if key.startswith("ip:"):
            assert kinds_by_ip[key[3:]] == {kind}, key


# -- scrapers that hide -------------------------------------------------------------


def bot_limits(kinds: dict) -> None:
    """Every bot account and address stays under every per-entity limit."""
    bots = kinds["scraper_botnet"]
    assert bots
    views_by_ip: dict[str, list[datetime]] = defaultdict(list)
    for key, evs in bots.items():
        times = profile_times(evs)
        assert max_in_window(times, HOUR) <= 40, key
        assert max_in_window(times, DAY) <= 300, key
        for e in evs:
            assert e["account_id"] is not None  # so no logged-out views at all
            if PROFILE.match(e["path"]):
                views_by_ip[e["ip"]].append(ts(e))
    for ip, times in views_by_ip.items():
        assert max_in_window(times, MINUTE) < 60, ip
        assert max_in_window(times, HOUR) <= 40, ip


def test_botnet_members_stay_under_every_limit_but_move_together(small, day):
    bot_limits(small[4])
    bot_limits(day[2])
    bots = small[4]["scraper_botnet"]
    assert len(bots) == SCENARIOS["small"]["botnet_size"]
    evs = [e for b in bots.values() for e in b]
    assert len({e["user_agent"] for e in evs}) == 1
    assert all(ip_in(e, HOSTING) for e in evs)
    assert len({e["ip"] for e in evs}) == len(bots)  # an address each ...
    assert len({e["ip"].rsplit(".", 1)[0] for e in evs}) == SCENARIOS["small"]["botnet_subnets"]  # ... on 3 /24s
    created = sorted(datetime.fromisoformat(b[0]["account_created_at"]) for b in bots.values())
    assert created[-1] - created[0] <= HOUR and created[0] < START - timedelta(days=2)
    firsts = sorted(ts(b[0]) for b in bots.values())
    assert firsts[-1] - firsts[0] <= timedelta(minutes=5)
    ranges = sorted(
        (min(ids), max(ids))
        for b in bots.values()
        if (ids := [int(PROFILE.match(e["path"]).group(1)) for e in b if PROFILE.match(e["path"])])
    )
    assert all(hi < lo for (_, hi), (lo, _) in pairwise(ranges))  # disjoint blocks of ids
    for b in day[2]["scraper_botnet"].values():
        assert 250 <= len(profile_times(b)) <= 300  # it uses its daily allowance, and no more


def test_proxy_rotation_changes_address_every_few_requests(small):
    _, _, _, _, kinds = small
    assert kinds["scraper_proxy_rotation"]
    for key, evs in kinds["scraper_proxy_rotation"].items():
        assert datetime.fromisoformat(evs[0]["account_created_at"]) <= ts(evs[0]) - DAY
        assert len({e["session_id"] for e in evs}) == 1
        assert all(ip_in(e, RESIDENTIAL) for e in evs)
        runs = [len(list(g)) for _, g in groupby(e["ip"] for e in evs)]
        assert all(2 <= n <= 6 for n in runs[:-1]) and runs[-1] <= 6, key
        assert len(set(e["ip"] for e in evs)) == len(runs)  # an exit is never reused
        assert 2.0 <= median(gaps(profile_times(evs))) <= 4.0


def test_headless_browser_loads_assets_but_only_ever_views_profiles(small, day, tmp_path):
    for kinds in (small[4], day[2]):
        for key, evs in kinds["scraper_headless_browser"].items():
            pages = [e for e in evs if not e["path"].startswith("/static/")]
            assert all(PROFILE.match(e["path"]) for e in pages), key
            assert len(evs) - len(pages) >= 2 * len(pages)  # every page pulls its images
            assert all(e["referer"].startswith("https://social.example/u/") for e in evs[1:] if "referer" in e)
            between = gaps([ts(e) for e in pages])
            assert 7.0 <= median(between) <= 11.0 and min(between) >= 1.5  # human-looking pauses
            qs = statistics.quantiles(between, n=10)
            assert qs[0] > 4.0 and qs[-1] < 18.0  # mostly 5-15 s
    for evs in day[2]["scraper_headless_browser"].values():
        assert len({t.hour for t in profile_times(evs)}) == 24  # all day
    f = tmp_path / "headless.json"  # some announce HeadlessChrome, the rest pass as desktop browsers
    f.write_text(json.dumps({"headless_share": 0.04}))
    generate(tmp_path / "out", scenario=str(f), hours=0.25, accounts=250)
    events, labels = read(tmp_path / "out")
    agents = {e["user_agent"] for evs in by_kind(events, labels)["scraper_headless_browser"].values() for e in evs}
    assert any("HeadlessChrome" in a for a in agents) and any("HeadlessChrome" not in a for a in agents)
    assert all(a.startswith("Mozilla/5.0") for a in agents)


def test_search_harvester_visits_every_profile_listed_on_each_page(small):
    kinds = small[4]
    w = World(7, SMALL["hours"], SMALL["accounts"], load_scenario("small"), parse_start("2026-01-05T08:00:00Z"))
    assert kinds["scraper_search_harvester"]
    for evs in kinds["scraper_search_harvester"].values():
        pages = [i for i, e in enumerate(evs) if e["path"].startswith("/search")]
        assert len(pages) >= 5
        numbers = [int(re.search(r"&page=(\d+)", evs[i]["path"]).group(1)) for i in pages]
        assert max(numbers) >= 3 and numbers.count(1) < len(numbers) / 2
        for i in pages[:-1]:  # the ten profiles listed, in order, right after the page
            m = re.fullmatch(r"/search\?q=([a-z+]+)&page=(\d+)", evs[i]["path"])
            listed = w.search_results(m.group(1), int(m.group(2)))
            assert [int(PROFILE.match(e["path"]).group(1)) for e in evs[i + 1 : i + 11]] == listed
        assert median(gaps([ts(e) for e in evs])) < 1.5
        assert not any(e["path"].startswith("/static/") for e in evs)


def test_hijacked_account_is_normal_until_the_switch_then_crawls(small, day):
    for hours, kinds in ((SMALL["hours"], small[4]), (24, day[2])):
        assert kinds["scraper_hijacked_account"]
        for key, evs in kinds["scraper_hijacked_account"].items():
            assert datetime.fromisoformat(evs[0]["account_created_at"]) < START - timedelta(days=179)
            switch = next(i for i, e in enumerate(evs) if ip_in(e, RESIDENTIAL))
            before, after = evs[:switch], evs[switch:]
            assert before, key  # the owner used it first ...
            assert all(ip_in(e, HOME) or ip_in(e, V6) for e in before)
            assert all(e["user_agent"] not in SCRIPT_UAS for e in before)
            assert max_in_sliding_hour(profile_times(before)) < 40
            at = (ts(after[0]) - START) / timedelta(hours=hours)
            assert 0.4 <= at <= 0.61, at  # ... until the middle of the window
            assert after[0]["path"] == "/login" and after[0]["method"] == "POST"
            assert all(ip_in(e, RESIDENTIAL) and e["user_agent"] in SCRIPT_UAS for e in after)
            views = profile_times(after)
            first_hour = [t for t in views if t <= views[0] + HOUR]
            assert len(first_hour) >= 0.8 * min(3600, (views[-1] - views[0]).total_seconds()) / 2.5
            assert 1.0 <= median(gaps(views)) <= 4.0


def test_low_and_slow_pacing_holds_its_cap_even_when_it_wants_more(tmp_path):
    f = tmp_path / "eager.json"
    f.write_text(json.dumps({"low_and_slow_per_hour": 90, "low_and_slow_hourly_cap": 55}))
    generate(tmp_path / "out", scenario=str(f), hours=4, accounts=60)
    events, labels = read(tmp_path / "out")
    for key, evs in by_kind(events, labels)["scraper_low_and_slow"].items():
        assert max_in_sliding_hour(profile_times(evs)) == 55, key  # uncapped it would be ~90


# -- options ------------------------------------------------------------------------


def test_max_events_gives_a_prefix_of_the_full_run(tmp_path, small):
    full = small[0]
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
    for name, params in SCENARIOS.items():
        for accounts in (150, 250, 5000):
            counts = actor_counts(params, accounts)
            assert sum(counts[k] for k in ACCOUNT_KINDS) == accounts, name
            assert all(counts[k] >= 1 for k in ENABLED), name
            assert all(counts[k] == 0 for k in HELD_OUT_KINDS), name
    assert actor_counts(SCENARIOS["default"], 5000)["benign_logged_out"] == 3000
    counts = actor_counts(SCENARIOS["default"], 5000)
    scrapers = sum(n for k, n in counts.items() if k.startswith("scraper_") and k in ACCOUNT_KINDS)
    assert scrapers < 0.02 * 5000  # a realistic, small share of the accounts
    assert 3 * 150 <= counts["scraper_distributed_crawl"] <= 3 * 300  # three crawls over many addresses
    with pytest.raises(ValueError, match="too few"):
        actor_counts(SCENARIOS["default"], 30)


def test_builtin_scenarios_are_valid_and_sized_as_documented():
    for name, params in SCENARIOS.items():
        check(params, name)
        assert set(params) == set(SCENARIOS["default"])
    assert SCENARIOS["default"]["accounts"] == 5000 and SCENARIOS["default"]["hours"] == 6
    assert 200 <= SCENARIOS["small"]["accounts"] <= 300 and SCENARIOS["small"]["hours"] == 2
    assert SCENARIOS["large"]["accounts"] * SCENARIOS["large"]["hours"] >= 1_000_000


@pytest.mark.parametrize(
    "override, message",
    [
        ({"botnet_sise": 20}, "unknown key 'botnet_sise'"),
        ({"botnet_size": 2.5}, "'botnet_size' must be a whole number"),
        ({"botnet_size": 0}, "'botnet_size' must be positive"),
        ({"partner_ips": 15}, "'partner_ips' must be at most 14"),
        ({"proxy_requests_per_ip": [0, 3]}, "'proxy_requests_per_ip' must start at 1"),
        ({"hijack_switch_at": [0.6, 0.4]}, "must be \\[low, high\\]"),
        ({"headless_ua_share": 1.5}, "is a share"),
        ({"botnet_subnets": 30}, "'botnet_subnets' must not exceed 'botnet_size'"),
        ({"harvester_interval_s": "fast"}, "must be \\[low, high\\]"),
        ({"distributed_addresses": [0, 10]}, "'distributed_addresses' must start at 1"),
        ({"distributed_v6_share": [0.1, 1.5]}, "'distributed_v6_share' must be at most 1.0"),
        ({"distributed_operations": 1.5}, "'distributed_operations' must be a whole number"),
        ({"power_recruiter_views_per_hour": [0, 0]}, "must allow a positive value"),
        ({"lookup_found_share": [0.5, 0.2]}, "must be \\[low, high\\]"),
        ({"account_pool_size": [30.5, 40]}, "'account_pool_size' must be a whole number"),
        ({"verified_share": 2}, "is a share"),
    ],
)
def test_scenario_files_are_checked_key_by_key(tmp_path, override, message):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(override))
    with pytest.raises(ValueError, match=message):
        load_scenario(str(f))


def test_scenario_parameters_change_the_strategies(tmp_path):
    f = tmp_path / "tuned.json"
    f.write_text(
        json.dumps(
            {
                "botnet_size": 6,
                "botnet_subnets": 2,
                "botnets": 2,
                "proxy_requests_per_ip": [1, 1],
                "harvester_interval_s": [3, 3],
                "min_per_scraper_kind": 2,
            }
        )
    )
    summary = generate(tmp_path / "out", scenario=str(f), hours=0.5, accounts=200)
    assert summary["actors"]["scraper_botnet"] == 12
    assert all(summary["actors"][k] >= 2 for k in ENABLED if k.startswith("scraper_") and k != "scraper_botnet")
    events, labels = read(tmp_path / "out")
    kinds = by_kind(events, labels)
    bot_ips = {e["ip"].rsplit(".", 1)[0] for evs in kinds["scraper_botnet"].values() for e in evs}
    assert len(bot_ips) == 4  # 2 fleets x 2 subnets
    for evs in kinds["scraper_proxy_rotation"].values():
        assert len({e["ip"] for e in evs}) == len(evs)  # a new exit for every request
    for evs in kinds["scraper_search_harvester"].values():
        assert {round(g) for g in gaps([ts(e) for e in evs])[1:]} == {3}


def test_cli_uses_the_scenario_size(tmp_path, capsys):
    assert cli(["simulate", "--out", str(tmp_path), "--scenario", "small", "--max-events", "500"]) == 0
    assert "500 events" in capsys.readouterr().out
    assert len((tmp_path / "events.jsonl").read_bytes().splitlines()) == 500


def test_cli_unknown_scenario_is_a_usage_error(tmp_path, capsys):
    assert cli(["simulate", "--out", str(tmp_path), "--scenario", "nope"]) == 2
    assert "scenario 'nope' is neither a built-in" in capsys.readouterr().err


# -- building blocks ----------------------------------------------------------------


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_iso_ms_matches_datetime(ms):
    expected = datetime.fromtimestamp(ms / 1000, tz=UTC)
    got = iso_ms(ms)
    assert TS.match(got)
    assert parse_start(got) == ms
    assert abs(datetime.fromisoformat(got) - expected) < timedelta(milliseconds=1)


@settings(max_examples=80)
@given(
    st.lists(st.lists(st.tuples(st.integers(0, 2000), st.sampled_from("emc")), max_size=10), max_size=6),
    st.sampled_from([None, 1, 250, 1000, 5000]),
)
def test_merge_is_a_time_ordered_union_and_opens_streams_only_when_due(raw, width):
    """Streams of events (e), markers (m) and two-event chunks (c), at any slice width."""
    streams = []
    for steps in raw:  # build non-decreasing streams
        t, items = 0, []
        for dt, what in steps:
            t += dt
            items.append((t, what))
            t += what == "c"  # a chunk ends a millisecond later
        streams.append(items)
    starts = [items[0][0] if items else 0 for items in streams]
    opened: list[int] = []

    def open_stream(tie):
        opened.append(tie)
        yield starts[tie], tie, None
        for i, (t, what) in enumerate(streams[tie]):
            if what == "m":
                yield t, tie, None
            elif what == "e":
                yield t, tie, b"%d.%d" % (tie, i)
            else:
                yield [(t, tie, b"%d.%da" % (tie, i)), (t + 1, tie, b"%d.%db" % (tie, i))]

    got = []
    lookahead = -(-(width or 1) // 250) * 250  # a slice's width, in whole quarter seconds
    for ev in merge(starts, open_stream, width):
        if width is not None:  # nothing was opened more than one slice ahead
            assert all(starts[o] < ev[0] + lookahead for o in opened)
        got.append(ev)
    assert [ev[0] for ev in got] == sorted(ev[0] for ev in got)
    for tie, items in enumerate(streams):  # each stream's events, in its own order
        want = []
        for i, (t, what) in enumerate(items):
            if what == "e":
                want.append((t, tie, b"%d.%d" % (tie, i)))
            elif what == "c":
                want += [(t, tie, b"%d.%da" % (tie, i)), (t + 1, tie, b"%d.%db" % (tie, i))]
        assert [ev for ev in got if ev[1] == tie] == want
    assert len(got) == sum(1 for items in streams for _, what in items if what == "e") + 2 * sum(
        1 for items in streams for _, what in items if what == "c"
    )


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


# -- the classes of issue 12: spread crawls, heavy people, look-ups, tiers -------------------------------


def groups_of(kind: str, seed: int, params: dict, hours: float, accounts: int) -> dict[str, list[str]]:
    """Label key -> the label keys of its group's members (from the roster the run was made with)."""
    w = World(seed, hours, accounts, params, parse_start("2026-01-05T08:00:00Z"))
    actors = [a for a in roster(w, actor_counts(params, accounts, seed)) if a.kind == kind]
    members: dict[int, list[str]] = defaultdict(list)
    for a in actors:
        members[id(a.group)].append(a.key(w))
    return {key: group for group in members.values() for key in group}


def network(ip: str) -> str:
    addr = ipaddress.ip_address(ip)
    return str(ipaddress.ip_network(f"{ip}/{24 if addr.version == 4 else 48}", strict=False))


def test_distributed_crawl_spreads_over_hundreds_of_residential_addresses(small):
    _, _, _, labels, kinds = small
    crawl = kinds["scraper_distributed_crawl"]
    groups = groups_of("scraper_distributed_crawl", 7, load_scenario("small"), SMALL["hours"], SMALL["accounts"])
    operations = {tuple(g) for g in groups.values()}
    assert len(operations) == SCENARIOS["small"]["distributed_operations"]
    browsers = set(DESKTOP_UAS + MOBILE_WEB_UAS)
    slow_seen = fast_seen = 0
    for members in operations:
        assert 150 <= len(members) <= 300
        seen = [crawl[m] for m in members if m in crawl]
        assert len(seen) >= 0.95 * len(members)  # (a slow address may not come round in 2 h)
        nets = Counter(network(m[3:]) for m in members)
        assert sum(":" not in n for n in nets) >= 4 and any(":" in n for n in nets)  # /24s and IPv6 /48s
        assert 0.1 <= sum(":" in m[3:] for m in members) / len(members) <= 0.3
        for evs in seen:  # each address: a browser, profiles only, no assets, referers, cookies or revisits
            ids = [int(PROFILE.match(e["path"]).group(1)) for e in evs]
            assert len(ids) == len(evs) == len(set(ids)) <= 60
            assert all(e["account_id"] is None and "referer" not in e and e["method"] == "GET" for e in evs)
            assert len({e["user_agent"] for e in evs}) == 1 and evs[0]["user_agent"] in browsers
            assert len({e["session_id"] for e in evs}) == len(evs)
        per_hour = [max_in_sliding_hour([ts(e) for e in evs]) for evs in seen]
        if max(per_hour) <= 3:  # a slow operation: 1-2 requests an hour per address
            slow_seen += 1
            assert all(len(evs) <= 2 * SMALL["hours"] + 2 for evs in seen)
        else:  # a fast one: a few dozen requests each, and together they cover the operation's block of ids
            fast_seen += 1
            assert 14 <= median([len(evs) for evs in seen]) <= 60
            ids = sorted(int(PROFILE.match(e["path"]).group(1)) for evs in seen for e in evs)
            block = range(ids[0], ids[0] + 5 * len(members))  # its first five rounds
            w = World(7, SMALL["hours"], SMALL["accounts"], load_scenario("small"), 0)
            wanted = (
                [n for n in block if w.exists(n)] if all(e["status"] == 200 for evs in seen for e in evs) else block
            )
            assert len(set(wanted) & set(ids)) >= 0.95 * len(wanted)
            own = [sorted(int(PROFILE.match(e["path"]).group(1)) for e in evs) for evs in seen]
            assert median([(o[-1] - o[0]) / max(1, len(o) - 1) for o in own]) > 50  # each one's ids far apart
    assert slow_seen == 1 and fast_seen == 1  # small: one of each
    assert all(labels[k] == "scraper_distributed_crawl" for k in groups)


def test_distributed_crawl_walks_ids_with_404s_unless_it_harvested_them(tmp_path):
    f = tmp_path / "walk.json"
    f.write_text(json.dumps({"distributed_operations": 2, "distributed_harvested_share": 0.0,
                             "distributed_slow_share": 0.0, "distributed_addresses": [150, 150]}))  # fmt: skip
    generate(tmp_path / "walk", scenario=str(f), hours=1, accounts=200, seed=3)
    events, labels = read(tmp_path / "walk")
    crawl = by_kind(events, labels)["scraper_distributed_crawl"]
    assert len(crawl) == 300
    statuses = Counter(e["status"] for evs in crawl.values() for e in evs)
    assert 0.2 < statuses[404] / sum(statuses.values()) < 0.4  # deleted ids, walked over
    f.write_text(json.dumps({"distributed_operations": 1, "distributed_harvested_share": 1.0}))
    generate(tmp_path / "harvest", scenario=str(f), hours=1, accounts=200, seed=3)
    events, labels = read(tmp_path / "harvest")
    assert {e["status"] for evs in by_kind(events, labels)["scraper_distributed_crawl"].values() for e in evs} == {200}


def test_power_recruiters_view_241_to_390_profiles_an_hour_through_search(small, day):
    for kinds in (small[4], day[2]):
        recruiters = kinds["benign_power_recruiter"]
        assert recruiters
        for key, evs in recruiters.items():
            views = [e for e in evs if PROFILE.match(e["path"])]
            assert 241 <= max_in_sliding_hour([ts(e) for e in views]) <= 450, key
            assert sum("/search?q=" in e.get("referer", "") for e in views) / len(views) > 0.95  # search-led
            assert sum(e["path"].startswith("/static/") for e in evs) > len(views)  # a browser loads assets
            assert all(e["path"].startswith("/search") and e["records"] == 10 for e in evs if "records" in e)
            assert datetime.fromisoformat(evs[0]["account_created_at"]) < START - timedelta(days=59)
    for evs in day[2]["benign_power_recruiter"].values():
        hours = {t.hour for t in profile_times(evs)}
        assert len(hours) <= 10  # a working day, not around the clock
        minutes = {t.replace(second=0, microsecond=0) for t in profile_times(evs)}
        assert len(minutes) < 0.9 * 60 * len(hours)  # with breaks between sessions


def test_friend_finders_look_a_few_people_up_and_open_whom_they_find(small):
    finders = small[4]["benign_friend_finder"]
    assert finders
    found = tried = 0
    for key, evs in finders.items():
        lookups = [i for i, e in enumerate(evs) if LOOKUP.match(e["path"])]
        assert 1 <= len(lookups) <= 8, key
        for i in lookups:
            tried += 1
            if evs[i]["status"] == 200:
                found += 1
                nxt = next(e for e in evs[i + 1 :] if not e["path"].startswith("/static/"))
                assert PROFILE.match(nxt["path"])  # opens the profile found
        assert max_in_sliding_hour(profile_times(evs)) < 40
    assert 0.3 < found / tried < 1.0


def test_contact_importers_upload_once_and_open_some_matches(small):
    importers = small[4]["benign_contact_importer"]
    assert importers
    for key, evs in importers.items():
        imports = [e for e in evs if e["path"].endswith("contacts/import")]
        assert len(imports) == 1 and imports[0]["method"] == "POST" and imports[0]["status"] == 200, key
        assert 5 <= imports[0]["records"] <= 80
        after = [e for e in evs if e["ts"] > imports[0]["ts"] and PROFILE.match(e["path"])]
        assert len(after) >= 2


def test_account_fleet_on_home_addresses_with_random_targets(small, day):
    for kinds, params, seed, hours, accounts in (
        (small[4], load_scenario("small"), 7, SMALL["hours"], SMALL["accounts"]),
        (day[2], {**SCENARIOS["default"], **DAY_PARAMS}, 2, 24, 60),
    ):
        fleet = kinds["scraper_account_fleet"]
        groups = groups_of("scraper_account_fleet", seed, params, hours, accounts)
        lo, hi = params["account_fleet_size"]
        assert lo <= len(fleet) <= hi and set(fleet) == set(groups)
        evs = [e for f in fleet.values() for e in f]
        assert all(ip_in(e, HOME) for e in evs)
        assert len({e["ip"] for e in evs}) == len(fleet)  # an address each ...
        assert len({network(e["ip"]) for e in evs}) >= len(fleet) - 1  # ... on home networks of their own
        assert len({e["user_agent"] for e in evs}) <= 3
        assert not any(e["path"].startswith("/static/") or "referer" in e for e in evs)
        feed = sum(e["path"] == "/feed" for e in evs) / len(evs)
        assert 0.005 < feed < 0.12  # a little feed noise
        created = sorted(datetime.fromisoformat(f[0]["account_created_at"]) for f in fleet.values())
        assert created[-1] - created[0] > DAY  # made over days, not in one hour
        for key, f in fleet.items():
            times = profile_times(f)
            assert max_in_sliding_hour(times) < 80, key
            ids = [int(PROFILE.match(e["path"]).group(1)) for e in f if PROFILE.match(e["path"])]
            steps = [abs(b - a) for a, b in pairwise(ids)]
            assert sum(s <= 3 for s in steps) < 0.05 * len(steps), key  # random targets, not a walk


def test_lookup_scraper_tries_thousands_of_numbers_or_addresses(small, tmp_path):
    lookups = small[4]["scraper_lookup"]
    assert lookups
    for key, evs in lookups.items():
        tries = [e for e in evs if e["path"].startswith("/api/v1/users/lookup?")]
        assert all(LOOKUP.match(e["path"]) for e in tries)
        assert len(tries) >= 500 and len(tries) >= len(evs) - 2  # nothing but look-ups after the login
        found = sum(e["status"] == 200 for e in tries) / len(tries)
        assert 0.05 < found < 0.5, key
        assert evs[0]["user_agent"] in APP_UAS or evs[0]["user_agent"] in SCRIPT_UAS
        phones = [int(e["path"][-11:]) for e in tries if "phone=" in e["path"]]
        if phones:  # a range walked in order
            assert phones == list(range(phones[0], phones[0] + len(phones)))
        assert 0.5 <= median(gaps([ts(e) for e in tries])) <= 3.0
    f = tmp_path / "emails.json"
    f.write_text(json.dumps({"lookup_email_share": 1.0, "lookup_scraper_share": 0.02}))
    generate(tmp_path / "out", scenario=str(f), hours=0.5, accounts=200)
    events, labels = read(tmp_path / "out")
    tries = [e for evs in by_kind(events, labels)["scraper_lookup"].values() for e in evs if "lookup?" in e["path"]]
    assert len(tries) > 100 and all("lookup?email=" in e["path"] for e in tries)


def test_account_pool_takes_turns_on_a_few_addresses(tmp_path):
    f = tmp_path / "pool.json"
    f.write_text(json.dumps({"account_pools": 1, "account_pool_size": [30, 30], "account_pool_addresses": [2, 2]}))
    summary = generate(tmp_path / "a", scenario=str(f), hours=6, accounts=300, seed=5)
    generate(tmp_path / "b", scenario=str(f), hours=6, accounts=300, seed=5)
    assert (tmp_path / "a" / "events.jsonl").read_bytes() == (tmp_path / "b" / "events.jsonl").read_bytes()
    assert summary["actors"]["scraper_account_pool"] == 30
    events, labels = read(tmp_path / "a")
    pool = by_kind(events, labels)["scraper_account_pool"]
    evs = [e for p in pool.values() for e in p]
    assert len({e["ip"] for e in evs}) == 2 and all(ip_in(e, RESIDENTIAL) for e in evs)
    assert len({e["user_agent"] for e in evs}) == 1
    for key, p in pool.items():
        turns = [list(g) for _, g in groupby(p, key=lambda e: e["session_id"])]
        for turn in turns:
            assert turn[0]["path"] == "/login" and 8 <= len(turn) - 1 <= 25, key
        if len(turns) > 1:  # its next turn comes after the other 29 accounts had theirs
            assert ts(turns[1][0]) - ts(turns[0][0]) > timedelta(minutes=29 * 3)
    order = [e["account_id"] for e in sorted(evs, key=lambda e: e["ts"]) if e["path"] == "/login"]
    assert len(set(order[:30])) == 30  # every account once before any comes back


def test_trust_tiers_are_carried_by_their_accounts(small, tmp_path):
    _, _, events, labels, kinds = small
    tiers: dict[str, set[str | None]] = defaultdict(set)
    for e in events:
        if e["account_id"]:
            tiers[e["account_id"]].add(e.get("account_tier"))
    assert all(len(t) == 1 for t in tiers.values())  # an account's tier does not change
    assert tiers["partner-acme"] == {"partner"}
    assert all(t != {"partner"} for a, t in tiers.items() if a != "partner-acme")
    for kind in ("benign_new_user", "scraper_new_account_crawler", "scraper_botnet"):
        assert all(tiers[k[8:]] == {None} for k in kinds[kind])
    f = tmp_path / "verified.json"
    f.write_text(json.dumps({"verified_share": 0.5, "power_recruiter_verified_share": 1.0}))
    generate(tmp_path / "out", scenario=str(f), hours=0.5, accounts=250, seed=7)
    events, labels = read(tmp_path / "out")
    kinds = by_kind(events, labels)
    users = kinds["benign_user"]
    verified = sum(evs[0].get("account_tier") == "verified" for evs in users.values()) / len(users)
    assert 0.35 < verified < 0.65
    assert all(e.get("account_tier") == "verified" for evs in kinds["benign_power_recruiter"].values() for e in evs)


def test_search_pages_disclose_their_ten_results(small):
    _, _, events, _, _ = small
    searches = [e for e in events if e["path"].startswith("/search?q=")]
    assert searches and all(e["records"] == 10 for e in searches)


def test_held_out_scenarios_are_valid_and_hold_every_class():
    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "scenarios"
    for path in sorted(folder.glob("heldout*.json")):
        load_scenario(str(path))  # checked key by key
    third = load_scenario(str(folder / "heldout-3.json"))
    counts = actor_counts(third, third["accounts"], 31)
    assert all(counts[k] >= 1 for k in KINDS)  # the held-out-only kinds included
    override = json.loads((folder / "heldout-3.json").read_text())
    changed = {k for k in override if override[k] != SCENARIOS["default"][k]}
    assert changed == set(override)
    for prefix in ("distributed_", "account_fleet", "lookup_", "power_recruiter_", "account_pool"):
        assert any(k.startswith(prefix) for k in changed), prefix
