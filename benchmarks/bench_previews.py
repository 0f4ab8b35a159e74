"""Link previews: legitimate clients that fetch profiles bare, from many addresses, as a spread crawl does.

    python benchmarks/bench_previews.py [--scenario default] [--seeds 1 2 3] [--out out/previews]

When someone shares a profile link, services fetch the page to show a preview: chat apps (Slack, Discord,
Telegram, Facebook's crawler for Messenger), and every fediverse server that shows the post, each from its
own address. Each fetch is one logged-out profile page, no referer, often no asset: the shape of one address
of a spread crawl. No scenario of the simulator holds them. For each seed this layers two kinds over the
simulated traffic, then runs `scrapeguard run` (the embedded Flink job) and `scrapeguard evaluate`:

- `benign_link_preview`: chat services, each with a pool of addresses in a few ranges and its own user
  agent, fetch a shared profile within seconds (one to three services per share);
- `benign_fediverse_preview`: tens to hundreds of servers, one address each, fetch it within a minute
  (`http.rb/... (Mastodon/...)`, no bot name).

Shared profiles are drawn by how often people view them. Every rate and size is drawn per seed from a range.
Prints per seed the share of each preview kind acted on, and the detector's macro recall and leak ratio.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.bench_quality import cli
from detectors.events import format_ms, parse_timestamp

CHAT = (
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "TelegramBot (like TwitterBot)",
)
KINDS = ("benign_link_preview", "benign_fediverse_preview")


def profile_views(events: Path) -> tuple[int, int, Counter[tuple[str, int]]]:
    """A simulated events file's first and last event time (epoch ms), and its accounts' views of `/u/<id>` by
    (path, status), in the order first seen."""
    seen: Counter[tuple[str, int]] = Counter()
    first = last = 0
    with events.open("rb") as f:
        for line in f:
            e = json.loads(line)
            last = parse_timestamp(e["ts"])
            first = first or last
            if e["path"].startswith("/u/") and e.get("account_id"):
                seen[e["path"], e["status"]] += 1
    return first, last, seen


def previews(events: Path, labels: dict[str, str], seed: int) -> list[tuple[int, dict]]:
    """The preview requests for one seed (time in epoch ms, event); adds their addresses to `labels`."""
    rng = random.Random(seed)
    first, last, seen = profile_views(events)
    viewed: dict[str, int] = {}
    for (path, _), n in seen.items():
        viewed[path] = viewed.get(path, 0) + n
    paths, weights = list(viewed), list(viewed.values())
    span = last - first - 120_000
    rows: list[tuple[int, dict]] = []

    def fetch(ts: int, ip: str, ua: str, path: str, kind: str, image: float) -> None:
        rows.append((ts, {"ip": ip, "method": "GET", "path": path, "status": 200, "user_agent": ua, "bytes": 40_000}))
        labels[f"ip:{ip}"] = kind
        if rng.random() < image:  # the preview's picture
            img = f"/static/img/{rng.randint(1, 5000)}.png"
            rows.append((ts + rng.randint(100, 2000), {"ip": ip, "method": "GET", "path": img, "status": 200,
                                                       "user_agent": ua, "bytes": 30_000}))  # fmt: skip

    def address(a: int) -> str:
        return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"

    pools = {}
    for ua in CHAT:
        ranges = [address(rng.randint(11, 223)).rsplit(".", 1)[0] for _ in range(rng.randint(1, 4))]
        pools[ua] = [f"{rng.choice(ranges)}.{rng.randint(1, 254)}" for _ in range(rng.randint(5, 80))]
    for _ in range(span * rng.randint(100, 400) // 3_600_000):
        t, path = first + rng.randrange(span), rng.choices(paths, weights)[0]
        for ua in rng.sample(CHAT, rng.randint(1, 3)):
            fetch(t + rng.randint(200, 3000), rng.choice(pools[ua]), ua, path, KINDS[0], 0.3)

    servers = [(address(rng.randint(11, 223)), f"http.rb/5.1.1 (Mastodon/4.{rng.randint(0, 3)}.{rng.randint(0, 9)}; "
                f"+https://server{i}.example/)") for i in range(rng.randint(1500, 4000))]  # fmt: skip
    for _ in range(int(span * rng.uniform(4, 20)) // 3_600_000):
        t, path = first + rng.randrange(span), rng.choices(paths, weights)[0]
        for ip, ua in rng.sample(servers, rng.randint(20, 300)):
            fetch(t + int(rng.expovariate(1 / 15_000)), ip, ua, path, KINDS[1], 0.5)
    return sorted((r for r in rows if r[0] < last), key=lambda r: r[0])


def merged(events: Path, extra: list[tuple[int, dict]]) -> Iterator[bytes]:
    """The simulated lines and the previews' lines, in event-time order."""
    lines = (json.dumps({"ts": format_ms(ts), **e}, separators=(",", ":")).encode() + b"\n" for ts, e in extra)
    with events.open("rb") as f:
        yield from heapq.merge(f, lines, key=lambda line: line[7:31])  # '{"ts":"' then the fixed-width time


Layer = Callable[[Path, dict[str, str], int], list[tuple[int, dict]]]
"""Requests to layer over one seed's simulated events (events file, labels to add their actors to, seed)."""


def run_seed(seed: int, scenario: str, out: Path, layer: Layer) -> dict:
    """Simulate, add the layer's requests, detect and evaluate one seed; returns the evaluation JSON."""
    folder = out / f"seed-{seed}"
    cli("simulate", "--out", str(folder / "sim"), "--scenario", scenario, "--seed", str(seed))
    labels = json.loads((folder / "sim" / "labels.json").read_text())
    extra = layer(folder / "sim" / "events.jsonl", labels, seed)
    events, decisions = folder / "events.jsonl", folder / "decisions.jsonl"
    with events.open("wb") as f:
        f.writelines(merged(folder / "sim" / "events.jsonl", extra))
    (folder / "labels.json").write_text(json.dumps(labels))
    cli("run", "--input", str(events), "--output", str(decisions))
    inputs = ["--events", str(events), "--labels", str(folder / "labels.json"), "--decisions", str(decisions)]
    return json.loads(cli("evaluate", "--json", *inputs))


def main(
    doc: str = __doc__, layer: Layer = previews, kinds: tuple[str, ...] = KINDS, out: str = "out/previews"
) -> None:
    """Per seed, a table row for each of `kinds` (its actors acted on; for a scraper kind, its records disclosed
    before the first action) and one for the detector's macro recall and leak ratio."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--scenario", default="default", help="simulator scenario (default: default)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, default=Path(out))
    args = ap.parse_args()
    print("| seed | kind | actors | acted on | share | blocked | records before 1st action |")
    print("|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        detector = run_seed(seed, args.scenario, args.out, layer)["engines"]["detector"]
        for kind in kinds:
            k = detector["kinds"].get(kind, {"actors": 0, "flagged": 0, "blocked": 0})
            share = k["flagged"] / k["actors"] if k["actors"] else 0.0
            before = k.get("records_before_first_action")
            leaked = f"{before['total']:,} of {k['records_disclosed']:,}" if before else "-"
            print(f"| {seed} | {kind} | {k['actors']:,} | {k['flagged']:,} | {share:.2%} | {k['blocked']} | {leaked} |")
        o = detector["overall"]
        print(f"| {seed} | overall | macro recall {o['macro_recall']:.3f} | leak ratio {o['leak_ratio']:.3f} | "
              f"benign flag rate {o['benign_flag_rate']:.3%} | | |", flush=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
