"""Behavioural features: per-request facts, one-minute summaries and the rolling per-subject features."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.events import AccessEvent
from detectors.features.behaviour import (
    ACCOUNT_CONTEXT,
    ACCOUNT_FEATURES,
    ADDRESS_FEATURES,
    RULE_FEATURES,
    AccountBehaviour,
    AddressBehaviour,
    density,
    share,
)
from detectors.features.minutes import AccountMinute, AddressMinute, summarise
from detectors.features.request import SCRIPTED, RequestFacts, classify_user_agent, facts, network_of
from detectors.routes import RouteTable

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z, a minute (and hour) boundary
S, M, H, D = 1_000, 60_000, 3_600_000, 86_400_000
ROUTES = RouteTable.default()
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"


# --- request facts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ua, kind",
    [
        (None, "none"),
        ("", "none"),
        (CHROME, "browser"),
        ("Mozilla/5.0 (Windows NT 10.0; rv:121.0) Gecko/20100101 Firefox/121.0", "browser"),
        (HEADLESS, "headless"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "crawler"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "crawler"),  # link previews
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "crawler"),
        ("TelegramBot (like TwitterBot)", "crawler"),
        ("Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36", "browser"),
        ("python-requests/2.31.0", "script"),
        ("curl/8.5.0", "script"),
        ("Scrapy/2.11 (+https://scrapy.org)", "script"),
        ("LinkUp/5.2 (iOS 17.1; iPhone14,2)", "app"),
        ("LinkUp/5.2 (Android 14; Pixel 8)", "app"),
        ("Mozilla/4.0 (compatible; MSIE 6.0)", "other"),
    ],
)
def test_classify_user_agent(ua: str | None, kind: str) -> None:
    """Each user agent lands in the class of client it claims to be; headless beats the browser it imitates."""
    assert classify_user_agent(ua) == kind


@pytest.mark.parametrize(
    "ip, network",
    [("10.1.2.3", "10.1.2.0/24"), ("192.0.2.255", "192.0.2.0/24"), ("2001:db8:1:2::7", "2001:db8:1::/48")],
)
def test_network_of_is_slash24_or_slash48(ip: str, network: str) -> None:
    """IPv4 addresses group by /24 and IPv6 addresses by /48."""
    assert network_of(ip) == network


def test_network_of_rejects_a_non_address() -> None:
    """A string that is not an IP address is an error, not a network."""
    with pytest.raises(ValueError):
        network_of("not-an-ip")


def event(path: str, account: str | None = "a1", **kw: Any) -> AccessEvent:
    base: dict[str, Any] = {"ts": T0, "ip": "10.0.0.1", "method": "GET", "path": path, "status": 200}
    base["account_id"] = account
    base.update(kw)
    return AccessEvent(**base)


def fact(path: str, account: str | None = "a1", **kw: Any) -> RequestFacts:
    return facts(event(path, account, **kw), ROUTES)


def test_facts_of_a_profile_view_reached_from_search() -> None:
    """Another user's profile opened from search is a view with a numeric target, reached by navigation."""
    f = fact("/u/42", referer="https://example.com/search?q=x", user_agent=CHROME, account_created_at=T0 - D)
    assert (f.view, f.target, f.nav, f.noref, f.browser, f.scripted, f.crawler, f.network, f.created_at) == (
        True, 42, True, False, True, False, False, "10.0.0.0/24", T0 - D,
    )  # fmt: skip


@pytest.mark.parametrize(
    "ua, scripted, browser, crawler",
    [
        (CHROME, False, True, False),
        (HEADLESS, True, False, False),  # a headless browser is scripted, not a browser
        ("python-requests/2.31.0", True, False, False),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", False, False, True),
        ("LinkUp/5.2 (iOS 17.1; iPhone14,2)", False, False, False),
        (None, False, False, False),
    ],
)
def test_facts_user_agent_flags_follow_the_class(ua: str | None, scripted: bool, browser: bool, crawler: bool) -> None:
    """The per-request user-agent flags are what `classify_user_agent` says: scripted for a script library or a
    headless browser, browser for a desktop or mobile browser, crawler for a search crawler."""
    f = fact("/u/42", user_agent=ua)
    assert (f.scripted, f.browser, f.crawler, f.user_agent) == (scripted, browser, crawler, ua)


