"""Search harvests: scrapers that collect people from pages of search results and open no profile.

    python benchmarks/bench_search_pages.py [--scenario default] [--seeds 1 2 3] [--out out/search-pages]

A page of search results lists people (the evaluation counts its `records`: 10 on a page, 20 on the API), so
paging through the results of common names and job titles collects them without a single profile view. No
scenario of the simulator holds such a scraper. For each seed this layers three kinds over the simulated traffic,
then runs `scrapeguard run` (the embedded Flink job) and `scrapeguard evaluate`:

- `scraper_search_pages`: aged accounts in a browser, each on its own address, paging at a steady pace with the
  previous page as referer; half load the site's assets first;
- `scraper_search_api`: aged accounts with a script client on `/api/v1/search`, no referer;
- `scraper_search_logged_out`: logged-out addresses paging in a browser.

Every count, pace and span is drawn per seed from a range. Prints per seed each kind's actors acted on and its
records disclosed before the first action, and the detector's macro recall and leak ratio.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from benchmarks.bench_previews import main
from detectors.events import format_ms, parse_timestamp

KINDS = ("scraper_search_pages", "scraper_search_api", "scraper_search_logged_out")
TERMS = (
    "anna", "john", "engineer", "nurse", "teacher", "maria", "sales", "london", "berlin", "manager", "designer",
    "wang", "garcia", "smith", "muller", "developer", "student", "lawyer", "doctor", "chen",
)  # fmt: skip
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
)
SITE = "https://social.example"


def harvests(events: Path, labels: dict[str, str], seed: int) -> list[tuple[int, dict]]:
    """The harvesters' requests for one seed (time in epoch ms, event); adds their actors to `labels`."""
    rng = random.Random(seed * 7919)
    first = last = 0
    with events.open("rb") as f:
        for line in f:
            last = parse_timestamp(json.loads(line)["ts"])
            first = first or last
    rows: list[tuple[int, dict]] = []

    def harvest(kind: str, i: int, api: bool, logged_in: bool) -> None:
        ip = f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        ua = f"python-requests/2.{rng.randint(25, 32)}.0" if api else rng.choice(BROWSERS)
        client = {"ip": ip, "method": "GET", "status": 200, "bytes": 30_000, "user_agent": ua}
        if logged_in:
            account = f"sp{seed}-{kind.rsplit('_', 1)[1]}-{i}"
            created = format_ms(first - rng.randint(30, 900) * 86_400_000)
            client.update(account_id=account, account_created_at=created)
        labels[f"account:{account}" if logged_in else f"ip:{ip}"] = kind
        span = int(rng.uniform(1, 4) * 3_600_000)
        t = first + rng.randrange(max(1, last - first - span))
        end = t + span
        lo, hi = rng.uniform(2, 6) * 1000, rng.uniform(8, 20) * 1000
        if not api and rng.random() < 0.5:
            rows.extend(
                (t, {**client, "path": a, "referer": f"{SITE}/"}) for a in ("/static/app.js", "/static/app.css")
            )
        previous = None
        while t < end:
            term = rng.choice(TERMS) + (str(rng.randint(1, 99)) if rng.random() < 0.5 else "")
            for page in range(1, rng.randint(5, 50) + 1):
                t += int(rng.uniform(lo, hi))
                if t >= end:
                    break
                path = f"/api/v1/search?q={term}&page={page}" if api else f"/search?q={term}&page={page}"
                e = {**client, "path": path, "records": 20 if api else 10}
                rows.append((t, {**e, "referer": previous} if previous and not api else e))
                previous = SITE + path

    for kind, api, logged_in in ((KINDS[0], False, True), (KINDS[1], True, True), (KINDS[2], False, False)):
        for i in range(rng.randint(3, 8)):
            harvest(kind, i, api, logged_in)
    return sorted((r for r in rows if r[0] < last), key=lambda r: r[0])


if __name__ == "__main__":
    sys.exit(main(__doc__, harvests, KINDS, "out/search-pages"))
