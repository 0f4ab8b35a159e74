"""Writes the `input.*` files of the golden cases (run once; the files are committed).

    python tests/golden/make_inputs.py              # every case's input
    python tests/golden/make_inputs.py --expected   # ... and expected.jsonl from the reference, for review

Each case folder also holds `case.md` (what it shows) and `expected.jsonl` (the
decisions, without the wall-clock `emitted_at`), reviewed by hand: `--expected` writes
what the plain-Python reference decides now; read the diff against case.md before
committing it.

Every case has its own random generator (seeded by the case name), so changing one case
leaves the other inputs byte for byte the same.

People and the scrapers that imitate them use real browsers here: each profile page is
followed by the load of its photo (`/static/img/...`, with the page as referer), and
views are opened from search results or the feed (`referer`) unless said otherwise. A
page without its assets or referers is itself a sign of automation (behaviour rule
`browser_without_assets`), which the rate-limit cases keep out of the way.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import orjson

from detectors.events import format_ms

HERE = Path(__file__).parent
T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
SITE = "https://social.example"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SEARCHES = ("data+engineer", "product+manager", "nurse+berlin", "sales+director", "rust+developer")


def event(
    ts: int,
    ip: str,
    path: str,
    account: str | None = None,
    created: int | None = None,
    status: int = 200,
    referer: str | None = None,
    tier: str | None = None,
) -> dict:
    e: dict = {"ts": format_ms(ts), "ip": ip, "method": "GET", "path": path, "status": status}
    if account is not None:
        e["account_id"] = account
    if created is not None:
        e["account_created_at"] = format_ms(created)
    if tier is not None:
        e["account_tier"] = tier
    if referer is not None:
        e["referer"] = referer
    e["user_agent"] = FIREFOX
    return e


def views(
    account: str | None,
    ip: str,
    start: int,
    n: int,
    every: int,
    rng: random.Random,
    created: int | None = None,
    via: str | None = None,
) -> Iterator[dict]:
    """`n` views of random profiles, one every `every` ms (plus up to a quarter of it), each followed by
    its photo. `via`: None, every view typed or followed from outside (no referer); "feed", four in five
    opened from the feed; "search", four in five opened from search results (a new search every 8 views)."""
    results = None
    for i in range(n):
        ts = start + i * every + rng.randrange(every // 4 + 1)
        referer = None
        if via == "search":
            if i % 8 == 0:
                results = f"/search?q={rng.choice(SEARCHES)}"
                yield event(ts - 1500 - rng.randrange(1000), ip, results, account, created, referer=f"{SITE}/feed")
            if rng.random() < 0.8:
                referer = f"{SITE}{results}"
        elif via == "feed" and rng.random() < 0.8:
            referer = f"{SITE}/feed"
        page = f"/u/{rng.randrange(1, 90_000)}"
        yield event(ts, ip, page, account, created, referer=referer)
        yield photo(ts, ip, page, account, created, rng)


def photo(ts: int, ip: str, page: str, account: str | None, created: int | None, rng: random.Random) -> dict:
    """The profile photo a browser loads right after the page."""
    asset = f"/static/img/{rng.randrange(5000)}.png"
    return event(ts + 40 + rng.randrange(300), ip, asset, account, created, referer=f"{SITE}{page}")


def write(case: str, events: list[dict], name: str = "input.jsonl") -> None:
    events.sort(key=lambda e: e["ts"])
    folder = HERE / case
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def rng_for(case: str) -> random.Random:
    return random.Random(f"golden/{case}")


def main() -> None:
    # A brand-new account crawls random profiles every ~4 s (15 a minute, under the 20-a-minute limit)
    # for 40 minutes, straight to each profile, in a real browser.
    rng = rng_for("new_account_crawler")
    write("new_account_crawler", list(views("fresh42", "203.0.113.10", T0 + 3 * MIN, 600, 4000, rng, created=T0)))
    # The same crawler without account_created_at: its age counts from first sight (a login).
    rng = rng_for("new_account_first_seen")
    write(
        "new_account_first_seen",
        [event(T0, "203.0.113.11", "/login", "anon7"), *views("anon7", "203.0.113.11", T0 + MIN, 80, 4000, rng)],
    )
    # An account created 20 days ago (past the new-account limits, short of the `human` tier's 30 days)
    # views 260 profiles from search results within one hour: over the standard hourly limit of 240.
    rng = rng_for("aged_account_hourly_limit")
    write(
        "aged_account_hourly_limit",
        list(views("veteran", "198.51.100.20", T0, 260, 13_000, rng, created=T0 - 20 * DAY, via="search")),
    )
    # An account of the standard tier stays at 200 views per hour (under 240/h) for 10.7 hours: over 2,000 per day.
    rng = rng_for("aged_account_daily_limit")
    write(
        "aged_account_daily_limit",
        list(views("steady", "198.51.100.21", T0, 2150, 18_000, rng, created=T0 - 20 * DAY, via="search")),
    )
    # Trust tiers: three heavy accounts from search results with their photos. Created last year, 260 views in
    # an hour (human tier: quota 600) and 650 (over it); verified by the platform, 20 days old, 260 views.
    rng = rng_for("tiered_hourly_limit")
    tiered = [
        *views("sourcer", "198.51.100.30", T0, 260, 13_000, rng, created=T0 - 400 * DAY, via="search"),
        *views("sprinter", "198.51.100.31", T0, 650, 5_000, rng, created=T0 - 400 * DAY, via="search"),
    ]
    tiered += [
        {**e, "account_tier": "verified"}
        for e in views("checked", "198.51.100.32", T0, 260, 13_000, rng, created=T0 - 20 * DAY, via="search")
    ]
    write("tiered_hourly_limit", tiered)
    # A logged-out crawl spread over 30 residential addresses in 30 networks: in round k (every 2 minutes)
    # address j views id 5000 + 30k + j, straight (no referer), no assets: 8 views each, under every
    # per-address limit, while five people browse logged out (from a search engine, with photos).
    crawl = [event(T0 + k * 2 * MIN + j * 1900, f"100.{70 + j}.{j * 7 % 250}.{11 + j}", f"/u/{5000 + 30 * k + j}")
             for k in range(8) for j in range(30)]  # fmt: skip
    rng = rng_for("address_fleet")
    for v in range(5):
        crawl += views(None, f"100.64.20.{v}", T0 + v * 37_000, 6, 50_000, rng, via="search")
    write("address_fleet", crawl)
    # The same kind of crawl from rented hosting ranges (its own config.toml turns range scope on): 12 addresses
    # in 100.80.1.0/24, 12 in 100.80.2.0/24 (half of it allowlisted, 100.80.2.128/25), 2 in 100.80.3.0/24 and
    # 4 scattered; in round k address j views id 5000 + 30k + j. Two people browse logged out from 100.80.1.0/24.
    hosts = [f"100.80.1.{10 + j}" for j in range(12)] + [f"100.80.2.{10 + 20 * j}" for j in range(12)]
    hosts += ["100.80.3.7", "100.80.3.8"] + [f"100.{90 + j}.{j * 7}.11" for j in range(4)]
    crawl = [event(T0 + k * 2 * MIN + j * 1900, ip, f"/u/{5000 + 30 * k + j}")
             for k in range(8) for j, ip in enumerate(hosts)]  # fmt: skip
    rng = rng_for("address_fleet_range")
    for v in range(2):
        crawl += views(None, f"100.80.1.{200 + v}", T0 + v * 37_000, 6, 50_000, rng, via="search")
    write("address_fleet_range", crawl)
    # A surge of logged-out profile views (its own config.toml turns the surge layer on): 12 people browse logged out
    # for an hour, about 7 views a minute together, from search results with their photos; from minute 40, 60 more
    # addresses in 60 networks join for 15 minutes, each as a person would (search, photos, random ids, 2 views a
    # minute: 30 each, under every per-address limit, and no fleet of bare addresses): the platform's total is what
    # gives them away. Before it, from minute 31, Googlebot (from its published range, allowlisted by default) reads
    # 250 profiles a minute for 4 minutes, under its quota: a declared client, not the platform's visitors.
    rng = rng_for("logged_out_surge")
    surge = [e for v in range(12) for e in views(None, f"100.64.30.{v}", T0 + v * 4000, 35, 100_000, rng, via="search")]
    surge += [
        e
        for j in range(60)
        for e in views(None, f"100.{100 + j}.{j * 3}.21", T0 + 40 * MIN + j * 900, 30, 30_000, rng, via="search")
    ]
    surge += [
        {**event(T0 + 31 * MIN + i * 240, f"66.249.66.{1 + i % 3}", f"/u/{20_000 + i}"), "user_agent": GOOGLEBOT}
        for i in range(1000)
    ]
    write("logged_out_surge", surge)
    # Search result pages only (each lists people): an aged account in a real browser pages through the results of
    # one term after another, a page every ~15 s, and opens none of the people listed; a logged-out address does
    # the same. A recruiter pages as fast from search but opens two of the people listed on every page.
    rng = rng_for("search_harvest")
    harvest, pages = [], [f"/search?q={term}&page={n}" for term in SEARCHES for n in range(1, 13)]
    for who, ip, start in (("lister", "198.51.100.40", T0), (None, "100.64.40.7", T0 + 7 * MIN)):
        created = T0 - 200 * DAY if who else None
        harvest += [photo(start - 2000, ip, "/feed", who, created, rng)]
        for i, page in enumerate(pages[:45]):
            referer = f"{SITE}{pages[i - 1]}" if i else f"{SITE}/feed"
            harvest.append(event(start + i * 15_000 + rng.randrange(3000), ip, page, who, created, referer=referer))
    for i, page in enumerate(pages[:40]):
        ts = T0 + i * 15_000
        harvest.append(event(ts, "198.51.100.41", page, "hunter", T0 - 300 * DAY, referer=f"{SITE}/feed"))
        for k in range(2):
            profile = f"/u/{rng.randrange(1, 90_000)}"
            harvest.append(event(ts + 4000 + k * 4000, "198.51.100.41", profile, "hunter", T0 - 300 * DAY,
                                 referer=f"{SITE}{page}"))  # fmt: skip
            harvest.append(photo(ts + 4000 + k * 4000, "198.51.100.41", profile, "hunter", T0 - 300 * DAY, rng))
    write("search_harvest", harvest)
    # Profiles reached from lists of people. An admin (aged account) looks through 120 of a group's members, a
    # profile every ~6 s with the members page as referer and each photo loaded. A walker (aged account) crawls
    # followers lists for 90 minutes: a profile every ~12 s with the followers page as referer, the site's assets
    # loaded once, no photo.
    rng = rng_for("list_walk")
    admin, walker, aged = "198.51.100.50", "198.51.100.51", T0 - 400 * DAY
    walk = [photo(T0 + 20 * MIN - 1000, admin, "/groups/77", "admin", aged, rng)]
    for i in range(120):
        ts, profile = T0 + 20 * MIN + i * 6000 + rng.randrange(2000), f"/u/{rng.randrange(1, 90_000)}"
        listing = f"{SITE}/groups/77/members?page={i // 20 + 1}"
        walk.append(event(ts, admin, profile, "admin", aged, referer=listing))
        walk.append(photo(ts, admin, profile, "admin", aged, rng))
    walk.append(photo(T0 - 1000, walker, "/feed", "walker", aged, rng))
    followers = ""
    for i in range(450):
        followers = f"{SITE}/u/{rng.randrange(1, 90_000)}/followers" if i % 15 == 0 else followers
        ts = T0 + i * 12_000 + rng.randrange(3000)
        walk.append(event(ts, walker, f"/u/{rng.randrange(1, 90_000)}", "walker", aged, referer=followers))
    write("list_walk", walk)
    # Logged out, under the address's limits, on scattered ids: a script client (python-httpx) views a profile
    # every 2 s for 5 minutes; a browser with no asset and no referer one every 40 s for an hour; a feed reader
    # polls 40 people's feeds (/u/<id>.rss) every 15 minutes; a person views 6 profiles with their photos.
    rng = rng_for("logged_out_clients")
    quiet: list[dict] = []
    for i in range(150):
        quiet.append({**event(T0 + i * 2000, "100.64.50.1", f"/u/{rng.randrange(1, 90_000)}"),
                      "user_agent": "python-httpx/0.27.0"})  # fmt: skip
    quiet += [event(T0 + i * 40_000, "100.64.50.2", f"/u/{rng.randrange(1, 90_000)}") for i in range(90)]
    feeds = [rng.randrange(1, 90_000) for _ in range(40)]
    for i in range(240):
        ts = T0 + (i // 40) * 15 * MIN + (i % 40) * 1500
        reader = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers)"
        quiet.append({**event(ts, "100.64.50.3", f"/u/{feeds[i % 40]}.rss"), "user_agent": reader})
    for i in range(6):
        page = f"/u/{rng.randrange(1, 90_000)}"
        quiet.append(event(T0 + i * 30_000, "100.64.50.4", page, referer=f"{SITE}/"))
        quiet.append(photo(T0 + i * 30_000, "100.64.50.4", page, None, None, rng))
    write("logged_out_clients", quiet)
    # A logged-out IP walks profile ids in order, two per second, for 6 minutes (many 404s); no browser.
    write(
        "logged_out_enumerator",
        [event(T0 + i * 500, "192.0.2.66", f"/u/{1000 + i}", status=404 if i % 3 else 200) for i in range(720)],
    )
    # People, none over a limit: an onboarding new user (40 suggested profiles from the feed in 10
    # minutes), a user who views their own profile 200 times, 30 colleagues behind one corporate NAT
    # IP (from search results), a logged-out visitor.
    rng = rng_for("benign_mix")
    benign = list(views("newbie", "100.64.1.2", T0 + MIN, 40, 15_000, rng, created=T0, via="feed"))
    for i in range(200):
        ts = T0 + i * 10_000
        benign += [event(ts, "100.64.1.3", "/u/selfie", "selfie", T0 - 30 * DAY)]
        benign += [photo(ts, "100.64.1.3", "/u/selfie", "selfie", T0 - 30 * DAY, rng)]
    for k in range(30):
        benign += views(
            f"colleague{k}", "198.51.100.99", T0 + k * 1000, 40, 60_000, rng, created=T0 - 90 * DAY, via="search"
        )
    benign += [event(T0 + i * 20_000, "100.64.9.9", p) for i, p in enumerate(["/", "/u/5", "/search?q=x", "/u/6"])]
    write("benign_mix", benign)
    # The new-account crawler again, but the log arrives out of order (each line up to 10 s early or late).
    rng = rng_for("out_of_order")
    crawl = sorted(views("jumbled", "203.0.113.12", T0 + 3 * MIN, 200, 4000, rng, created=T0), key=lambda e: e["ts"])
    arrival = sorted(((_ms(e["ts"]) + rng.randrange(-10_000, 10_000), i) for i, e in enumerate(crawl)))
    folder = HERE / "out_of_order"
    folder.mkdir(exist_ok=True)
    (folder / "input.jsonl").write_bytes(b"".join(orjson.dumps(crawl[i]) + b"\n" for _, i in arrival))
    write_combined_log(rng_for("combined_log"))


def write_combined_log(rng: random.Random) -> None:
    """An nginx combined log: the remote user is the account; a busy account and a logged-out enumerator.

    `combo` signed in the day before (its first line), so counted from first sight it is not a new
    account; today it opens a profile from search results every ~14 s in a browser."""
    ua = f'"{FIREFOX}"'
    ip = "198.51.100.70"
    day_before = T0 - 25 * HOUR
    lines = [(day_before, f'{ip} - combo [{_clf_time(day_before)}] "GET /login HTTP/1.1" 200 9120 "-" {ua}')]
    results = "/search?q=data+engineer"
    for i in range(260):
        ts = T0 + i * 14_000 + rng.randrange(3000)
        if i % 8 == 0:
            results = f"/search?q={rng.choice(SEARCHES)}"
            t = ts - 1500 - rng.randrange(1000)
            lines.append((t, f'{ip} - combo [{_clf_time(t)}] "GET {results} HTTP/1.1" 200 5120 "{SITE}/feed" {ua}'))
        page = f"/profile/{rng.randrange(1, 90_000)}"
        ref = f"{SITE}{results}" if rng.random() < 0.8 else "-"
        lines.append((ts, f'{ip} - combo [{_clf_time(ts)}] "GET {page} HTTP/1.1" 200 2326 "{ref}" {ua}'))
        t = ts + 40 + rng.randrange(300)
        asset = f"/static/img/{rng.randrange(5000)}.png"
        lines.append((t, f'{ip} - combo [{_clf_time(t)}] "GET {asset} HTTP/1.1" 200 31337 "{SITE}{page}" {ua}'))
    for i in range(70):
        ts = T0 + 10 * MIN + i * 700
        lines.append(
            (
                ts,
                f'203.0.113.99 - - [{_clf_time(ts)}] "GET /api/v1/users/{5000 + i}?fields=bio HTTP/1.1" 404 12 '
                '"-" "curl/8.5.0"',
            )
        )
    lines.sort()
    folder = HERE / "combined_log"
    folder.mkdir(exist_ok=True)
    (folder / "input.log").write_text("".join(line + "\n" for _, line in lines))


def _ms(stamp: str) -> int:
    from detectors.events import parse_timestamp

    return parse_timestamp(stamp)


def _clf_time(ts: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def write_expected() -> None:
    """Every case's expected.jsonl from the plain-Python reference (in the test's order)."""
    sys.path.insert(0, str(HERE.parents[1]))
    from tests.conftest import reference

    for folder in sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith("__")):
        config = folder / "config.toml"
        decisions = reference(sorted(folder.glob("input.*")), config if config.exists() else None)
        (folder / "expected.jsonl").write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in decisions))


if __name__ == "__main__":
    main()
    if "--expected" in sys.argv[1:]:
        write_expected()
