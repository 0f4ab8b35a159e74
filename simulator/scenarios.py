"""Built-in scenarios (actor mix and behaviour rates) and loading of JSON overrides."""

from __future__ import annotations

import json
from pathlib import Path
from random import Random
from typing import Any

from .world import DESKTOP_UAS, MOBILE_WEB_UAS

KINDS = (
    "benign_user",
    "benign_new_user",
    "benign_recruiter",
    "benign_nat_user",
    "benign_mobile_user",
    "benign_logged_out",
    "benign_partner_api",
    "benign_search_crawler",
    "benign_power_recruiter",
    "benign_friend_finder",
    "benign_contact_importer",
    "scraper_new_account_crawler",
    "scraper_enumerator_logged_out",
    "scraper_low_and_slow",
    "scraper_botnet",
    "scraper_proxy_rotation",
    "scraper_headless_browser",
    "scraper_search_harvester",
    "scraper_hijacked_account",
    "scraper_distributed_crawl",
    "scraper_account_fleet",
    "scraper_lookup",
    "scraper_account_pool",
)

LOGGED_OUT_KINDS = (
    "benign_logged_out",
    "benign_search_crawler",
    "scraper_enumerator_logged_out",
    "scraper_distributed_crawl",
)
# Kinds whose actors are accounts; the others are logged out (labelled by address).
ACCOUNT_KINDS = tuple(k for k in KINDS if k not in LOGGED_OUT_KINDS)

HELD_OUT_KINDS = ("scraper_account_pool",)
"""Kinds that no built-in scenario has (their count is 0 there): they are for held-out scenarios only."""

