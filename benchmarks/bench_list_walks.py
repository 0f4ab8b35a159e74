"""List-led walks and logged-out clients: two kinds of scraper and two of legitimate client that no scenario holds.

    python benchmarks/bench_list_walks.py [--scenario default] [--seeds 1 2 3] [--out out/list-walks]

For each seed this layers four kinds over the simulated traffic, then runs `scrapeguard run` (the embedded Flink
job) and `scrapeguard evaluate`:

- `scraper_graph_walker`: aged accounts crawling the social graph in a browser: a profile, pages of its followers
  list (`/u/<id>/followers?page=N`), then the followers' profiles with that page as referer; the site's assets once;
  a request every 3-20 s for 1-5 h, with or without breaks;
- `scraper_change_monitor`: a watch list of 100-500 people fetched again every 30-120 min all window long, a request
  every 0.5-3 s in a round; half logged in (aged accounts), half logged out; half a script client;
- `benign_feed_reader`: logged-out feed readers (their own user agents) polling 5-60 people's `/u/<id>.rss` every
  15-60 min from one address, all window long;
- `benign_group_admin`: aged accounts that open a group's member list once or twice and look through 30-150 members'
  profiles at 2-10 s each, with the list as referer and each photo loaded.

Every count, pace and span is drawn per seed from a range. Prints per seed each kind's actors acted on and, for the
scrapers, the records disclosed before the first action, and the detector's macro recall and leak ratio.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from benchmarks.bench_previews import main, profile_views
from benchmarks.bench_search_pages import BROWSERS, SITE
from detectors.events import format_ms

KINDS = ("scraper_graph_walker", "scraper_change_monitor", "benign_feed_reader", "benign_group_admin")
READERS = (
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {n} subscribers)",
    "NetNewsWire (RSS Reader; https://netnewswire.com/)",
    "Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; {n} subscribers)",
    "Miniflux/2.0.{n} (https://miniflux.app)",
    "FreshRSS/1.2{n} (Linux; https://freshrss.org)",
)
SCRIPTS = ("python-httpx/0.2{n}.0", "Go-http-client/1.1", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)")


def ip(rng: random.Random) -> str:
    """A random public-looking IPv4 address."""
    return f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def walks(events: Path, labels: dict[str, str], seed: int) -> list[tuple[int, dict]]:
    """The four kinds' requests for one seed (time in epoch ms, event); adds their actors to `labels`."""
    rng = random.Random(seed * 104729)
    first, last, seen = profile_views(events)
    viewed = {path[3:]: n for (path, status), n in seen.items() if status == 200}
    people, weights = list(viewed), list(viewed.values())
    rows: list[tuple[int, dict]] = []

    def account(kind: str, i: int, client: dict) -> dict:
        a = f"lw{seed}-{kind.split('_', 1)[1]}-{i}"
        created = format_ms(first - rng.randint(30, 1500) * 86_400_000)
        labels[f"account:{a}"] = kind
        return {**client, "account_id": a, "account_created_at": created}

    def assets(t: int, c: dict) -> None:
        for a in ("/static/app.js", "/static/app.css", "/static/logo.svg"):
            rows.append((t + rng.randint(50, 900), {**c, "path": a, "referer": f"{SITE}/", "bytes": 20_000}))

    # graph walkers
    for i in range(rng.randint(4, 10)):
        c = account(KINDS[0], i, {"ip": ip(rng), "method": "GET", "status": 200, "user_agent": rng.choice(BROWSERS)})
        span = int(rng.uniform(1, 5) * 3_600_000)
        t = first + rng.randrange(max(1, last - first - span))
        end, lo, hi = t + span, rng.uniform(3, 8) * 1000, rng.uniform(9, 20) * 1000
        breaks = rng.random() < 0.5
        next_break = t + rng.randint(30, 90) * 60_000
        assets(t, c)
        frontier = [rng.choice(people)]
        while t < end and frontier:
            person = frontier.pop(0)
            t += int(rng.uniform(lo, hi))
            rows.append((t, {**c, "path": f"/u/{person}", "bytes": 35_000}))
            page_path = f"/u/{person}/followers"
            for page in range(1, rng.randint(1, 5) + 1):
                t += int(rng.uniform(lo, hi))
                rows.append((t, {**c, "path": f"{page_path}?page={page}", "referer": f"{SITE}/u/{person}",
                                 "bytes": 25_000}))  # fmt: skip
                for follower in rng.sample(people, rng.randint(5, 20)):
                    t += int(rng.uniform(lo, hi))
                    if breaks and t > next_break:
                        t += rng.randint(5, 20) * 60_000
                        next_break = t + rng.randint(30, 90) * 60_000
                    rows.append((t, {**c, "path": f"/u/{follower}", "referer": f"{SITE}{page_path}?page={page}",
                                     "bytes": 35_000}))  # fmt: skip
                    if len(frontier) < 50:
                        frontier.append(follower)

    # change monitors
    for i in range(rng.randint(4, 10)):
        script = rng.random() < 0.5
        ua = rng.choice(SCRIPTS).format(n=rng.randint(0, 9)) if script else rng.choice(BROWSERS)
        c = {"ip": ip(rng), "method": "GET", "status": 200, "user_agent": ua}
        if rng.random() < 0.5:
            c = account(KINDS[1], i, c)
        else:
            labels[f"ip:{c['ip']}"] = KINDS[1]
        watch = rng.sample(people, rng.randint(100, 500))
        cycle, lo, hi = rng.randint(30, 120) * 60_000, rng.uniform(0.5, 1.5) * 1000, rng.uniform(1.5, 3) * 1000
        start = first + rng.randrange(cycle)
        while start < last:
            t = start
            for person in watch:
                t += int(rng.uniform(lo, hi))
                rows.append((t, {**c, "path": f"/u/{person}", "bytes": 35_000}))
            start += cycle

    # feed readers
    for _ in range(rng.randint(20, 60)):
        ua = rng.choice(READERS).format(n=rng.randint(1, 40))
        c = {"ip": ip(rng), "method": "GET", "status": 200, "user_agent": ua, "bytes": 12_000}
        labels[f"ip:{c['ip']}"] = KINDS[2]
        feeds = dict.fromkeys(rng.choices(people, weights, k=rng.randint(5, 60)))  # in order drawn
        interval = rng.randint(15, 60) * 60_000
        for person in feeds:
            t = first + rng.randrange(interval)
            while t < last:
                rows.append((t, {**c, "path": f"/u/{person}.rss"}))
                t += interval + rng.randint(-30_000, 30_000)

    # group admins
    for i in range(rng.randint(20, 50)):
        c = account(KINDS[3], i, {"ip": ip(rng), "method": "GET", "status": 200, "user_agent": rng.choice(BROWSERS)})
        group = rng.randint(1, 20_000)
        for _ in range(rng.randint(1, 2)):
            t = first + rng.randrange(last - first - 3_600_000)
            assets(t, c)
            members = rng.sample(people, rng.randint(30, 150))
            for n, person in enumerate(members):
                if n % 20 == 0:
                    t += rng.randint(2_000, 8_000)
                    listing = f"/groups/{group}/members?page={n // 20 + 1}"
                    rows.append((t, {**c, "path": listing, "referer": f"{SITE}/groups/{group}", "bytes": 30_000}))
                t += rng.randint(2_000, 10_000)
                rows.append((t, {**c, "path": f"/u/{person}", "referer": SITE + listing, "bytes": 35_000}))
                rows.append((t + rng.randint(100, 600), {**c, "path": f"/static/avatars/{person}.jpg",
                                                         "referer": f"{SITE}/u/{person}", "bytes": 9_000}))  # fmt: skip
    return sorted((r for r in rows if r[0] < last), key=lambda r: r[0])


if __name__ == "__main__":
    sys.exit(main(__doc__, walks, KINDS, "out/list-walks"))
