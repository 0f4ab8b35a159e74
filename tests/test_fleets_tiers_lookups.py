"""Fleets of addresses, trust tiers of the rate limits, and look-ups of people counted (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detectors.config import ConfigError, load_config
from detectors.coordination import AddressFleet, BareAccounts
from detectors.events import AccessEvent, parse_line
from detectors.features.request import facts
from detectors.pipeline import BEHAVIOUR, Limits, Row, detect, group
from detectors.tiers import Tiers
from tests.conftest import config_with

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
M, D = 60_000, 86_400_000
KNOWN = "[absence]\nmin_rows = 0\n"  # small inputs: the logs carry assets and referers until they show otherwise
BARE = {"logged_out_views_1m": 1, "static_share_10m": 0.0, "noref_share_10m": 1.0, "crawler_ua_share_10m": 0.0}


def bare(target: int, **kw: Any) -> dict[str, Any]:
    return {**BARE, "target_min_1m": target, **kw}


def flagged(fleet: AddressFleet, ip: str, ts: int, features: dict[str, Any]) -> list[tuple[str, int]]:
    """One address row through its block, as the pipeline's `group` step does: (address, ts) of each scorer row."""
    rows = group(fleet, [Row(ts, BEHAVIOUR, "ip", ip, ts, features)])
    assert all({layer for _, layer in r.hits} == {"coordination"} for r in rows)
    return [(r.subject, r.ts) for r in rows]


# -- fleets of addresses -------------------------------------------------------------------------------------


def test_the_member_that_completes_a_fleet_flags_every_member_seen_before() -> None:
    fleet = AddressFleet(min_members=4)
    seen = [flagged(fleet, f"100.{i}.0.9", T0 + i * 1000, bare(5000 + i)) for i in range(4)]
    assert seen[:3] == [[], [], []]
    assert seen[3] == [(f"100.{i}.0.9", T0 + 3000) for i in range(4)]
    # a fifth address is flagged at its own row; the first four are not flagged again by it
    assert flagged(fleet, "100.9.0.9", T0 + 9000, bare(5100)) == [("100.9.0.9", T0 + 9000)]


def test_a_members_decision_never_predates_its_own_request() -> None:
    """Rows of one minute come in canonical (address) order, not in time order."""
    fleet = AddressFleet(min_members=2)
    flagged(fleet, "100.1.0.9", T0 + 50_000, bare(5000))
    assert flagged(fleet, "100.2.0.9", T0 + 10_000, bare(5001)) == [("100.1.0.9", T0 + 50_000),
                                                                      ("100.2.0.9", T0 + 10_000)]  # fmt: skip


def test_requests_that_look_like_a_visit_make_no_fleet() -> None:
    """Assets, referers or a declared crawler: not bare, so no fleet however many addresses share a block."""
    for person in ({"static_share_10m": 0.4}, {"noref_share_10m": 0.5}, {"crawler_ua_share_10m": 1.0}):
        fleet = AddressFleet(min_members=3)
        assert not any(flagged(fleet, f"100.{i}.0.9", T0 + i, bare(5000 + i, **person)) for i in range(10))


def test_many_addresses_on_one_popular_profile_are_no_fleet() -> None:
    """A fleet walks the ids: addresses that all view the same profile (a viral page) are not one."""
    fleet = AddressFleet(min_members=3)
    assert not any(flagged(fleet, f"100.{i}.0.9", T0 + i, bare(5000)) for i in range(10))


def test_a_shared_link_in_a_crawled_block_is_not_acted_on() -> None:
    """Previews of a shared profile, fetched bare by many servers, land in a block a crawl is walking: the crawl's
    addresses are acted on, the fetchers are not, and they do not help a crawl of too few addresses to fleet."""

    def crawled(max_per_id: int) -> list[tuple[str, int]]:
        fleet = AddressFleet(min_members=4, max_per_id=max_per_id)
        out = []
        for i in range(20):  # 20 servers fetch one shared profile
            out += flagged(fleet, f"203.0.{i}.7", T0 + i, bare(5000))
        for i in range(1, 5):  # then a crawl walks the block from 4 addresses
            out += flagged(fleet, f"100.{i}.0.9", T0 + 100 * i, bare(5000 + i))
        return out

    walkers = [(f"100.{i}.0.9", T0 + 400) for i in range(1, 5)]
    assert crawled(max_per_id=3) == walkers  # 3 walkers and the shared id were not 4 ids: no fleet before
    fetchers = {subject for subject, _ in crawled(max_per_id=20)} - {s for s, _ in walkers}
    assert len(fetchers) == 20  # without the guard every fetcher is taken for a member