# Every parameter, with its default (the `default` scenario). A scenario file overrides any
# of them; an unknown key is an error. [low, high] pairs are ranges drawn from uniformly.
_DEFAULT: dict[str, Any] = {
    # -- size: generate() takes hours/accounts as arguments; the CLI and benchmark default to these.
    "hours": 6.0,  # simulated hours
    "accounts": 5000,  # accounts, every account kind included
    # -- actor mix: account kinds as fractions of `accounts`, the rest are benign_user.
    "new_user_share": 0.03,  # benign_new_user: accounts created during the window
    "recruiter_share": 0.01,  # benign_recruiter
    "nat_user_share": 0.06,  # benign_nat_user
    "mobile_user_share": 0.1,  # benign_mobile_user
    "crawler_share": 0.002,  # scraper_new_account_crawler
    "low_and_slow_share": 0.002,  # scraper_low_and_slow
    "proxy_rotation_share": 0.0004,  # scraper_proxy_rotation
    "headless_share": 0.0004,  # scraper_headless_browser
    "harvester_share": 0.0004,  # scraper_search_harvester
    "hijacked_share": 0.0004,  # scraper_hijacked_account
    "botnets": 1,  # scraper_botnet: number of fleets, each of `botnet_size` accounts
    # Logged-out actors, per account.
    "logged_out_per_account": 0.6,  # benign_logged_out visitors (one address each)
    "enumerators_per_account": 0.001,  # scraper_enumerator_logged_out (one address each)
    "min_per_scraper_kind": 1,  # floor on every scraper kind's count (the botnet: on its accounts)
    # -- benign_user and every account kind that browses like one
    "sessions_per_hour": 0.5,  # Poisson rate of session starts (times the diurnal curve)
    "pages_per_session": 10.0,  # mean pages per session (about geometric, at most 60)
    "think_median_s": 20.0,  # lognormal think time between pages: median ...
    "think_sigma": 1.0,  # ... and sigma of its log
    "profile_share": 0.25,  # share of logged-in pages that are profile views
    "mobile_share": 0.4,  # share of sessions on a phone (IPv6 home address)
    "app_share_of_mobile": 0.5,  # of those, the app (API paths, no assets) rather than mobile web
    "diurnal_amplitude": 0.5,  # activity is 1 +- amplitude over the day ...
    "diurnal_peak_utc_hour": 19.0,  # ... peaking at this hour (UTC)
    # -- benign_new_user
    "onboarding_profiles": [15, 40],  # suggested profiles viewed within 10 min of sign-up
    # -- benign_recruiter
    "recruiter_shift_start_utc": [5.0, 8.0],  # start of each recruiter's working day (UTC hour)
    "recruiter_shift_hours": 9.0,  # length of the working day; no sessions outside it
    "recruiter_profiles_per_session": [10, 40],  # profiles opened from search results per session
    "recruiter_think_s": 15.0,  # median time on a profile (lognormal, sigma 0.6)
    "recruiter_break_min": 20.0,  # median break between sessions (lognormal, sigma 0.5)
    "recruiter_message_share": 0.1,  # share of viewed profiles that get a message
    # -- benign_nat_user
    "nat_accounts_per_ip": 30,  # accounts per shared address (half carrier-grade NAT, half office)
    # -- benign_mobile_user
    "mobile_ip_change_min": [2.0, 10.0],  # minutes between carrier address changes
    "mobile_v6_share": 0.3,  # share of mobile users on IPv6 (the rest on carrier IPv4)
    # -- benign_partner_api (one account, partner-acme)
    "partner_interval_s": [0.2, 0.5],  # seconds between profile reads (2-5 a second)
    "partner_ips": 4,  # servers it calls from, in 198.51.100.0/28 (1-14)
    # -- benign_search_crawler (logged out, 66.249.64.0/27)
    "search_crawler_ips": 8,  # addresses (one labelled actor each, 1-32)
    "search_crawler_rate_per_s": 1.5,  # requests a second over all its addresses
    # -- scraper_new_account_crawler
    "crawler_interval_s": [1.0, 3.0],  # seconds between profile views
    "crawler_script_share": 0.5,  # scripts (API paths, python-requests) rather than a browser
    # -- scraper_enumerator_logged_out
    "enumerator_rate_per_s": 2.0,  # ids tried a second
    "enumerator_minutes": [20.0, 60.0],  # how long it runs
    "enumerator_fake_googlebot_share": 0.2,  # share claiming the Googlebot user agent
    # -- scraper_low_and_slow
    "low_and_slow_per_hour": 50.0,  # mean profile views an hour, around the clock
    "low_and_slow_hourly_cap": 58,  # never more than this in any sliding hour
    # -- scraper_botnet
    "botnet_size": 20,  # accounts per fleet
    "botnet_subnets": 3,  # shared /24 subnets per fleet
    "botnet_per_hour": 30.0,  # mean profile views an hour per account while under its caps
    "botnet_jitter": 0.5,  # intervals vary by +- this share of the mean
    "botnet_hourly_cap": 40,  # never more than this per account in any sliding hour ...
    "botnet_daily_cap": 300,  # ... or in any sliding day
    "botnet_ids_per_account": 2000,  # size of each member's block of ids
    # -- scraper_proxy_rotation
    "proxy_interval_s": [2.0, 4.0],  # seconds between profile views
    "proxy_requests_per_ip": [2, 6],  # requests per exit address before the next
    "proxy_minutes": [60.0, 240.0],  # how long it runs
    "proxy_account_age_days": [2.0, 10.0],  # account created this long before it starts
    # -- scraper_headless_browser
    "headless_think_median_s": 9.0,  # lognormal pause between profiles: median ...
    "headless_think_sigma": 0.35,  # ... and sigma of its log (about 5-15 s)
    "headless_ua_share": 0.5,  # share announcing HeadlessChrome (the rest: a desktop Chrome/Firefox)
    # -- scraper_search_harvester
    "harvester_interval_s": [0.5, 2.0],  # seconds between requests
    "harvester_pages_per_term": [5, 30],  # result pages it walks per search term
    "harvester_minutes": [30.0, 120.0],  # how long it runs
    "harvester_script_share": 0.5,  # python-requests rather than a browser user agent
    # -- scraper_hijacked_account
    "hijack_switch_at": [0.4, 0.6],  # when the attacker takes over, as a fraction of the window
    "hijack_interval_s": [1.0, 4.0],  # seconds between the attacker's profile views
    # -- trust tiers: the platform's own `account_tier` in the events
    "verified_share": 0.05,  # share of established benign accounts that are "verified" (the partner is "partner")
    "scraper_verified_share": 0.1,  # share of scrapers' aged accounts that are "verified" (bought or taken over)
    # -- benign_power_recruiter: heavy, legitimate, through search, over a working day (recruiter_shift_*)
    "power_recruiter_share": 0.002,  # share of accounts
    "power_recruiter_views_per_hour": [241.0, 390.0],  # each one's pace while working: profiles an hour
    "power_recruiter_session_min": [60.0, 120.0],  # length of a working session
    "power_recruiter_break_min": [5.0, 20.0],  # break between sessions
    "power_recruiter_verified_share": 0.5,  # share with the "verified" tier
    # -- benign_friend_finder: looks a few people up by phone number or e-mail address, then browses
    "friend_finder_share": 0.01,
    "friend_lookups": [1, 8],  # look-ups in one sitting
    "friend_lookup_found_share": [0.5, 0.9],  # share of them that find someone
    # -- benign_contact_importer: uploads an address book once, then views some of the matches
    "contact_importer_share": 0.005,
    "contact_import_matches": [5, 80],  # people on the platform found among the contacts (records disclosed)
    # -- scraper_distributed_crawl: logged out, over many residential addresses, each unremarkable
    "distributed_operations": 3,  # operations (crawls) in the window
    "distributed_addresses": [150, 300],  # addresses per operation
    "distributed_requests_per_address": [20, 60],  # profile requests each address makes (at most)
    "distributed_minutes": [60.0, 240.0],  # how long a (fast) operation runs
    "distributed_slow_share": 0.34,  # share of operations at a few requests an hour per address, all window long
    "distributed_slow_per_hour": [1.0, 2.0],  # requests an hour per address of a slow operation
    "distributed_subnets": [4, 12],  # residential /24s per operation
    "distributed_v6_share": [0.1, 0.3],  # share of an operation's addresses on IPv6
    "distributed_v6_nets": [1, 4],  # IPv6 /48s per operation
    "distributed_harvested_share": 0.5,  # share of operations that request only existing ids (else walk, 404s)
    "distributed_user_agents": [1, 6],  # ordinary browser user agents per operation (each address one)
    # -- scraper_account_fleet: accounts on home addresses, random targets, a little feed noise
    "account_fleets": 1,
    "account_fleet_size": [10, 16],  # accounts per fleet
    "account_fleet_per_hour": [20.0, 45.0],  # each account's mean profile views an hour
    "account_fleet_feed_share": [0.02, 0.08],  # share of its requests that are feed pages
    "account_fleet_age_days": [5.0, 60.0],  # accounts created this long before the window, spread out
    # -- scraper_lookup: mass look-ups of people by phone number (ranges) or e-mail address (lists)
    "lookup_scraper_share": 0.0004,
    "lookup_interval_s": [0.5, 3.0],  # seconds between look-ups
    "lookup_minutes": [30.0, 180.0],  # how long it runs
    "lookup_found_share": [0.1, 0.4],  # share of the identifiers tried that belong to a member
    "lookup_email_share": 0.3,  # share of them that use e-mail lists rather than phone number ranges
    "lookup_account_age_days": [1.0, 30.0],
    # -- scraper_account_pool (held-out only): many aged accounts taking turns on a few addresses
    "account_pools": 0,
    "account_pool_size": [30, 60],  # accounts per pool
    "account_pool_addresses": [1, 4],  # addresses the pool shares
    "account_pool_views_per_turn": [8, 25],  # profiles an account views in its turn
    "account_pool_interval_s": [2.0, 8.0],  # seconds between views
    # -- the platform
    "missing_id_share": 0.3,  # share of ids below the population that are deleted (404)
    "zipf_exponent": 1.1,  # popularity of profiles: Zipf-like with this exponent
}