def test_facts_own_profile_is_not_a_view() -> None:
    """An account looking at its own profile does not count as a view."""
    f = fact("/u/a1")
    assert (f.view, f.target, f.noref) == (False, None, False)


def test_facts_logged_out_view_without_referer() -> None:
    """A logged-out profile view counts, and a missing referer is recorded."""
    f = fact("/u/7", account=None)
    assert (f.view, f.target, f.noref, f.nav, f.account) == (True, 7, True, False, None)


def test_facts_referer_from_another_profile_is_not_navigation() -> None:
    """A view reached from search, the feed, a list of people or a link elsewhere is navigation; one reached from
    another profile (a walk from profile to profile) or from an asset is not."""
    assert fact("/u/42", referer="https://example.com/u/41").nav is False
    assert fact("/u/42", referer="https://example.com/static/app.js").nav is False
    for page in ("/feed", "/search?q=anna", "/groups/7/members?page=2", "/u/41/followers", "/"):
        assert fact("/u/42", referer="https://example.com" + page).nav is True, page


@pytest.mark.parametrize("path", ["/u/alice", "/u/" + "9" * 19])
def test_facts_target_is_none_unless_a_short_number(path: str) -> None:
    """Non-numeric ids and ids too long for a 64-bit number give no target, but still a view."""
    f = fact(path)
    assert f.view and f.target is None


def test_facts_404_and_static() -> None:
    """A 404 answer and an asset request are flagged as such."""
    assert fact("/u/5", status=404).not_found is True
    assert fact("/static/app.css").static is True and fact("/static/app.css").view is False


# --- one-minute summaries ---------------------------------------------------------------------------


def rf(ts: int, account: str | None = "a1", ua: str = "browser", **kw: Any) -> RequestFacts:
    """Request facts; `ua` is the user agent's class (`classify_user_agent`), set as `facts` sets its flags."""
    base: dict[str, Any] = {
        "ts": ts, "account": account, "created_at": None, "ip": "10.0.0.1", "network": "10.0.0.0/24", "view": False,
        "target": None, "not_found": False, "static": False, "nav": False, "noref": False, "scripted": ua in SCRIPTED,
        "browser": ua == "browser", "crawler": ua == "crawler", "user_agent": CHROME,
    }  # fmt: skip
    base.update(kw)
    return RequestFacts(**base)


def test_account_summary_counts_one_minute() -> None:
    """Views, navigation, referers, 404s, assets, distinct targets and addresses of one account-minute."""
    fs = [
        rf(T0 + 1 * S, view=True, target=10, nav=True, created_at=T0 - D),
        rf(T0 + 2 * S, view=True, target=12, noref=True, ip="10.0.0.2", created_at=T0 - 2 * D),
        rf(T0 + 3 * S, view=True, target=10, ua="script", user_agent="curl/8"),
        rf(T0 + 4 * S, static=True),
        rf(T0 + 5 * S, not_found=True, network="10.9.0.0/24"),
    ]
    (m,) = summarise(fs, "account")
    assert m == AccountMinute(
        subject="a1", minute=T0, last_ts=T0 + 5 * S, created_at=T0 - 2 * D, first_view=T0 + S, requests=5, views=3,
        nav=1, noref=1, not_found=1, statics=1, targets=2, tmin=10, tmax=12, ips=2, scripted=1, browser=4,
        user_agent=min(CHROME, "curl/8"), network="10.0.0.0/24",
    )  # fmt: skip


def test_account_summary_first_view_is_the_first_profile_view_not_the_first_request() -> None:
    """`first_view` (what an account's age counts from without account_created_at) is the minute's earliest
    view of another user's profile, not an earlier request of another kind."""
    fs = [
        rf(T0 + 1 * S),  # a request that is no view (e.g. the login)
        rf(T0 + 2 * S, static=True),
        rf(T0 + 9 * S, view=True, target=7),
        rf(T0 + 5 * S, view=True, target=8),
    ]
    (m,) = summarise(fs, "account")
    assert (m.first_view, m.last_ts, m.requests, m.views) == (T0 + 5 * S, T0 + 9 * S, 4, 2)
    (no_view,) = summarise(fs[:2], "account")
    assert no_view.first_view is None and no_view.requests == 2


