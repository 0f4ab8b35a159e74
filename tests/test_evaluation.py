"""`scrapeguard evaluate`: attribution, scores, both anchors, tuning, the reports and the CLI."""

from __future__ import annotations

import doctest
import gzip
import importlib
import json
import shutil
from pathlib import Path

import pytest

from detectors.allowlist import Allowlist
from detectors.config import load_config
from detectors.events import format_ms, parse_timestamp
from evaluation import evaluate
from evaluation.attribution import LOOKBACK_MS, Action, Outcome, Presence, resolve
from evaluation.core import decision_actions
from evaluation.decisions import Decision, load_decisions
from evaluation.labels import InputError, load_labels
from evaluation.leaky_bucket import CrawlBuckets, file_name
from evaluation.static_limit import WindowCounter, tune
from evaluation.traffic import scan
from jobs.cli import main
from tests.conftest import REALWORLD

CASE = Path(__file__).parent / "fixtures" / "evaluation"
T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
S, M, H = 1_000, 60_000, 3_600_000


def _case_args(*extra: str) -> list[str]:
    return [
        "evaluate",
        "--events",
        str(CASE / "events.jsonl"),
        "--labels",
        str(CASE / "labels.json"),
        "--decisions",
        str(CASE / "decisions.jsonl"),
        *extra,
    ]


def _write_events(path: Path, rows: list[tuple[int, str, str, str | None]], status: int = 200) -> Path:
    """rows: (ts ms, ip, path, account or None), written as v1 JSON Lines sorted by time."""
    with open(path, "w") as f:
        for ts, ip, p, account in sorted(rows, key=lambda r: r[0]):
            obj = {"ts": format_ms(ts), "ip": ip, "method": "GET", "path": p, "status": status, "account_id": account}
            f.write(json.dumps(obj) + "\n")
    return path


# --- the hand-written case (tests/fixtures/evaluation/case.md) -----------------------------------------


@pytest.fixture(scope="module")
def case():
    return evaluate(CASE / "events.jsonl", CASE / "labels.json", CASE / "decisions.jsonl")


def test_detector_per_kind_counts_and_views_before_first_action(case) -> None:
    kinds = case.detector.kinds
    crawler, enum, slow = (
        kinds[f"scraper_{k}"] for k in ("new_account_crawler", "enumerator_logged_out", "low_and_slow")
    )
    assert (crawler.actors, crawler.flagged, crawler.blocked, crawler.flag_rate) == (2, 1, 0, 0.5)
    assert sorted(crawler.views_before) == [4, 5] and crawler.views_served == 13
    assert (enum.actors, enum.flagged, enum.blocked, enum.views_before, enum.views_served) == (1, 1, 1, [3], 6)
    assert (slow.actors, slow.flagged, slow.blocked, slow.views_before, slow.views_served) == (1, 1, 1, [2], 4)
    out = crawler.to_json()
    assert out["views_before_first_action"] == {"median": 4.5, "p95": pytest.approx(4.95), "total": 9}
    assert out["recall"] == 0.5


def test_detector_overall_macro_recall_benign_rates_and_leak_ratio(case) -> None:
    d = case.detector
    assert d.macro_recall == pytest.approx((0.5 + 1 + 1) / 3)
    assert d.leak_ratio == pytest.approx(14 / 23)
    assert (d.benign_actors, d.benign_flagged, d.benign_blocked) == (6, 2, 1)
    assert d.benign_flag_rate == pytest.approx(1 / 3)
    rates = {k.kind: k.flag_rate for k in d.benign_kinds}
    assert rates == {"benign_logged_out": 0.0, "benign_new_user": 1.0, "benign_user": 0.25}
    assert case.inputs["lines"] == 31 and case.inputs["events_read"] == 30 and case.inputs["events_rejected"] == 1
    assert case.inputs["unlabeled_subjects_flagged"] == 1  # the throttle on account:zed


