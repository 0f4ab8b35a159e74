"""Absence is evidence only of what the logs carry: assets served by a CDN, a log format without referers."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path
from typing import Any

from detectors.absence import KINDS, Absence, Logs, rests_on
from detectors.config import load_config
from detectors.events import AccessEvent, parse_line
from detectors.layers import Hit
from detectors.pipeline import detect, every_grouping
from detectors.population import Population
from tests.conftest import config_with

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
AGED = "2024-01-01T00:00:00Z"


def test_the_absences_a_hit_rests_on_come_from_the_rules_conditions_and_the_fleets(tmp_path: Path) -> None:
    reasons = rests_on(load_config(), every_grouping(load_config()).values())
    assert reasons["browser_without_assets_steady"] == {"assets"}
    assert reasons["browser_without_assets"] == reasons["logged_out_browser_without_assets"] == KINDS
    assert reasons["profiles_only"] == reasons["steady_profile_crawl"] == {"referers"}
    assert reasons["address_fleet"] == reasons["address_fleet_range"] == reasons["bare_fleet_network"] == KINDS
    assert not {"sequential_targets", "automation_user_agent", "account_profile_views_1h"} & set(reasons)
    path = tmp_path / "config.toml"
    path.write_text('[[rules.behaviour]]\nname = "asset_heavy"\nsubject = "account"\naction = "throttle"\n'
                    'when = { static_share_1h = ">= 0.9", views_10m = ">= 5" }\n')  # fmt: skip
    assert rests_on(load_config(path), []).get("asset_heavy") is None  # a condition on presence rests on nothing


def test_the_logs_carry_what_enough_sampled_rows_show() -> None:
    logs = Logs()
    for i in range(40):  # accounts in a browser whose assets a CDN serves; one view in 4 with a referer
        logs.add({"views_1h": 5, "static_share_1h": 0.0, "noref_share_1h": 0.75 if i % 4 else 1.0})
    for _ in range(60):  # addresses: no views, so they say nothing of referers
        logs.add({"logged_out_views_10m": 0, "static_share_10m": 0.0})
    assert logs.carried(min_rows=40, min_share=0.05) == {"referers"}
    assert logs.carried(min_rows=41, min_share=0.05) == set()  # too few views to know referers: nothing counts
    assert logs.carried(min_rows=0, min_share=0.05) == {"referers"}  # carried until the rows show otherwise
    logs.add({"logged_out_views_10m": 2, "static_share_10m": 0.2, "noref_share_10m": 1.0})
    assert logs.carried(min_rows=1, min_share=0.005) == KINDS  # 1 row in 101 with an asset


def test_a_population_pickled_before_it_counted_the_logs_restores_counting_from_zero() -> None:
    old = Population()
    del old.__dict__["logs"]
    restored = pickle.loads(pickle.dumps(old))
    restored.add("account", {"views_1h": 1, "static_share_1h": 0.5})
    assert (restored.logs.rows, restored.logs.assets) == (1, 1)
    assert Population().logs is not Population().logs


def test_only_hits_resting_on_what_the_logs_lack_are_dropped() -> None:
    absence = Absence(load_config(), every_grouping(load_config()).values())

    def kept(logs: Logs, hits: list[tuple[Hit, str]]) -> list[str]:
        return [h.reason for h, _ in absence.keep(absence.carried(logs), hits)]

    cdn = Logs()
    for _ in range(1000):
        cdn.add({"views_1h": 5, "static_share_1h": 0.0, "noref_share_1h": 0.2})
    tagged = [(Hit(reason, "challenge", 0.75), "behaviour") for reason in
              ("browser_without_assets_steady", "browser_without_assets", "automation_user_agent")]  # fmt: skip
    assert kept(cdn, tagged) == ["browser_without_assets", "automation_user_agent"]
    neither = Logs()
    for _ in range(1000):
        neither.add({"views_1h": 5, "static_share_1h": 0.0, "noref_share_1h": 1.0})
    fleet = [(Hit("bare_fleet_user_agent", "challenge", 0.9), "coordination")]
    assert kept(neither, tagged + fleet) == ["automation_user_agent"]
    assert kept(Logs(), tagged + fleet) == ["automation_user_agent"]  # unknown yet


def views(account: str, ip: str, start_s: float, every_s: float, n: int, ua: str = CHROME, **kw: Any) -> list[dict]:
    """`n` views of distinct profiles by one account, one every `every_s` seconds from T0 + `start_s`; with
    `asset`, each view's page loads one asset."""
    asset = kw.pop("asset", False)
    lines = []
    for i in range(n):
        ts = T0 + int((start_s + i * every_s) * 1000)
        view = {"ts": ts, "ip": ip, "method": "GET", "path": f"/u/{5000 + 37 * i}", "status": 200, "user_agent": ua,
                "account_id": account, "account_created_at": AGED, **kw}  # fmt: skip
        lines += [view, {**view, "ts": ts + 200, "path": "/static/app.js"}] if asset else [view]
    return lines