def test_account_summaries_split_by_minute_and_account_and_skip_logged_out() -> None:
    """One summary per (minute, account), sorted; requests without an account have no account summary."""
    fs = [rf(T0 + M + 1, "b"), rf(T0 + 5, "b"), rf(T0 + 10, "a"), rf(T0 + 20, None)]
    assert [(m.minute, m.subject, m.requests) for m in summarise(fs, "account")] == [
        (T0, "a", 1), (T0, "b", 1), (T0 + M, "b", 1),
    ]  # fmt: skip


def test_address_summary_counts_logged_out_requests_only() -> None:
    """Per address: its logged-out requests, their views, 404s among the views (not missing assets), assets,
    views without a referer, crawler, script and browser user agents and distinct targets; logged-in requests from
    the same address are judged per account and not counted here, not even in last_ts."""
    fs = [
        rf(T0 + 1, None, view=True, target=3, not_found=True),
        rf(T0 + 2, None, view=True, target=5, noref=True, ua="crawler"),
        rf(T0 + 3, None, static=True, not_found=True, ua="script"),  # a missing asset
        rf(T0 + 4, "young", view=True, target=99, created_at=T0 - H),
        rf(T0 + 5, "old", not_found=True, created_at=T0 - 2 * D),
        rf(T0 + 6, "old", ua="crawler"),
    ]
    (m,) = summarise(fs, "ip")
    assert m == AddressMinute(
        subject="10.0.0.1", minute=T0, last_ts=T0 + 3, requests=3, views=2, not_found=1, statics=1, noref=1, ips=1,
        crawler_ua=1, targets=2, tmin=3, tmax=5, scripted=1, browser=1,
    )  # fmt: skip
    (net,) = summarise(fs, "network")
    assert net == m._replace(subject="10.0.0.0/24")
    logged_in = fs[3:]
    assert summarise(logged_in, "ip") == [] and summarise(logged_in, "network") == []


def test_network_summary_counts_distinct_addresses() -> None:
    """A network summary gathers its addresses; an IP summary is one per address."""
    fs = [rf(T0 + 1, None, ip="10.0.0.1"), rf(T0 + 2, None, ip="10.0.0.2"), rf(T0 + 3, None, ip="10.0.0.2")]
    fs.append(rf(T0 + 4, "a1", ip="10.0.0.3"))  # logged in: no address of the network counts it
    (net,) = summarise(fs, "network")
    assert (net.subject, net.ips, net.requests) == ("10.0.0.0/24", 2, 3)
    assert [(m.subject, m.requests) for m in summarise(fs, "ip")] == [("10.0.0.1", 1), ("10.0.0.2", 2)]


_facts = st.builds(
    rf,
    ts=st.integers(T0, T0 + 3 * M),
    account=st.sampled_from(["a", "b", None]),
    created_at=st.one_of(st.none(), st.integers(T0 - 2 * D, T0)),
    ip=st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.1.1"]),
    view=st.booleans(),
    target=st.one_of(st.none(), st.integers(0, 1000)),
    not_found=st.booleans(),
    static=st.booleans(),
    nav=st.booleans(),
    noref=st.booleans(),
    ua=st.sampled_from(["browser", "script", "crawler", "none"]),
    user_agent=st.sampled_from([CHROME, "curl/8", None]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_facts, max_size=30), st.randoms(use_true_random=False), st.sampled_from(["account", "ip", "network"]))
def test_summaries_do_not_depend_on_event_order(fs: list[RequestFacts], rnd: random.Random, kind: str) -> None:
    """Every summary field is order-free, so shuffled events summarise identically (the SQL has no order)."""
    shuffled = list(fs)
    rnd.shuffle(shuffled)
    assert summarise(shuffled, kind) == summarise(fs, kind)