def test_ip_decisions_reach_the_benign_accounts_that_used_the_ip() -> None:
    labels = load_labels(CASE / "labels.json")
    traffic = scan(CASE / "events.jsonl", labels, counter_cap=100)
    accounts, ips = decision_actions(load_decisions(CASE / "decisions.jsonl"))
    out = resolve(labels, accounts, ips, traffic.presence)
    assert out["account:alice"] == Outcome(T0 + 30 * M, True)  # used 10.0.0.20 20 min before its block
    assert out["account:dave"] == Outcome(T0 + 3 * H, False)  # ran into the challenge while it was in force
    assert out["account:bob"] == Outcome(None, False)  # last used 10.0.0.21 2 h before its throttle
    assert out["account:erin"] == Outcome(None, False)  # came after the unblock
    assert out["account:carol"] == Outcome(None, False)  # an unblock flags nothing
    assert out["account:slow1"] == Outcome(T0 + H + 90 * S, True)
    assert out["ip:10.0.0.30"] == Outcome(None, False)


def test_unblock_neither_flags_nor_blocks() -> None:
    accounts, ips = decision_actions(
        [Decision("account", "c", "unblock", T0, T0), Decision("ip", "10.0.0.1", "unblock", T0, T0)]
    )
    assert accounts == {} and ips == {}
    assert resolve(["account:c", "ip:10.0.0.1"], accounts, ips, {}) == {
        "account:c": Outcome(None, False),
        "ip:10.0.0.1": Outcome(None, False),
    }


def test_lookback_is_one_hour_closed_and_the_lifetime_bounds_late_arrivals() -> None:
    p = Presence()
    p.add(T0)
    assert p.reached_at(T0 + LOOKBACK_MS, T0 + LOOKBACK_MS) == T0 + LOOKBACK_MS
    assert p.reached_at(T0 + LOOKBACK_MS + 1, T0 + 2 * H) is None
    p.add(T0 + 3 * H)  # a second visit, more than an hour later: a new cluster
    assert p.firsts == [T0, T0 + 3 * H]
    assert p.reached_at(T0 + 2 * H, T0 + 3 * H) == T0 + 3 * H  # in force when it came back
    assert p.reached_at(T0 + 2 * H, T0 + 3 * H - 1) is None  # expired 1 ms before it came back
    assert p.reached_at(T0 - 1, T0 + 10) == T0  # an action just before the first request, still in force


def test_direct_and_ip_actions_combine_and_account_actions_never_reach_ip_actors() -> None:
    p = Presence()
    p.add(T0)
    out = resolve(
        ["account:a", "ip:10.0.0.1"],
        {"account:a": [Action(T0 + 5 * S, T0 + H)]},
        {"10.0.0.1": [Action(T0 + 9 * S, T0 + H, True)]},
        {"account:a": {"10.0.0.1": p}},
    )
    assert out == {"account:a": Outcome(T0 + 5 * S, True), "ip:10.0.0.1": Outcome(T0 + 9 * S, True)}
    out = resolve(["ip:10.0.0.2"], {"account:10.0.0.2": [Action(T0, T0 + H)]}, {}, {})
    assert out == {"ip:10.0.0.2": Outcome(None, False)}