def crowd(assets: bool) -> list[dict]:
    """200 people who open a few profiles from search in the first 20 minutes, their pages' assets logged or not."""
    lines = []
    for i in range(200):
        lines += views(f"p{i}", f"10.1.{i // 200}.{i % 200 + 1}", i * 6, 20, 3, asset=assets,
                       referer="https://social.example/search?q=anna")  # fmt: skip
    return lines


def parsed(lines: list[dict]) -> list[AccessEvent]:
    return [parse_line(json.dumps(x)) for x in sorted(lines, key=lambda x: x["ts"])]


def crowd_and_walker(assets: bool) -> list[AccessEvent]:
    """The crowd; then, from minute 20, a browser that walks followers lists for an hour at a steady pace and loads
    no asset, and a script client."""
    lines = crowd(assets)
    lines += views("walker", "10.2.0.1", 1200, 18, 200, referer="https://social.example/u/7/followers")
    lines += views("script", "10.2.0.2", 1200, 5, 30, ua="python-httpx/0.27.0")
    return parsed(lines)


def test_a_browser_without_assets_is_challenged_only_where_the_logs_carry_assets(tmp_path: Path) -> None:
    """Where the site's pages log their assets, a browser that loads none for an hour of steady views is
    challenged. Where a CDN serves them (no asset in the logs), nobody loads any, and the same browser is not;
    the script client is challenged on both."""
    config = config_with(tmp_path, "[absence]\nmin_rows = 100\n")

    def acted(assets: bool) -> set[tuple[str, ...]]:
        return {(d.subject, *d.reasons) for d in detect(crowd_and_walker(assets), config)}

    assert acted(assets=True) == {("walker", "browser_without_assets_steady"), ("script", "automation_user_agent")}
    assert acted(assets=False) == {("script", "automation_user_agent")}


def test_a_heavy_person_keeps_the_human_quota_where_the_logs_carry_no_assets(tmp_path: Path) -> None:
    """A recruiter at work, from minute 20: ten bursts of 30 profiles from search, 2 minutes each, 6 minutes apart
    (300 in an hour, over the standard hourly quota of 240). With its pages' assets it is `human` (quota 600).
    Without them, where the logs carry assets, it is a browser that loads none. Where a CDN serves them, nobody
    loads any: it is neither challenged for that nor held to the standard quota."""
    config = config_with(tmp_path, "[absence]\nmin_rows = 100\n")

    def acted(crowd_assets: bool, assets: bool) -> list[tuple[str, Any]]:
        lines, found = crowd(crowd_assets), random.Random(7)
        for burst in range(10):
            for line in views("recruiter", "10.3.0.1", 1200 + burst * 360, 4, 30, asset=assets,
                              referer="https://social.example/search?q=engineer"):  # fmt: skip
                target = line["path"] if line["path"].startswith("/static") else f"/u/{found.randrange(10**6)}"
                lines.append({**line, "path": target})
        decisions = detect(parsed(lines), config)
        return [(d.action, *d.reasons, d.evidence.get("tier")) for d in decisions if d.subject == "recruiter"]

    assert acted(crowd_assets=True, assets=True) == []
    assert acted(crowd_assets=True, assets=False) == [("challenge", "browser_without_assets_steady", None)]
    assert acted(crowd_assets=False, assets=False) == []


def test_the_log_shapes_benchmark_drops_the_assets_the_referers_or_both(tmp_path: Path) -> None:
    from benchmarks.bench_log_shapes import reshaped

    page = {"ts": "2026-01-05T08:00:00.000Z", "ip": "10.0.0.1", "method": "GET", "path": "/u/7", "status": 200,
            "referer": "https://social.example/search?q=anna"}  # fmt: skip
    asset = {**page, "path": "/static/app.js?v=3", "referer": "https://social.example/u/7"}
    src = tmp_path / "events.jsonl"
    src.write_text(json.dumps(page) + "\n" + json.dumps(asset) + "\n")
    shaped = {}
    for shape in ("cdn", "noref", "both"):
        reshaped(src, tmp_path / shape, shape)
        shaped[shape] = [json.loads(line) for line in (tmp_path / shape).read_text().splitlines()]
    assert shaped["cdn"] == [page]
    assert shaped["noref"] == [{k: v for k, v in e.items() if k != "referer"} for e in (page, asset)]
    assert shaped["both"] == [{k: v for k, v in page.items() if k != "referer"}]