SCENARIOS: dict[str, dict[str, Any]] = {
    # ~2 h, 250 accounts, every kind (a 10-account botnet): about 60k events, well under a second.
    "small": {
        **_DEFAULT,
        "hours": 2.0,
        "accounts": 250,
        "crawler_share": 0.005,
        "low_and_slow_share": 0.005,
        "enumerators_per_account": 0.005,
        "recruiter_share": 0.012,
        "nat_user_share": 0.1,
        "botnet_size": 10,
        "search_crawler_ips": 3,
        "search_crawler_rate_per_s": 0.5,
        "power_recruiter_share": 0.008,
        "friend_finder_share": 0.02,
        "contact_importer_share": 0.02,
        "distributed_operations": 2,
        "distributed_slow_share": 0.5,
        "account_fleet_size": [6, 8],
    },
    # A working day's morning, 5k accounts, every kind: ~1M events.
    "default": dict(_DEFAULT),
    # A full day, 50k accounts: tens of millions of events (benchmarks cut it with max_events).
    "large": {**_DEFAULT, "hours": 24.0, "accounts": 50_000, "logged_out_per_account": 0.4, "botnets": 3},
}

_PAIRS = {k for k, v in _DEFAULT.items() if isinstance(v, list)}
_SHARES = {k for k in _DEFAULT if k.endswith("_share")}