def test_an_access_path_decision_reaches_the_logged_out_actors_that_ask_for_profiles_while_it_lasts(tmp_path) -> None:
    lines = [
        (T0, "10.0.0.1", "/u/1", None),
        (T0 + 20 * M, "10.0.0.1", "/u/2", None),  # browsing profiles logged out when the challenge starts
        (T0 + 20 * M, "10.0.0.1", "/u/3", "a"),  # an account on the same address: logged in, not on the path
        (T0 + 20 * M, "10.0.0.2", "/feed", None),  # logged out, but no profile asked for
        (T0 + 30 * M, "10.0.0.4", "/u/5", None),  # arrives while it lasts
        (T0 + 30 * M, "66.249.66.1", "/u/6", None),  # a declared crawler (allowlisted range): gateways let it through
        (T0 + 2 * H, "10.0.0.3", "/u/4", None),  # after it lapsed
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(
        json.dumps({"ts": format_ms(ts), "ip": ip, "method": "GET", "path": path, "status": 200,
                    **({"account_id": account} if account else {})}) + "\n"
        for ts, ip, path, account in lines
    ))  # fmt: skip
    labels = {"ip:10.0.0.1": "benign_logged_out", "ip:10.0.0.2": "benign_logged_out", "account:a": "benign_user",
              "ip:10.0.0.3": "benign_logged_out", "ip:10.0.0.4": "scraper_distributed_crawl",
              "ip:66.249.66.1": "benign_search_crawler"}  # fmt: skip
    traffic = scan(events, labels, counter_cap=100, declared=Allowlist(load_config()).declares)
    accounts, ips = decision_actions([Decision("path", "logged-out:profile_view", "challenge", T0 + 10 * M, T0 + H)])
    path = accounts.pop("path:logged-out:profile_view")
    assert accounts == {} and ips == {} and path == [Action(T0 + 10 * M, T0 + H, False)]
    out = resolve(labels, {}, {}, traffic.presence, path, traffic.views_logged_out)
    assert out == {
        "ip:10.0.0.1": Outcome(T0 + 10 * M, False),
        "ip:10.0.0.2": Outcome(None, False),
        "account:a": Outcome(None, False),
        "ip:10.0.0.3": Outcome(None, False),
        "ip:10.0.0.4": Outcome(T0 + 30 * M, False),
        "ip:66.249.66.1": Outcome(None, False),
    }
    undeclared = scan(events, labels, counter_cap=100).views_logged_out
    assert resolve(labels, {}, {}, {}, path, undeclared)["ip:66.249.66.1"] == Outcome(T0 + 30 * M, False)


# --- anchor (b): the CrowdSec crawl bucket ---------------------------------------------------------------


def test_bucket_overflows_at_exactly_the_41st_distinct_path_within_the_leak_window() -> None:
    b = CrawlBuckets()
    assert not any(b.pour("1.2.3.4", T0 + 10 * i, f"/u/{i}") for i in range(40))
    assert b.pour("1.2.3.4", T0 + 400, "/u/40")
    assert b.overflows == {"1.2.3.4": [T0 + 400]}
    slow = CrawlBuckets()  # 41 distinct paths, but 510 ms apart: the bucket leaks faster than it fills
    assert not any(slow.pour("1.2.3.4", T0 + 510 * i, f"/u/{i}") for i in range(41))


def test_bucket_ignores_repeats_of_a_path_and_keeps_them_out_until_it_expires() -> None:
    b = CrawlBuckets()
    for i in range(40):  # 40 distinct names in 40 ms, each followed by 25 repeats of /u/0: 1,040 requests
        assert not b.pour("1.2.3.4", T0 + i, f"/u/{i}")
        assert not any(b.pour("1.2.3.4", T0 + i, "/u/0") for _ in range(25))
    assert b.pour("1.2.3.4", T0 + 40, "/u/40")  # the 41st distinct name overflows
    c = CrawlBuckets()
    c.pour("1.2.3.4", T0, "/u/1")
    # 10 s later the bucket has drained, but CrowdSec keeps its distinct set until 20.5 s without a pour
    assert not c.pour("1.2.3.4", T0 + 10 * S, "/u/1")
    assert not any(c.pour("1.2.3.4", T0 + 10 * S + i, f"/u/{i + 2}") for i in range(40))  # 40 pours: full
    d = CrawlBuckets()
    d.pour("1.2.3.4", T0, "/u/1")
    # 20.5 s after the last pour the bucket is gone; /u/1 is new again, and 40 more overflow on the 40th
    hits = [i for i in range(41) if d.pour("1.2.3.4", T0 + 20_501 + i, "/u/1" if i == 0 else f"/u/{i + 1}")]
    assert hits == [40]


