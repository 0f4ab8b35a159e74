"""A simulated hour of traffic with a crafted crawler whose user agent and paths carry HTML, and the reference
detector's decisions on it: the review console's test data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from detectors.config import load_config
from detectors.events import format_ms, parse_line, parse_timestamp
from detectors.pipeline import detect
from simulator import generate

XSS_UA = "<img src=x onerror=alert(1)>"
XSS_PATH = "/search?q=<script>alert(2)</script>"
XSS_ACCOUNT = "z-probe"


@dataclass(frozen=True)
class Scenario:
    events: Path
    decisions: Path
    labels: dict[str, str]


def crafted_crawler(start_ms: int) -> list[dict]:
    """An aged account viewing a profile every 2 s for 5 minutes, with HTML in its user agent and one path."""
    base = {
        "ip": "10.250.0.7",
        "method": "GET",
        "status": 200,
        "account_id": XSS_ACCOUNT,
        "user_agent": XSS_UA,
        "account_created_at": format_ms(start_ms - 40 * 86_400_000),
    }
    events = [{**base, "ts": format_ms(start_ms + 2000 * i), "path": f"/u/{9000 + i}"} for i in range(150)]
    events.insert(0, {**base, "ts": format_ms(start_ms - 500), "path": XSS_PATH})  # first: always in the sample
    return events


def make(out: Path, seed: int = 7) -> Scenario:
    """Simulate one hour (`small`), add the crafted crawler half way, detect with the plain-Python reference."""
    generate(out, seed=seed, hours=1, scenario="small")
    lines = (out / "events.jsonl").read_text().splitlines()
    first = parse_timestamp(json.loads(lines[0])["ts"])
    extra = [json.dumps(e) for e in crafted_crawler(first + 30 * 60_000)]
    merged = sorted(lines + extra, key=lambda line: parse_timestamp(json.loads(line)["ts"]))
    events = out / "events-with-probe.jsonl"
    events.write_text("\n".join(merged) + "\n")
    decisions = out / "decisions.jsonl"
    with open(decisions, "wb") as f:
        for d in detect([parse_line(line) for line in merged], load_config()):
            f.write(d.to_bytes() + b"\n")
    labels = json.loads((out / "labels.json").read_text())
    labels[f"account:{XSS_ACCOUNT}"] = "scraper_crafted_probe"
    return Scenario(events, decisions, labels)