_INTS = {
    "accounts",
    "botnets",
    "min_per_scraper_kind",
    "nat_accounts_per_ip",
    "partner_ips",
    "search_crawler_ips",
    "low_and_slow_hourly_cap",
    "botnet_size",
    "botnet_subnets",
    "botnet_hourly_cap",
    "botnet_daily_cap",
    "botnet_ids_per_account",
    "onboarding_profiles",
    "recruiter_profiles_per_session",
    "proxy_requests_per_ip",
    "harvester_pages_per_term",
    "friend_lookups",
    "contact_import_matches",
    "distributed_operations",
    "distributed_addresses",
    "distributed_requests_per_address",
    "distributed_subnets",
    "distributed_v6_nets",
    "distributed_user_agents",
    "account_fleets",
    "account_fleet_size",
    "account_pools",
    "account_pool_size",
    "account_pool_addresses",
    "account_pool_views_per_turn",
}
_POSITIVE = (
    "hours",
    "accounts",
    "think_median_s",
    "pages_per_session",
    "enumerator_rate_per_s",
    "low_and_slow_per_hour",
    "low_and_slow_hourly_cap",
    "recruiter_shift_hours",
    "recruiter_think_s",
    "recruiter_break_min",
    "nat_accounts_per_ip",
    "partner_ips",
    "search_crawler_ips",
    "search_crawler_rate_per_s",
    "botnet_size",
    "botnet_subnets",
    "botnet_per_hour",
    "botnet_hourly_cap",
    "botnet_daily_cap",
    "botnet_ids_per_account",
    "headless_think_median_s",
)
_POSITIVE_HIGH = (
    "crawler_interval_s",
    "partner_interval_s",
    "proxy_interval_s",
    "proxy_requests_per_ip",
    "harvester_interval_s",
    "harvester_pages_per_term",
    "hijack_interval_s",
    "mobile_ip_change_min",
    "proxy_minutes",
    "harvester_minutes",
    "enumerator_minutes",
    "power_recruiter_views_per_hour",
    "power_recruiter_session_min",
    "power_recruiter_break_min",
    "distributed_minutes",
    "distributed_slow_per_hour",
    "account_fleet_per_hour",
    "lookup_interval_s",
    "lookup_minutes",
    "account_pool_interval_s",
)
_AT_LEAST_ONE = (
    "friend_lookups",
    "distributed_addresses",
    "distributed_requests_per_address",
    "distributed_subnets",
    "distributed_v6_nets",
    "distributed_user_agents",
    "account_fleet_size",
    "account_pool_size",
    "account_pool_addresses",
    "account_pool_views_per_turn",
)
_AT_MOST = {
    "partner_ips": 14,
    "search_crawler_ips": 32,
    "botnet_jitter": 0.99,
    "hijack_switch_at": 1.0,
    "recruiter_shift_start_utc": 24.0,
    "recruiter_shift_hours": 24.0,
    "diurnal_amplitude": 1.0,
    "diurnal_peak_utc_hour": 24.0,
    "distributed_subnets": 250,
    "distributed_v6_nets": 250,
    "distributed_user_agents": len(DESKTOP_UAS) + len(MOBILE_WEB_UAS),
    "account_pool_addresses": 64,
    "distributed_v6_share": 1.0,
    "friend_lookup_found_share": 1.0,
    "lookup_found_share": 1.0,
    "account_fleet_feed_share": 1.0,
}