def test_bucket_distinct_key_is_crowdsecs_file_name_and_static_assets_never_pour(tmp_path: Path) -> None:
    assert file_name("/api/v1/users/42") == file_name("/u/42") == "42"
    assert file_name("/search?q=a?b") == "search?q=a" and file_name("/") is None
    rows = [(T0 + 5 * i, "10.0.0.5", f"/static/img{i}.png", None) for i in range(200)]  # 200 distinct assets
    rows += [(T0 + 5 * i + 1, "10.0.0.5", f"/avatars/{i}.jpg", None) for i in range(200)]  # extension: static
    rows += [(T0 + 10 * i, "10.0.0.6", f"/u/{i}", None) for i in range(41)]
    traffic = scan(_write_events(tmp_path / "e.jsonl", rows), {}, counter_cap=10)
    assert traffic.crawl.overflows == {"10.0.0.6": [T0 + 400]}


def test_blackhole_drops_a_second_overflow_within_a_minute() -> None:
    b = CrawlBuckets()
    for burst in (0, 30 * S, 61 * S):
        for i in range(41):
            b.pour("1.2.3.4", T0 + burst + i, f"/b{burst}/{i}")
    assert b.overflows["1.2.3.4"] == [T0 + 40, T0 + 61 * S + 40]


@pytest.mark.skipif(not (REALWORLD / "crowdsec_hub_tests").is_dir(), reason="shared real-world data not present")
def test_bucket_agrees_with_crowdsecs_own_hub_test_for_the_scenario() -> None:
    """envoy-http-crawl-non_statics: 41 pages 10 ms apart give one alert, from 10.0.0.13, on /page-41."""
    log = REALWORLD / "crowdsec_hub_tests" / "envoy-http-crawl-non_statics" / "envoy-http-crawl-non_statics.log"
    b = CrawlBuckets()
    hits = []
    for line in log.read_text().splitlines():
        entry = json.loads(line.split(" F ", 1)[1])
        ip = entry["downstream_remote_address"].rsplit(":", 1)[0]
        ts = parse_timestamp(entry["start_time"])
        if entry["method"] == "GET" and b.pour(ip, ts, entry["x-envoy-origin-path"]):
            hits.append((ip, entry["x-envoy-origin-path"], format_ms(ts)))
    assert hits == [("10.0.0.13", "/page-41", "2025-12-31T16:40:00.490Z")]


# --- anchor (a): the static rate limit and its tuning --------------------------------------------------


def test_window_counter_window_is_closed_and_records_the_first_crossing() -> None:
    c = WindowCounter(M, cap=10)
    for ts in (T0, T0 + M, T0 + M + 1):  # the first event is still in [t - 60 s, t] at t = T0 + 60 s
        c.add(ts)
    assert c.peak == 2 and c.crossed_at(1) == T0 + M and c.crossed_at(2) is None and c.crossed_at(None) is None