def test_the_first_fetchers_of_a_minute_are_not_taken_for_walkers() -> None:
    """A block is a crawl's fleet; in the next minute 3 walkers go on and 20 servers fetch one shared id of the
    block. The minute is taken whole: every fetcher's id is shared, so none of them is acted on, even those
    that come first in the minute's canonical order (before the rest of the fetchers are seen)."""
    fleet = AddressFleet(min_members=4)
    for i in range(4):
        flagged(fleet, f"100.{i}.0.9", T0 + i, bare(5000 + i))
    minute = [Row(T0 + M, BEHAVIOUR, "ip", f"100.{i}.0.9", T0 + M, bare(5010 + i)) for i in range(4, 7)]
    minute += [Row(T0 + M, BEHAVIOUR, "ip", f"100.0.{i}.1", T0 + M + i, bare(5100)) for i in range(20)]
    rows = group(fleet, sorted(minute, key=Row.order))  # the fetchers' addresses sort first
    assert {r.subject for r in rows} == {f"100.{i}.0.9" for i in range(4, 7)}
    one_by_one = AddressFleet(min_members=4)  # the same rows, a row time each: the first 3 fetchers are taken
    for row in [Row(T0 + i, BEHAVIOUR, "ip", f"100.{i}.0.9", T0 + i, bare(5000 + i)) for i in range(4)] + minute:
        group(one_by_one, [row._replace(rowtime=row.ts)])
    assert len(one_by_one.acted["ids:19"] - {f"100.{i}.0.9" for i in range(7)}) == 3


def test_scattered_views_are_in_other_blocks_and_old_members_leave() -> None:
    fleet = AddressFleet(block=256, min_members=3, window_minutes=60)
    assert not any(flagged(fleet, f"100.{i}.0.9", T0 + i, bare(i * 1000)) for i in range(10))  # one per block
    flagged(fleet, "100.1.1.9", T0, bare(5000))
    flagged(fleet, "100.2.1.9", T0 + 1, bare(5001))
    assert flagged(fleet, "100.3.1.9", T0 + 61 * M, bare(5002)) == []  # the first two left the window
    assert fleet.key(bare(5002)) == "ids:19" and fleet.key({}) is None


def test_the_configured_layer_and_its_switch() -> None:
    config = load_config()
    layer = config.section("coordination", "addresses")
    assert layer["enabled"] and layer["action"] == "challenge"


def test_a_crawl_spread_over_30_addresses_is_challenged_in_the_reference_run(tmp_path: Path) -> None:
    """30 addresses, 6 bare views each, walking ids together: each one challenged, by `address_fleet` alone."""
    lines = [
        json.dumps({"ts": T0 + k * 2 * M + j * 1900, "ip": f"100.{70 + j}.{j}.11", "method": "GET",
                    "path": f"/u/{5000 + 30 * k + j}", "status": 200, "user_agent": "Mozilla/5.0 Firefox/120.0"})
        for k in range(6) for j in range(30)
    ]  # fmt: skip
    decisions = detect([parse_line(x) for x in lines], config_with(tmp_path, KNOWN))
    assert {d.subject for d in decisions} == {f"100.{70 + j}.{j}.11" for j in range(30)}
    assert {(d.action, tuple(d.reasons)) for d in decisions} == {("challenge", ("address_fleet",))}


# -- fleets of bare accounts ---------------------------------------------------------------------------------

BARE_ACCOUNT = {"views_1h": 8, "browser_share_1h": 1.0, "static_share_1h": 0.0, "noref_share_1h": 1.0,
                "user_agent": "Mozilla/5.0 Chrome/120", "network": "10.7.1.0/24"}  # fmt: skip