def load_scenario(scenario: str | Path) -> dict[str, Any]:
    """Parameters of a built-in scenario, or of a JSON file overriding `default`.

    >>> load_scenario("small")["botnet_size"]
    10
    """
    if isinstance(scenario, str) and scenario in SCENARIOS:
        params = dict(SCENARIOS[scenario])
        check(params, scenario)
        return params
    path = Path(scenario)
    if not path.is_file():
        raise ValueError(
            f"scenario {str(scenario)!r} is neither a built-in ({', '.join(SCENARIOS)}) nor an existing JSON file"
        )
    try:
        override = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"scenario file {path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(override, dict):
        raise ValueError(f"scenario file {path}: expected a JSON object of parameters")
    params = {**_DEFAULT, **override}
    check(params, str(path))
    return params


def check(params: dict[str, Any], source: str) -> None:
    """Raise ValueError naming the key when a parameter is unknown or out of range.

    >>> check({**SCENARIOS["default"], "botnet_jitter": 2}, "x.json")
    Traceback (most recent call last):
    ...
    ValueError: scenario x.json: 'botnet_jitter' must be at most 0.99, got 2
    """
    for key, value in params.items():
        if key not in _DEFAULT:
            raise ValueError(f"scenario {source}: unknown key {key!r}; known keys: {', '.join(_DEFAULT)}")
        if key in _PAIRS:
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(_is_number(v) for v in value)
                and 0 <= value[0] <= value[1]
            )
            if not ok:
                raise ValueError(f"scenario {source}: {key!r} must be [low, high] with 0 <= low <= high, got {value!r}")
            values = value
        elif not _is_number(value) or value < 0:
            raise ValueError(f"scenario {source}: {key!r} must be a non-negative number, got {value!r}")
        elif key in _SHARES and value > 1:
            raise ValueError(f"scenario {source}: {key!r} is a share and must be in [0, 1], got {value!r}")
        else:
            values = [value]
        if key in _INTS and any(v != int(v) for v in values):
            raise ValueError(f"scenario {source}: {key!r} must be a whole number, got {value!r}")
        if key in _AT_MOST and max(values) > _AT_MOST[key]:
            raise ValueError(f"scenario {source}: {key!r} must be at most {_AT_MOST[key]}, got {value!r}")
    for key in _POSITIVE:
        if params[key] <= 0:
            raise ValueError(f"scenario {source}: {key!r} must be positive, got {params[key]!r}")
    for key in _POSITIVE_HIGH:
        if params[key][1] <= 0:
            raise ValueError(f"scenario {source}: {key!r} must allow a positive value, got {params[key]!r}")
    if params["proxy_requests_per_ip"][0] < 1:
        raise ValueError(f"scenario {source}: 'proxy_requests_per_ip' must start at 1 or more")
    for key in _AT_LEAST_ONE:
        if params[key][0] < 1:
            raise ValueError(f"scenario {source}: {key!r} must start at 1 or more, got {params[key]!r}")
    if params["botnet_subnets"] > params["botnet_size"]:
        raise ValueError(f"scenario {source}: 'botnet_subnets' must not exceed 'botnet_size'")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def group_sizes(params: dict[str, Any], seed: int) -> dict[str, list[int]]:
    """Members of each scraping group, drawn from the scenario's ranges for a seed: addresses per
    distributed crawl operation, accounts per account fleet and per account pool.

    >>> sizes = group_sizes(SCENARIOS["default"], 1)
    >>> len(sizes["scraper_distributed_crawl"]), all(150 <= n <= 300 for n in sizes["scraper_distributed_crawl"])
    (3, True)
    >>> sizes == group_sizes(SCENARIOS["default"], 1) != group_sizes(SCENARIOS["default"], 2)
    True
    """
    rng = Random(seed * 1_000_003 + 0x6A0B5)

    def draw(key: str, count: str) -> list[int]:
        lo, hi = (int(x) for x in params[key])
        return [lo + int(rng.random() * (hi - lo + 1)) for _ in range(int(params[count]))]

    return {
        "scraper_distributed_crawl": draw("distributed_addresses", "distributed_operations"),
        "scraper_account_fleet": draw("account_fleet_size", "account_fleets"),
        "scraper_account_pool": draw("account_pool_size", "account_pools"),
    }