def _tuning_case(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """1000 benign accounts: 998 view 1 profile, b_hi1 30 and b_hi2 35 in an hour; scraper s1 views 32.

    Every account has its own IP and views at most one profile a minute (61 s apart), so
    no IP ever makes more than 1 request in a minute.
    """
    labels = {f"account:b{i}": "benign_user" for i in range(998)}
    labels |= {"account:b_hi1": "benign_user", "account:b_hi2": "benign_user", "account:s1": "scraper_x"}
    rows = [(T0 + i, f"10.1.{i // 250}.{i % 250}", "/u/1", f"b{i}") for i in range(998)]
    rows += [(T0 + 61 * S * i, "10.2.0.1", f"/u/{i}", "b_hi1") for i in range(30)]
    rows += [(T0 + 61 * S * i, "10.2.0.2", f"/u/{i}", "b_hi2") for i in range(35)]
    rows += [(T0 + 61 * S * i + 7, "10.2.0.3", f"/u/{i}", "s1") for i in range(32)]
    return _write_events(tmp_path / "events.jsonl", rows), labels


def test_tuning_picks_the_hand_computed_thresholds_within_the_benign_bound(tmp_path: Path) -> None:
    events, labels = _tuning_case(tmp_path)
    traffic = scan(events, labels, counter_cap=81)
    # Grid 20, 40, 80, plus the top 2 benign peaks (0.1 % of 1000 = 1 may be flagged): 30 and 35.
    # A = 20 flags b_hi1 and b_hi2 (2 > 1). A = 30 flags b_hi2 only (1 of 1000 = 0.1 %, allowed) and
    # catches s1 (32 > 30): recall 1. No IP limit matters, so the tie goes to the highest B: off.
    t = tune(labels, traffic.account_hour, traffic.ip_minute, traffic.presence, grid=(20, 80, 3))
    assert t.account_candidates == [20, 30, 35, 40, 80, None]
    assert (t.account_limit, t.ip_limit, t.macro_recall, t.benign_flag_rate) == (30, None, 1.0, 0.001)
    assert t.outcomes["account:s1"] == Outcome(T0 + 61 * S * 30 + 7, False)  # its 31st view
    assert t.outcomes["account:b_hi2"].flagged and not t.outcomes["account:b_hi1"].flagged
    # A stricter bound (no benign actor at all) leaves only A >= 35, which misses s1; recall 0 ties
    # go to the highest thresholds: both limits off.
    strict = tune(
        labels, traffic.account_hour, traffic.ip_minute, traffic.presence, grid=(20, 80, 3), max_benign_rate=0.0009
    )
    assert (strict.account_limit, strict.ip_limit, strict.macro_recall, strict.benign_flag_rate) == (
        None,
        None,
        0.0,
        0.0,
    )


def test_tuning_prefers_the_higher_threshold_on_ties_and_ip_limits_reach_accounts(tmp_path: Path) -> None:
    # s1 views 40 profiles one a second (IP peak 40 a minute, account peak 40 an hour); b1 views 25,
    # 61 s apart (IP peak 1). Grid 20, 40, 80 plus b1's peak 25. Recall 1 with A = 25 (any B) or with
    # B = 20 (any A): ties go to the higher A, so A is off and B = 20, reached through s1's IP.
    labels = {"account:s1": "scraper_x", "account:b1": "benign_user"}
    rows = [(T0 + S * i, "10.0.0.1", f"/u/{i}", "s1") for i in range(40)]
    rows += [(T0 + 61 * S * i, "10.0.0.2", f"/u/{i}", "b1") for i in range(25)]
    traffic = scan(_write_events(tmp_path / "e.jsonl", rows), labels, counter_cap=81)
    t = tune(labels, traffic.account_hour, traffic.ip_minute, traffic.presence, grid=(20, 80, 3))
    assert (t.account_limit, t.ip_limit) == (None, 20)
    assert t.outcomes == {"account:s1": Outcome(T0 + 20 * S, False), "account:b1": Outcome(None, False)}


def test_static_anchor_scores_views_before_its_first_action(tmp_path: Path) -> None:
    events, labels = _tuning_case(tmp_path)
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    (tmp_path / "decisions.jsonl").write_text("")
    ev = evaluate(events, tmp_path / "labels.json", tmp_path / "decisions.jsonl", grid=(20, 80, 3))
    s = ev.static.kinds["scraper_x"]
    assert (s.flagged, s.views_before, s.views_served) == (1, [31], 32)
    assert ev.static.leak_ratio == pytest.approx(31 / 32) and ev.detector.leak_ratio == 1.0
    assert ev.static.benign_flag_rate == 0.001 and ev.static.benign_blocked == 0


# --- output and CLI --------------------------------------------------------------------------------------


def test_json_output_has_every_engine_with_numbers_not_strings(capsys) -> None:
    assert main(_case_args("--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"inputs", "attribution", "engines", "seconds"}
    assert list(out["engines"]) == ["detector", "static_rate_limit", "leaky_bucket"]
    for engine in out["engines"].values():
        overall = engine["overall"]
        assert isinstance(overall["macro_recall"], float) and isinstance(overall["benign_flagged"], int)
        assert set(engine["kinds"]) == set(json.loads((CASE / "labels.json").read_text()).values())
    detector = out["engines"]["detector"]
    assert detector["overall"]["leak_ratio"] == pytest.approx(14 / 23)
    assert detector["kinds"]["scraper_new_account_crawler"]["views_before_first_action"]["median"] == 4.5
    assert detector["kinds"]["benign_user"] == {"actors": 4, "flagged": 1, "blocked": 1, "flag_rate": 0.25}
    params = out["engines"]["static_rate_limit"]["parameters"]
    assert {"account_profile_views_per_hour", "ip_requests_per_minute", "tuning"} <= set(params)
    assert out["engines"]["leaky_bucket"]["parameters"]["capacity"] == 40


def test_text_report_of_the_detector(capsys) -> None:
    assert main(_case_args()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("scrapeguard evaluate: 30 events, 1 rejected (line 11: ")
    row = next(line for line in lines if line.startswith("scraper_new_account_crawler"))
    assert row.split() == [
        *("scraper_new_account_crawler", "2", "1", "0", "50.0%", "4.5", "4.95", "9", "13"),
        *("4.5", "9", "13"),  # records: profile views only in this case, so the same figures
    ]
    assert (
        "macro recall 83.3%; leak ratio 60.9% of the personal-data records scrapers were given before detection "
        "(60.9% of their profile views)"
    ) in lines
    benign = next(line for line in lines if line.startswith("benign flag rate"))
    assert benign.startswith("benign flag rate 33.333% (2 of 6; blocked 1): benign_logged_out 0.000%")


def test_records_count_every_personal_data_route(tmp_path: Path) -> None:
    """Look-ups answered 200 disclose one record each, a search page or contact import its `records` (else 1),
    a profile view one; failed requests and routes without personal data disclose none. The leak ratio is
    over records, and the profile-view ratio stays beside it."""
    rows = [
        (T0 + 0 * S, "/api/v1/users/lookup?phone=4915100000001", 200, None),
        (T0 + 1 * S, "/api/v1/users/lookup?phone=4915100000002", 404, None),
        (T0 + 2 * S, "/search?q=ann", 200, 10),
        (T0 + 3 * S, "/u/7", 200, None),
        (T0 + 4 * S, "/feed", 200, None),
        (T0 + 5 * S, "/api/v1/contacts/import", 200, 40),  # the action comes after this one
        (T0 + 6 * S, "/api/v1/users/lookup?email=a%40b.example", 200, None),
        (T0 + 7 * S, "/search?q=ben", 200, None),  # no records field: one
        (T0 + 8 * S, "/u/8", 200, None),
    ]
    events = tmp_path / "events.jsonl"
    with open(events, "w") as f:
        for ts, path, status, records in rows:
            obj = {"ts": format_ms(ts), "ip": "10.0.0.5", "method": "GET", "path": path, "status": status}
            obj.update(account_id="looker")
            if records is not None:
                obj["records"] = records
            f.write(json.dumps(obj) + "\n")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"account:looker": "scraper_lookup"}))
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text(
        json.dumps(
            {"subject_type": "account", "subject": "looker", "action": "challenge",
             "event_time": format_ms(T0 + 5 * S), "expires_at": format_ms(T0 + H)}
        ) + "\n"
    )  # fmt: skip
    traffic = scan(events, load_labels(labels), counter_cap=10)
    assert traffic.actors["account:looker"].records == 1 + 10 + 1 + 40 + 1 + 1 + 1
    ev = evaluate(events, labels, decisions)
    kind = ev.detector.kinds["scraper_lookup"]
    assert (kind.records_disclosed, kind.records_before) == (55, [52])
    assert (kind.views_served, kind.views_before) == (2, [1])
    assert ev.detector.leak_ratio == pytest.approx(52 / 55)
    assert ev.detector.leak_ratio_profile_views == pytest.approx(1 / 2)
    out = ev.to_json()["engines"]["detector"]
    assert out["overall"]["scraper_records_disclosed"] == 55
    assert out["overall"]["scraper_records_before_first_action"] == 52
    assert out["kinds"]["scraper_lookup"]["records_before_first_action"]["total"] == 52


def test_evaluate_reads_a_platforms_own_personal_data_routes(tmp_path: Path, capsys) -> None:
    events = _write_events(
        tmp_path / "events.jsonl", [(T0 + i * S, "10.0.0.5", f"/people/{i}", None) for i in range(5)]
    )
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"ip:10.0.0.5": "scraper_enumerator_logged_out"}))
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text("")
    config = tmp_path / "platform.toml"
    config.write_text("[[routes]]\naction = 'other'\npattern = '^/people/'\npersonal_data = true\n")
    args = ["evaluate", "--events", str(events), "--labels", str(labels), "--decisions", str(decisions), "--json"]
    assert main(args) == 0
    default = json.loads(capsys.readouterr().out)["engines"]["detector"]["overall"]
    assert main([*args, "--config", str(config)]) == 0
    platform = json.loads(capsys.readouterr().out)["engines"]["detector"]["overall"]
    assert (default["scraper_records_disclosed"], default["leak_ratio"]) == (0, None)
    assert (platform["scraper_records_disclosed"], platform["leak_ratio"]) == (5, 1.0)