def test_bare_accounts_sharing_a_user_agent_are_flagged_together_and_people_are_not() -> None:
    fleet = BareAccounts("user_agent", min_members=4)
    rows = [group(fleet, [Row(T0 + i, BEHAVIOUR, "account", f"a{i}", T0 + i, BARE_ACCOUNT)]) for i in range(4)]
    assert rows[:3] == [[], [], []]
    assert [(r.subject, r.hits[0][0].reason) for r in rows[3]] == [(f"a{i}", "bare_fleet_user_agent") for i in range(4)]
    assert rows[3][0].hits[0][0].evidence == {"user_agent_fleet_size": 4, "user_agent_fleet": "Mozilla/5.0 Chrome/120"}
    people = BareAccounts("user_agent", min_members=4)  # the same client, but with assets and referers
    for person in ({"static_share_1h": 0.3}, {"noref_share_1h": 0.2}, {"browser_share_1h": 0.0}, {"views_1h": 2}):
        assert not any(
            group(people, [Row(T0 + i, BEHAVIOUR, "account", f"p{i}", T0 + i, {**BARE_ACCOUNT, **person})])
            for i in range(10)
        )


def test_bare_accounts_taking_turns_on_one_network_are_one_fleet() -> None:
    """A pool: each account a short burst, one after another, all from one network, with different clients."""
    pool = BareAccounts("network", min_members=4)
    found = [group(pool, [Row(T0 + i * 10 * M, BEHAVIOUR, "account", f"a{i}", T0 + i * 10 * M,
                              {**BARE_ACCOUNT, "user_agent": f"ua-{i}"})]) for i in range(4)]  # fmt: skip
    assert [r.subject for r in found[3]] == ["a0", "a1", "a2", "a3"]
    assert BareAccounts("network").key({"network": None}) is None


# -- trust tiers ---------------------------------------------------------------------------------------------

PERSON = {"account_age_s": 400 * D / 1000, "nav_share_1h": 0.8, "static_share_1h": 0.5, "browser_share_1h": 1.0}


def test_tiers_come_from_the_platform_then_from_a_human_history() -> None:
    tiers = Tiers(load_config())
    assert tiers.of(PERSON) == ("human", 2.5)
    assert tiers.of({**PERSON, "account_age_s": 20 * D / 1000}) == ("standard", 1.0)  # too young
    assert tiers.of({**PERSON, "nav_share_1h": 0.1}) == ("standard", 1.0)  # not led by search or the feed
    assert tiers.of({**PERSON, "static_share_1h": None}) == ("standard", 1.0)  # unknown is not human
    assert tiers.of({"account_tier": "verified"}) == ("verified", 2.5)
    assert tiers.of({**PERSON, "account_tier": "gold"}) == ("human", 2.5)  # a tier the config does not list


def test_the_human_tier_says_which_kinds_of_the_logs_it_lacked() -> None:
    tiers, cdn = Tiers(load_config()), {**PERSON, "static_share_1h": 0.0}
    assert (tiers.wanting(PERSON), tiers.wanting(cdn)) == (set(), {"assets"})
    assert tiers.wanting({**cdn, "nav_share_1h": 0.0}) == {"assets", "referers"}
    assert tiers.wanting({**cdn, "browser_share_1h": 0.5}) is None  # not a browser: nothing the logs lack
    assert tiers.wanting({**cdn, "account_age_s": 20 * D / 1000}) is None  # too young


def test_a_tier_scales_the_quotas_of_an_hour_and_longer_only() -> None:
    limits = Limits(load_config(), "account")
    (rate, new) = limits.tiered["human"]
    assert [(e["window"], e["max_views"]) for e in rate.entries] == [("1h", 600), ("24h", 5000)]
    assert new.entries == limits.long[1].entries  # the new-account limits stay
    assert Limits(load_config(), "ip").tiered == {}