def actor_counts(params: dict[str, Any], accounts: int, seed: int = 1) -> dict[str, int]:
    """How many actors of each kind a run with `accounts` accounts (and `seed`, for the group sizes) has.

    Every kind with a non-zero share has at least one actor, every scraper kind at least
    `min_per_scraper_kind` (the botnet: accounts), except the group kinds whose number of
    groups is 0 and the `HELD_OUT_KINDS` when off. benign_user takes the remaining accounts.

    >>> actor_counts(SCENARIOS["small"], 200)["scraper_low_and_slow"]
    1
    >>> actor_counts(SCENARIOS["default"], 5000)["scraper_botnet"]
    20
    """
    floor = int(params["min_per_scraper_kind"])
    groups = group_sizes(params, seed)

    def share(key: str, least: int = 1) -> int:
        return max(least if params[key] > 0 else 0, round(accounts * params[key]))

    counts = {
        "benign_new_user": share("new_user_share"),
        "benign_recruiter": share("recruiter_share"),
        "benign_nat_user": share("nat_user_share"),
        "benign_mobile_user": share("mobile_user_share"),
        "benign_partner_api": 1,
        "scraper_new_account_crawler": max(floor, share("crawler_share")),
        "scraper_low_and_slow": max(floor, share("low_and_slow_share")),
        "scraper_botnet": max(floor, int(params["botnets"]) * int(params["botnet_size"])),
        "scraper_proxy_rotation": max(floor, share("proxy_rotation_share")),
        "scraper_headless_browser": max(floor, share("headless_share")),
        "scraper_search_harvester": max(floor, share("harvester_share")),
        "scraper_hijacked_account": max(floor, share("hijacked_share")),
        "benign_power_recruiter": share("power_recruiter_share"),
        "benign_friend_finder": share("friend_finder_share"),
        "benign_contact_importer": share("contact_importer_share"),
        "scraper_account_fleet": sum(groups["scraper_account_fleet"]),
        "scraper_lookup": max(floor, share("lookup_scraper_share")) if params["lookup_scraper_share"] > 0 else 0,
        "scraper_account_pool": sum(groups["scraper_account_pool"]),
    }
    benign = accounts - sum(counts.values())
    if benign < 0:
        raise ValueError(
            f"accounts={accounts} is too few for the scenario's mix (needs at least {sum(counts.values())})"
        )
    counts["benign_user"] = benign
    counts["benign_logged_out"] = round(accounts * params["logged_out_per_account"])
    counts["benign_search_crawler"] = int(params["search_crawler_ips"])
    counts["scraper_enumerator_logged_out"] = max(floor, round(accounts * params["enumerators_per_account"]))
    counts["scraper_distributed_crawl"] = sum(groups["scraper_distributed_crawl"])
    return {k: counts[k] for k in KINDS}