def test_anchor_table_has_the_three_columns(capsys) -> None:
    assert main(_case_args("--anchors")) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "detector" in line and "leaky bucket" in line)
    assert "static rate limit (A=" in header
    recall = next(line for line in lines if line.startswith("recall scraper_enumerator_logged_out"))
    assert recall.split()[-3:] == ["100.0%", "0.0%", "0.0%"]  # the leaky bucket never overflows: 6 views


def test_events_may_be_gzipped(tmp_path: Path) -> None:
    gz = tmp_path / "events.jsonl.gz"
    with open(CASE / "events.jsonl", "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    ev = evaluate(gz, CASE / "labels.json", CASE / "decisions.jsonl")
    assert ev.detector.leak_ratio == pytest.approx(14 / 23)


def test_plot_writes_a_png(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "views.png"
    assert main(_case_args("--plot", str(png))) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"plot: {png}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--events": "missing.jsonl"}, "scrapeguard evaluate: --events missing.jsonl: file not found"),
        ({"--labels": "missing.json"}, "scrapeguard evaluate: --labels missing.json: file not found"),
        ({"--decisions": "."}, "scrapeguard evaluate: --decisions .: not a regular file"),
        ({"--plot": "no/dir/p.png"}, "scrapeguard evaluate: --plot no/dir/p.png: directory no/dir does not exist"),
    ],
)
def test_cli_usage_errors_exit_2_with_one_line(change: dict[str, str], message: str, capsys) -> None:
    args = _case_args()
    for option, value in change.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err == message + "\n" and captured.out == ""