def test_the_hourly_quota_follows_the_tier_and_says_so() -> None:
    limits = Limits(load_config(), "account")
    state = type("State", (), {"views_in": lambda self, now, ms: 0})()
    features = {**PERSON, "views_10m": 0, "views_1h": 300, "views_24h": 300, "account_created_at": None,
                "account_created_at_source": None}  # fmt: skip
    assert limits.minute_row("veteran", T0, T0, state, features) is None  # 300 is under the human quota
    row = limits.minute_row("veteran", T0, T0, state, {**features, "nav_share_1h": 0.0})
    assert row is not None
    ((hit, _),) = row.hits
    assert (hit.reason, hit.evidence["tier"], hit.evidence["limit_profile_views_1h"]) == (
        "account_profile_views_1h",
        "standard",
        240,
    )


def test_a_standard_quota_that_only_missing_assets_set_is_lifted_where_the_logs_carry_none() -> None:
    limits = Limits(load_config(), "account")
    state = type("State", (), {"views_in": lambda self, now, ms: 0})()
    features = {**PERSON, "static_share_1h": 0.0, "views_10m": 0, "views_1h": 300, "views_24h": 300,
                "account_created_at": None, "account_created_at_source": None}  # fmt: skip
    row = limits.minute_row("recruiter", T0, T0, state, features)
    assert row is not None and row.features["human_wanting"] == ["assets"]
    assert limits.retier(row, frozenset({"assets", "referers"})) is row  # assets are logged: the quota stands
    assert limits.retier(row, frozenset({"referers"})).hits == ()  # 300 is under the human quota
    over = limits.minute_row("recruiter", T0, T0, state, {**features, "views_1h": 700})
    assert over is not None
    ((hit, _),) = limits.retier(over, frozenset()).hits
    assert (hit.evidence["tier"], hit.evidence["limit_profile_views_1h"]) == ("human", 600)
    script = limits.minute_row("recruiter", T0, T0, state, {**features, "browser_share_1h": 0.0})
    assert script is not None and "human_wanting" not in script.features  # not a browser: no tier to lift


# -- look-ups of people --------------------------------------------------------------------------------------


def test_look_ups_by_phone_email_and_contact_import_are_counted_and_profile_views_are_not() -> None:
    routes = load_config().routes
    line = '{"ts": 1767600000000, "ip": "10.0.0.1", "method": "GET", "path": "%s", "status": 200, "account_id": "a1"}'
    for path, lookup in [("/api/v1/users/lookup?phone=%2B4915112345678", True), ("/contacts/import", True),
                         ("/u/12", False), ("/search?q=x", False)]:  # fmt: skip
        assert facts(parse_line(line % path), routes).lookup is lookup, path


def test_a_mass_look_up_is_challenged_and_a_few_are_not() -> None:
    def lookups(account: str, n: int) -> list[str]:
        return [json.dumps({"ts": T0 + i * 1500, "ip": "10.0.0.1", "method": "GET", "status": 404,
                            "path": f"/api/v1/users/lookup?phone=%2B49151{1000000 + i}", "account_id": account,
                            "user_agent": "python-requests/2.31.0"}) for i in range(n)]  # fmt: skip

    decisions = detect([parse_line(x) for x in lookups("harvester", 40) + lookups("friend", 8)], load_config())
    assert [(d.subject, d.action, d.reasons) for d in decisions] == [("harvester", "challenge", ["mass_lookup"])]


def test_a_harvest_of_search_result_pages_is_challenged_and_a_searcher_who_opens_results_is_not() -> None:
    """Pages of search results list people: paging through them and opening none is a harvest, per account and per
    logged-out address; the same pace opening two people a page is someone at work."""
    routes = load_config().routes
    line = '{"ts": 1767600000000, "ip": "10.0.0.1", "method": "GET", "path": "%s", "status": 200, "account_id": "a1"}'
    for path, search in [("/search?q=anna&page=3", True), ("/api/v1/search?q=x", True), ("/u/12", False)]:
        assert facts(parse_line(line % path), routes).search is search, path

    def pages(ip: str, account: str | None, opened: int) -> list[AccessEvent]:
        out = []
        for i in range(40):
            page = {"ip": ip, "method": "GET", "status": 200, "account_id": account, "user_agent": "Firefox/120.0"}
            out.append(json.dumps({**page, "ts": T0 + i * 15_000, "path": f"/search?q=anna&page={i + 1}"}))
            out += [json.dumps({**page, "ts": T0 + i * 15_000 + 5000 * (k + 1), "path": f"/u/{100 * i + k}",
                                "referer": f"https://social.example/search?q=anna&page={i + 1}"})
                    for k in range(opened)]  # fmt: skip
        return [parse_line(x) for x in out]

    events = pages("10.0.0.1", "lister", 0) + pages("10.0.0.2", None, 0) + pages("10.0.0.3", "hunter", 2)
    decisions = detect(events, load_config())
    assert sorted((d.subject, d.action, *d.reasons) for d in decisions) == [
        ("10.0.0.2", "challenge", "logged_out_search_harvest"), ("lister", "challenge", "search_harvest"),
    ]  # fmt: skip


CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def visits(ip: str, account: str | None, ua: str, every_s: float, n: int, **kw: Any) -> list[AccessEvent]:
    """`n` views of distinct profiles, one every `every_s` seconds from T0; `kw`: more fields of each, or a
    function of the view's index giving the referer (`referer`) or an asset loaded after it (`asset`)."""
    referer, asset = kw.pop("referer", None), kw.pop("asset", None)
    lines = []
    for i in range(n):
        e = {"ts": T0 + int(i * every_s * 1000), "ip": ip, "method": "GET", "path": f"/u/{1000 + 37 * i}",
             "status": 200, "user_agent": ua, "account_id": account, **kw}  # fmt: skip
        lines.append({**e, "referer": referer(i)} if referer else e)
        if asset:
            lines.append({**e, "ts": e["ts"] + 300, "path": asset(i)})
    return [parse_line(json.dumps(x)) for x in lines]


def test_logged_out_profile_views_by_a_script_or_a_bare_browser_are_challenged_and_a_feed_reader_is_not(
    tmp_path: Path,
) -> None:
    """Logged out, at 40 views a minute or fewer (under the address's limits) and on scattered ids: a script client,
    and a browser that loads no asset and sends no referer for 30 views, are challenged. A feed reader (its own user
    agent) and a person in a browser who loads the pages' assets are not."""
    events = (
        visits("10.0.0.1", None, "python-httpx/0.27.0", 1.5, 12)
        + visits("10.0.0.2", None, CHROME, 20, 31)
        + visits("10.0.0.3", None, "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 9 subscribers)", 10, 60)
        + visits("10.0.0.4", None, CHROME, 20, 31, asset=lambda i: "/static/app.js")
        + visits("10.0.0.5", None, CHROME, 20, 29)
    )
    decisions = detect(events, config_with(tmp_path, KNOWN))
    assert sorted((d.subject, d.action, *d.reasons) for d in decisions) == [
        ("10.0.0.1", "challenge", "logged_out_automation"),
        ("10.0.0.2", "challenge", "logged_out_browser_without_assets"),
    ]  # fmt: skip


def test_a_list_led_crawl_without_assets_is_challenged_and_a_person_looking_through_a_list_is_not(
    tmp_path: Path,
) -> None:
    """Views reached from a list of people (a group's members, someone's followers) are navigation, so a person who
    looks through a group's members with its pages' pictures loaded is not taken for a profile crawler. A browser
    that does the same for an hour at a steady pace and loads no asset is challenged."""
    aged = {"account_created_at": "2024-01-01T00:00:00Z"}
    members = lambda i: f"https://social.example/groups/7/members?page={i // 20 + 1}"  # noqa: E731
    admin = visits("10.0.0.1", "admin", CHROME, 5, 150, referer=members,
                   asset=lambda i: f"/static/avatars/{i}.jpg", **aged)  # fmt: skip
    followers = lambda i: f"https://social.example/u/{i // 10}/followers"  # noqa: E731
    walker = visits("10.0.0.2", "walker", CHROME, 12, 300, referer=followers, **aged)
    decisions = detect(admin + walker, config_with(tmp_path, KNOWN))
    assert {(d.subject, *d.reasons) for d in decisions} == {("walker", "browser_without_assets_steady")}


# -- range scope: the network ranges of a fleet's addresses ----------------------------------------------------