# --- rolling behaviour: helpers ------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_share_is_a_fraction_of_the_whole(part: int, whole: int) -> None:
    """share is within [0, 1] for a part of a whole, and 0 for an empty whole."""
    part = min(part, whole)
    value = share(part, whole)
    assert 0.0 <= value <= 1.0
    assert value == (round(part / whole, 4) if whole else 0.0)


@settings(max_examples=200)
@given(st.integers(0, 200), st.integers(0, 10**6), st.integers(0, 10**6))
def test_density_is_within_zero_and_one(targets: int, lo: int, span: int) -> None:
    """density is in [0, 1], and 0 below five distinct targets."""
    value = density(targets, lo, lo + span)
    assert 0.0 <= value <= 1.0
    if targets < 5:
        assert value == 0.0


def test_density_sequential_versus_spread() -> None:
    """Ids walked in order are dense; the same number spread over a large range is sparse."""
    assert density(20, 1000, 1019) == 1.0
    assert density(20, 0, 999_999) < 0.001
    assert density(5, None, None) == 0.0


def am(minute: int, views: int = 0, **kw: Any) -> AccountMinute:
    """An account-minute `minute` minutes after T0 with `views` views (one request each, the first at the minute's
    start) unless told."""
    start = T0 + minute * M
    base: dict[str, Any] = {
        "subject": "a1", "minute": start, "last_ts": start + 59 * S, "created_at": None,
        "first_view": start if views else None,
        "requests": views, "views": views, "nav": 0, "noref": 0, "not_found": 0, "statics": 0, "targets": 0,
        "tmin": None, "tmax": None, "ips": 1, "scripted": 0, "browser": 0, "user_agent": CHROME,
        "network": "10.0.0.0/24",
    }  # fmt: skip
    base.update(kw)
    return AccountMinute(**base)