def test_bad_decisions_unsorted_events_and_bad_labels_exit_2_naming_the_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "decisions.jsonl"
    bad.write_text(
        '{"subject_type":"ip","subject":"10.0.0.1","action":"block","event_time":"2026-01-05T08:00:00Z"}\n'
        '{"subject_type":"user","subject":"x","action":"block","event_time":"2026-01-05T08:00:00Z"}\n'
    )
    args = _case_args()
    args[args.index("--decisions") + 1] = str(bad)
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"scrapeguard evaluate: decisions {bad} line 2: "
        "field 'subject_type' is 'user', not one of account, ip, network, path\n"
    )
    lines = (CASE / "events.jsonl").read_text().splitlines()
    unsorted = tmp_path / "events.jsonl"
    unsorted.write_text("\n".join([lines[4], lines[0], *lines[5:]]) + "\n")
    args = _case_args()
    args[args.index("--events") + 1] = str(unsorted)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"scrapeguard evaluate: events {unsorted} line 2: event time 2026-01-05T08:00:00.000Z")
    assert "is before the previous event's (2026-01-05T08:00:01.000Z)" in err
    assert err.count("\n") == 1
    labels = tmp_path / "labels.json"
    labels.write_text('{"account:a": "human"}')
    args = _case_args()
    args[args.index("--labels") + 1] = str(labels)
    assert main(args) == 2
    assert "kind 'human' starts with neither 'benign_' nor 'scraper_'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "module",
    [
        "evaluation.attribution",
        "evaluation.core",
        "evaluation.decisions",
        "evaluation.labels",
        "evaluation.leaky_bucket",
        "evaluation.metrics",
        "evaluation.report",
        "evaluation.static_limit",
    ],
)
def test_doctests(module: str) -> None:
    """The examples in the docstrings hold (also when `evaluation` is not in pytest's testpaths)."""
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_enforcement_delay_counts_what_was_served_until_the_decision_took_effect(tmp_path: Path, capsys) -> None:
    """A logged-out crawler views a profile a second; the challenge is made at its 5th view. Read by enforcement
    3 s later, it stops the crawl after the 8th: three more views and records leak, and a bad delay is refused."""
    events = _write_events(tmp_path / "events.jsonl", [(T0 + i * S, "10.0.0.5", f"/u/{i}", None) for i in range(20)])
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"ip:10.0.0.5": "scraper_enumerator_logged_out"}))
    decisions = tmp_path / "decisions.jsonl"
    challenge = {
        "subject_type": "ip",
        "subject": "10.0.0.5",
        "action": "challenge",
        "event_time": format_ms(T0 + 4 * S),
    }
    decisions.write_text(json.dumps(challenge) + "\n")
    args = ["evaluate", "--events", str(events), "--labels", str(labels), "--decisions", str(decisions), "--json"]

    kinds = []
    for extra in ([], ["--enforcement-delay", "3s"]):
        assert main([*args, *extra]) == 0
        kinds.append(json.loads(capsys.readouterr().out)["engines"]["detector"])

    before = [k["kinds"]["scraper_enumerator_logged_out"]["records_before_first_action"]["total"] for k in kinds]
    assert before == [5, 8]
    assert [k["overall"]["leak_ratio"] for k in kinds] == [pytest.approx(5 / 20), pytest.approx(8 / 20)]
    assert kinds[1]["parameters"]["enforcement_delay_s"] == 3
    assert main([*args[:-1], "--enforcement-delay", "soon"]) == 2
    assert "--enforcement-delay: 'soon' is not a duration" in capsys.readouterr().err