def ranged(fleet: AddressFleet, ip: str, ts: int, features: dict[str, Any]) -> list[tuple[str, str]]:
    """One address row through its block: (subject_type, subject) of each scorer row."""
    return [(r.subject_type, r.subject) for r in group(fleet, [Row(ts, BEHAVIOUR, "ip", ip, ts, features)])]


def test_a_range_holding_enough_of_a_fleets_addresses_is_flagged_once_with_the_fleet() -> None:
    fleet = AddressFleet(min_members=4, range_min_addresses=3)
    ips = ["100.1.1.7", "100.1.1.8", "100.2.0.9", "100.1.1.9"]
    seen = [ranged(fleet, ip, T0 + i * 1000, bare(5000 + i)) for i, ip in enumerate(ips)]
    assert seen[3] == [("ip", ip) for ip in sorted(ips)] + [("network", "100.1.1.0/24")]
    rows = group(fleet, [Row(T0 + 9000, BEHAVIOUR, "ip", "100.3.0.1", T0 + 9000, bare(5100))])
    assert [(r.subject_type, r.subject) for r in rows] == [("ip", "100.3.0.1")]  # not in the range: not again
    (row,) = [r for r in group(fleet, [Row(T0, BEHAVIOUR, "ip", "100.1.1.7", T0 + 9500, bare(5101))])
              if r.subject_type == "network"]  # fmt: skip
    hit = row.hits[0][0]  # a member in the range: the range again (the policy absorbs it while in force)
    assert (hit.reason, hit.action, hit.evidence["range_addresses"], hit.evidence["network"]) == (
        "address_fleet_range", "challenge", 3, "100.1.1.0/24")  # fmt: skip


def test_ranges_are_off_by_default_and_too_few_addresses_make_none() -> None:
    for fleet, ips in ((AddressFleet(min_members=4), ["100.1.1.1", "100.1.1.2", "100.1.1.3", "100.1.1.4"]),
                       (AddressFleet(min_members=4, range_min_addresses=3), ["100.1.1.1", "100.1.1.2", "100.2.1.3",
                                                                             "100.3.1.4"])):  # fmt: skip
        rows = [r for i, ip in enumerate(ips) for r in ranged(fleet, ip, T0 + i, bare(5000 + i))]
        assert rows and all(t == "ip" for t, _ in rows)


RANGES_ON = "[coordination.addresses.ranges]\nenabled = true\n"


def test_ipv6_ranges_are_48s_and_the_prefix_is_configurable(tmp_path: Path) -> None:
    assert AddressFleet().range_of("2001:db8:1:2::7") == "2001:db8:1::/48"
    assert AddressFleet(prefix_v4=16).range_of("100.1.2.3") == "100.1.0.0/16"
    with pytest.raises(ConfigError, match=r"coordination.addresses.ranges.prefix_v4: 28 is not a prefix length from 8"):
        config_with(tmp_path, RANGES_ON + "prefix_v4 = 28\n")


def test_the_reference_acts_on_the_range_but_never_on_one_that_overlaps_an_allowlisted_network(tmp_path: Path) -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    crawl = [
        AccessEvent(T0 + k * 120_000 + j * 1900, ip, "GET", f"/u/{5000 + 30 * k + j}", 200, user_agent=ua)
        for k in range(3)
        for j, ip in enumerate([f"100.80.1.{10 + j}" for j in range(8)] + [f"100.80.2.{10 + j}" for j in range(8)])
    ]
    on = config_with(tmp_path, KNOWN + RANGES_ON + "min_addresses = 4\n")
    ranges = {(d.subject, d.action) for d in detect(crawl, on) if d.subject_type == "network"}
    assert ranges == {("100.80.1.0/24", "challenge"), ("100.80.2.0/24", "challenge")}
    allowed = config_with(tmp_path, KNOWN + RANGES_ON + '[allowlist]\ncidrs = ["100.80.2.240/28"]\n')
    assert {d.subject for d in detect(crawl, allowed) if d.subject_type == "network"} == {"100.80.1.0/24"}
    assert not any(d.subject_type == "network" for d in detect(crawl, config_with(tmp_path, KNOWN)))