def feed(b: AccountBehaviour, rows: list[AccountMinute]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in rows:
        out = b.update(row)
    return out


# --- AccountBehaviour --------------------------------------------------------------------------------


def test_account_windows_with_many_active_minutes() -> None:
    """views_1m / 10m / 1h / 24h count the minutes inside each trailing window (15 busy minutes)."""
    f = feed(AccountBehaviour(), [am(0, 100)] + [am(120 + i, 2) for i in range(15)])
    assert (f["views_1m"], f["views_10m"], f["views_1h"], f["views_24h"]) == (2, 20, 30, 130)


def test_account_views_10m_forgets_a_minute_half_an_hour_ago() -> None:
    """views_10m and ips_per_minute_10m ignore minutes older than 10 minutes, even with few active minutes
    (v1 counted the last ten active minutes, so views from 30 minutes ago counted as views of the last 10)."""
    f = feed(AccountBehaviour(), [am(0, 30, ips=5), am(30, 1, ips=1)])
    assert f["views_1h"] == 31
    assert f["views_10m"] == 1
    assert f["ips_per_minute_10m"] == 1.0


def test_account_24h_window_drops_day_old_minutes() -> None:
    """A minute a full day old leaves views_24h, the active hours and the night share."""
    b = AccountBehaviour()
    b.update(am(0, 50))
    f = b.update(am(24 * 60, 1))
    assert (f["views_24h"], f["hours_active_24h"], f["views_1h"]) == (1, 1, 1)


def test_views_in_a_window_at_minute_resolution_up_to_an_hour_then_hourly() -> None:
    """`views_in` (what long-window rate limits count): windows up to an hour sum the minutes that started in
    them; longer ones sum the hours that started in them, so a minute early in an hour that began before the
    window is not counted."""
    b = AccountBehaviour()
    feed(b, [am(0, 5), am(65, 3), am(119, 2)])
    now = T0 + 119 * M
    assert [b.views_in(now, ms) for ms in (M, 10 * M, H, 90 * M, 2 * H, 24 * H)] == [2, 2, 5, 5, 10, 10]
    a = AddressBehaviour()
    for row in [adm(0, 40), adm(30, 20), adm(55, 5)]:
        a.update(row)
    assert [a.views_in(T0 + 55 * M, ms) for ms in (10 * M, H, 24 * H)] == [5, 65, 65]


def test_account_shares() -> None:
    """Shares of the last hour: profile views among non-asset requests, navigation and referers among views,
    404s, assets, scripted and browser requests among all requests."""
    rows = [
        am(0, 10, requests=20, statics=5, nav=4, noref=2, not_found=1, scripted=5, browser=15),
        am(1, 10, requests=20, statics=5, nav=0, noref=8, not_found=3, scripted=5, browser=15),
    ]
    f = feed(AccountBehaviour(), rows)
    assert {k: f[k] for k in f if k.endswith("share_1h") or k.endswith("ratio_1h")} == {
        "profile_share_1h": 0.6667,
        "nav_share_1h": 0.2,
        "noref_share_1h": 0.5,
        "not_found_ratio_1h": 0.1,
        "static_share_1h": 0.25,
        "scripted_share_1h": 0.25,
        "browser_share_1h": 0.75,
    }


def test_account_shares_are_zero_without_requests() -> None:
    """A minute with nothing counted gives shares of 0, not a division error."""
    f = AccountBehaviour().update(am(0, 0, requests=0))
    assert f["profile_share_1h"] == f["nav_share_1h"] == f["static_share_1h"] == 0.0


def test_account_target_density_sequential_versus_spread() -> None:
    """Targets walked in order over the hour are dense; the same count spread over the id space is not."""
    walk = feed(AccountBehaviour(), [am(i, 10, targets=10, tmin=100 + 10 * i, tmax=109 + 10 * i) for i in range(3)])
    assert (walk["target_density_1h"], walk["target_min_1h"], walk["target_max_1h"]) == (1.0, 100, 129)
    spread = feed(AccountBehaviour(), [am(i, 10, targets=10, tmin=i * 300_000, tmax=i * 300_000 + 9) for i in range(3)])
    assert spread["target_density_1h"] < 0.001


def test_account_minute_cv_steady_versus_bursty() -> None:
    """A steady pace has a per-minute CV of 0; two bursts with idle minutes between have a high one."""
    steady = feed(AccountBehaviour(), [am(i, 5) for i in range(10)])
    assert steady["minute_cv_1h"] == 0.0
    bursty = feed(AccountBehaviour(), [am(0, 30), am(9, 30)])
    assert bursty["minute_cv_1h"] == 2.0  # 10 minutes, mean 6, standard deviation 12
    assert AccountBehaviour().update(am(0, 30))["minute_cv_1h"] == 0.0  # one active minute: no CV


def test_account_age_from_created_at_or_first_view() -> None:
    """Age comes from account_created_at when carried (the earliest one), else from the account's first profile
    view (not its first request), and says which; with neither there is no age yet."""
    f = AccountBehaviour().update(am(0, 1, created_at=T0 - D))
    assert (f["account_age_s"], f["account_created_at_source"]) == (D / 1000 + 59, "account_created_at")
    b = AccountBehaviour()
    before = b.update(am(0, 0, requests=3))  # logs in, views no profile
    assert (before["account_age_s"], before["account_created_at"], before["account_created_at_source"]) == (
        None, None, None,
    )  # fmt: skip
    g = feed(b, [am(2, 1, first_view=T0 + 2 * M + 10 * S), am(5, 1)])
    assert (g["account_age_s"], g["account_created_at"], g["account_created_at_source"]) == (
        3 * 60 + 49, "2026-01-05T08:02:10.000Z", "first_view",
    )  # fmt: skip
    h = feed(b, [am(6, 1, created_at=T0 - H), am(7, 1, created_at=T0 - 2 * H), am(8, 1, created_at=T0 - H)])
    assert (h["account_age_s"], h["account_created_at_source"]) == (2 * 3600 + 8 * 60 + 59, "account_created_at")


def test_account_views_total_counts_every_view_since_the_first_minute() -> None:
    """views_total is every profile view of the account so far, whatever its age (no window)."""
    f = feed(AccountBehaviour(), [am(0, 10), am(59, 5), am(61, 7), am(2 * 24 * 60, 1)])
    assert (f["views_total"], f["views_24h"], f["views_1h"]) == (23, 1, 1)


def test_account_night_share_and_active_hours() -> None:
    """Night views (configured UTC hours) over the day's views; hours with views in the last day."""
    rows = [am(-8 * 60, 30), am(-60, 10), am(0, 20)]  # 00:00, 07:00 and 08:00 UTC
    f = feed(AccountBehaviour(night_hours=(0, 6)), rows)
    assert (f["night_share_24h"], f["hours_active_24h"]) == (0.5, 3)
    assert feed(AccountBehaviour(night_hours=(7, 8)), rows)["night_share_24h"] == 0.1667


def test_account_ips_per_minute_and_cohort_keys() -> None:
    """Mean distinct addresses per minute over the last 10 minutes; user agent and network of the latest minute."""
    f = feed(AccountBehaviour(), [am(i, 1, ips=1 + i % 2, user_agent="ua-x", network="10.9.9.0/24") for i in range(12)])
    assert (f["ips_per_minute_10m"], f["user_agent"], f["network"]) == (1.5, "ua-x", "10.9.9.0/24")


# --- AddressBehaviour --------------------------------------------------------------------------------


def adm(minute: int, views: int = 0, **kw: Any) -> AddressMinute:
    """An address-minute `minute` minutes after T0 with `views` logged-out views (one request each) unless told."""
    start = T0 + minute * M
    base: dict[str, Any] = {
        "subject": "10.0.0.1", "minute": start, "last_ts": start + 59 * S, "requests": views, "views": views,
        "not_found": 0, "statics": 0, "noref": 0, "ips": 1, "crawler_ua": 0, "targets": 0, "tmin": None, "tmax": None,
    }  # fmt: skip
    base.update(kw)
    return AddressMinute(**base)


def test_address_windows_10m_and_1h() -> None:
    """Logged-out views of the last minute, 10 minutes and hour; older minutes drop out."""
    b = AddressBehaviour()
    for row in [adm(-61, 1000), adm(0, 40), adm(30, 20), adm(55, 5)]:
        f = b.update(row)
    assert (f["logged_out_views_1m"], f["logged_out_views_10m"], f["logged_out_views_1h"]) == (5, 5, 65)
    assert f["requests_10m"] == 5


def test_address_ratios_and_maxima() -> None:
    """Over the last 10 minutes: 404s and missing referers among the views, assets and crawler user agents among
    all (logged-out) requests; the most addresses in one minute of the hour."""
    b = AddressBehaviour()
    b.update(adm(0, 10, requests=16, not_found=5, statics=3, noref=4, ips=5, crawler_ua=6))
    f = b.update(adm(1, 10, requests=8, not_found=0, statics=0, noref=6, ips=2, crawler_ua=0))
    assert {k: f[k] for k in f if "_share_" in k or "_ratio_" in k} == {
        "not_found_ratio_10m": 0.25,  # 5 of 20 views
        "noref_share_10m": 0.5,  # 10 of 20 views
        "static_share_10m": 0.125,  # 3 of 24 requests
        "crawler_ua_share_10m": 0.25,  # 6 of 24 requests
        "scripted_share_10m": 0.0,  # none counted (see the next test)
        "browser_share_10m": 0.0,
    }
    assert f["addresses_per_minute_max_1h"] == 5


def test_address_user_agent_shares_over_10_minutes() -> None:
    """Script clients and browsers among an address's logged-out requests of the last 10 minutes; a minute kept in
    state from before they were counted (a shorter tuple) counts as neither."""
    b = AddressBehaviour()
    b.minutes.append((T0 - 2 * M, 4, 4, 0, 0, 0, 1, 0, 4, 1, 4, 0))  # an older version's minute
    b.update(adm(-1, 8, scripted=6, browser=2))
    f = b.update(adm(0, 8, scripted=8))
    assert (f["scripted_share_10m"], f["browser_share_10m"]) == (0.7, 0.1)  # 14 and 2 of 20 requests


def test_search_pages_and_views_per_page_over_10_minutes_and_the_hour() -> None:
    """Pages of search results are counted per account and per address; views per page count at least one page, and
    a minute kept in state from before searches were counted (a shorter tuple) counts none."""
    b = AccountBehaviour()
    b.minutes.append((T0 - 30 * M, 4, 4, 0, 0, 0, 0, 0, 0, 0, 1, None, None, 0))  # an older version's minute
    b.update(am(-20, 6, requests=36, searches=30))
    f = b.update(am(0, 2, requests=12, searches=10))
    assert (f["searches_10m"], f["searches_1h"], f["views_per_search_10m"], f["views_per_search_1h"]) == (
        10, 40, 0.2, 0.3,  # 2 views on 10 pages; 12 on 40 (the old minute's 4 views count, its searches do not)
    )  # fmt: skip
    assert feed(AccountBehaviour(), [am(0, 3)])["views_per_search_10m"] == 3.0  # no search: per one page
    a = AddressBehaviour()
    a.update(adm(-30, 0, requests=20, searches=20))
    f = a.update(adm(0, 1, requests=5, searches=5))
    assert (f["logged_out_searches_10m"], f["logged_out_searches_1h"]) == (5, 25)
    assert (f["logged_out_views_per_search_10m"], f["logged_out_views_per_search_1h"]) == (0.2, 0.04)


def test_address_target_density_over_10_minutes() -> None:
    """Logged-out targets walked in order within 10 minutes are dense; an old minute's range is forgotten."""
    b = AddressBehaviour()
    b.update(adm(0, 10, targets=10, tmin=0, tmax=900_000))
    f = b.update(adm(20, 20, targets=20, tmin=500, tmax=519))
    assert f["target_density_10m"] == 1.0


# --- the declared feature names ----------------------------------------------------------------------


def test_declared_feature_names_are_what_update_returns() -> None:
    """`ACCOUNT_FEATURES` and `ADDRESS_FEATURES` are exactly the keys `update` returns; `RULE_FEATURES` (what the
    config loader checks rule conditions against) are those of them that are numbers, without the context
    (`ACCOUNT_CONTEXT`: evidence and cohort keys)."""
    account = feed(AccountBehaviour(), [am(0, 12, targets=12, tmin=100, tmax=111), am(1, 3, created_at=T0 - H)])
    assert list(account) == list(ACCOUNT_FEATURES)
    assert set(ACCOUNT_CONTEXT) < set(ACCOUNT_FEATURES)
    assert [n for n in ACCOUNT_FEATURES if n not in ACCOUNT_CONTEXT] == list(RULE_FEATURES["account"])
    assert all(type(account[n]) in (int, float) for n in RULE_FEATURES["account"]), account
    assert all(type(account[n]) is str for n in ("account_created_at", "account_created_at_source", "user_agent"))
    address = AddressBehaviour().update(adm(0, 5, targets=5, tmin=100, tmax=104))
    assert list(address) == list(ADDRESS_FEATURES)
    assert all(type(address[n]) in (int, float) for n in ADDRESS_FEATURES), address
    assert set(RULE_FEATURES) == {"account", "ip"} and RULE_FEATURES["ip"] == ADDRESS_FEATURES


def test_facts_every_field_by_name() -> None:
    """Every field of a request's facts, by name (`facts` builds them by position, so a reordered record fails here)."""
    referer, tier = "https://example.com/feed", "verified"
    f = fact("/u/42", referer=referer, user_agent=CHROME, account_created_at=T0 - D, account_tier=tier)
    assert f._asdict() == {
        "ts": T0, "account": "a1", "created_at": T0 - D, "ip": "10.0.0.1", "network": "10.0.0.0/24", "view": True,
        "target": 42, "not_found": False, "static": False, "nav": True, "noref": False, "scripted": False,
        "browser": True, "crawler": False, "user_agent": CHROME, "tier": "verified", "lookup": False, "declared": False,
        "search": False,
    }  # fmt: skip
    assert fact("/search?q=anna&page=2").search and fact("/api/v1/search?q=anna").search