def test_a_range_decision_reaches_every_address_in_the_range_and_the_accounts_that_used_them(tmp_path: Path) -> None:
    """Two crawling addresses of 10.9.1.0/24, one outside it, and a person's account on an address in it: a
    challenge on the range at the 3rd second reaches the three inside (the account by the IP rule), not the other."""
    rows = [(T0 + i * S, ip, f"/u/{i}", None) for i in range(10) for ip in ("10.9.1.5", "10.9.1.6", "10.9.2.5")]
    rows += [(T0 + 500, "10.9.1.77", "/u/1", "person")]
    events = _write_events(tmp_path / "events.jsonl", rows)
    labels = {"ip:10.9.1.5": "scraper_spread", "ip:10.9.1.6": "scraper_spread", "ip:10.9.2.5": "scraper_spread",
              "account:person": "benign_user"}  # fmt: skip
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    decision = {"subject_type": "network", "subject": "10.9.1.0/24", "action": "challenge",
                "event_time": format_ms(T0 + 2 * S)}  # fmt: skip
    (tmp_path / "decisions.jsonl").write_text(json.dumps(decision) + "\n")
    ev = evaluate(events, tmp_path / "labels.json", tmp_path / "decisions.jsonl", grid=(20, 80, 3))
    spread = ev.detector.kinds["scraper_spread"]
    assert (spread.actors, spread.flagged, sorted(spread.views_before)) == (3, 2, [3, 3, 10])  # 10: never acted on
    assert ev.detector.kinds["benign_user"].flagged == 1
    bad = {**decision, "subject": "10.9.1/24"}
    (tmp_path / "decisions.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(InputError, match=r"line 1: field 'subject' is not a network range such as '10\.1\.2\.0/24'"):
        evaluate(events, tmp_path / "labels.json", tmp_path / "decisions.jsonl", grid=(20, 80, 3))
