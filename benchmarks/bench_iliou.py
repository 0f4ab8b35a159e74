"""The detector on real labelled bots: the Iliou et al. web-bot sessions, read as they are.

    python benchmarks/bench_iliou.py [--data ../shared/data/realworld/iliou_web_bot_detection]
                                     [--config examples/iliou.toml] [--splits 5] [--share 0.2]

Reads the five phase-1 logs with `examples/iliou.toml` (the PHP session id is the actor, the article
pages count as profile views) and runs the plain-Python reference detector (`detectors.engine.detect`):

(a) with no labels: the labelled sessions acted on (any throttle, challenge or block), per label;
(b) the analyst-verdict path: for each of `--splits` random splits (seeds 1, 2, ...), analyst verdicts
    (`schemas/verdict.v1.json`: confirm for a bot, dismiss for a human, one minute after the session's last
    request) on a random `--share` of the labelled sessions, drawn per label; then, on the other sessions,
    recall on moderate and on advanced bots and the share of humans acted on; per split and the mean;
(c) Iliou et al.'s own published figure beside ours, with its source.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors.config import load_config  # noqa: E402
from detectors.engine import detect  # noqa: E402
from detectors.events import AccessEvent, BadEvent, LineReader  # noqa: E402
from detectors.verdicts import Verdict  # noqa: E402

LOGS = (
    "phase1/web_logs/humans/access_2.log",
    "phase1/web_logs/humans/access_3.log",
    "phase1/web_logs/humans/access_4.log",
    "phase1/web_logs/bots/access_moderate_bots.PREFIX_13900_lines.log",
    "phase1/web_logs/bots/access_advanced_bots.PREFIX_9900_lines.log",
)
LABELS = ("human", "moderate_bot", "advanced_bot")
FLAG = ("throttle", "challenge", "block")
PAPER = (
    "C. Iliou, T. Kostoulas, T. Tsikrika, V. Katos, S. Vrochidis, I. Kompatsiaris: Detection of advanced web "
    "bots by combining web logs with mouse behavioural biometrics. Digital Threats: Research and Practice 2(3), "
    "article 24, 2021. DOI 10.1145/3447815 (open access: eprints.bournemouth.ac.uk/36055)"
)
PAPER_FIGURE = (
    "not verified here. The dataset's README (dataset_README_original.txt under ../shared) states no result, "
    "and the stored public copies of the paper that could be searched hold its abstract only, which says "
    "qualitatively that combining web logs with mouse movements detects advanced bots better than either "
    "alone, with no figure. Its tables are in the open-access PDF, which could not be read from here; no "
    "number is quoted rather than one guessed. Note also that the paper trains a classifier on the "
    "annotations' train split and scores the test split, with mouse movements; this detector is online, "
    "sees web logs only, and has the analyst verdicts of (b) as its only labels."
)


def read_events(data: Path, config_path: Path) -> tuple[list[AccessEvent], int, int]:
    """All events of the phase-1 logs (each file read as `scrapeguard run` reads it); lines and rejected."""
    config = load_config(config_path)
    events, lines, rejected = [], 0, 0
    for name in LOGS:
        reader = LineReader.for_config(config)
        with open(data / name, encoding="utf-8", errors="replace") as f:
            for line in f:
                lines += 1
                try:
                    event = reader.feed(line)
                except BadEvent:
                    rejected += 1
                    continue
                if event is not None:
                    events.append(event)
    return events, lines, rejected


def read_labels(data: Path) -> dict[str, str]:
    """Session id -> label, from the phase-1 annotation files (two columns; some lack a final newline)."""
    labels: dict[str, str] = {}
    for path in sorted((data / "phase1/annotations").glob("*/*")):
        for row in path.read_text(encoding="utf-8").split("\n"):
            parts = row.split()
            if len(parts) == 2 and parts[1] in LABELS:
                labels[parts[0]] = parts[1]
    return labels


def flagged(decisions: list) -> set[str]:
    """Sessions (account subjects) with any throttle, challenge or block."""
    return {d.subject for d in decisions if d.subject_type == "account" and d.action in FLAG}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/realworld/iliou_web_bot_detection"))
    parser.add_argument("--config", default=str(ROOT / "examples/iliou.toml"))
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--share", type=float, default=0.2, help="share of the labelled sessions given verdicts")
    args = parser.parse_args()
    data, config_path = Path(args.data), Path(args.config)
    if not data.is_dir():
        sys.exit(f"bench_iliou: data {data}: not found (shared/data/realworld/iliou_web_bot_detection)")
    config = load_config(config_path)

    started = time.perf_counter()
    events, lines, rejected = read_events(data, config_path)
    last: dict[str, int] = {}
    for e in events:
        if e.account_id is not None:
            last[e.account_id] = max(last.get(e.account_id, e.ts), e.ts)
    labels = {s: label for s, label in read_labels(data).items() if s in last}  # the sessions in the logs
    by_label: dict[str, list[str]] = defaultdict(list)
    for s, label in sorted(labels.items()):
        by_label[label].append(s)
    print(f"Iliou et al. phase 1: {lines:,} lines, {len(events):,} events, {rejected} rejected; labelled sessions "
          "in the logs: " + ", ".join(f"{label} {len(by_label[label])}" for label in LABELS))  # fmt: skip

    t0 = time.perf_counter()
    acted = flagged(detect(events, config))
    seconds = time.perf_counter() - t0
    print(f"\n(a) no labels (reference detector, {seconds:.1f} s)\n")
    print("| label | sessions | acted on | share |\n|---|---|---|---|")
    for label in LABELS:
        n, k = len(by_label[label]), sum(s in acted for s in by_label[label])
        print(f"| {label} | {n} | {k} | {k / n:.1%} |")
    others = Counter(d for d in acted if d not in labels)
    print(f"\nunlabelled sessions acted on: {len(others)}")

    print(f"\n(b) analyst verdicts on {args.share:.0%} of the labelled sessions (per label), "
          f"scored on the other {1 - args.share:.0%}\n")  # fmt: skip
    print("| split (seed) | verdicts (confirm / dismiss) | analyst blocks | recall moderate | recall advanced | "
          "humans acted on |\n|---|---|---|---|---|---|")  # fmt: skip
    rows = []
    for seed in range(1, args.splits + 1):
        rng = random.Random(seed)
        given: set[str] = set()
        for label in LABELS:
            sessions = by_label[label]
            given |= set(rng.sample(sessions, round(len(sessions) * args.share)))
        verdicts = [
            Verdict(last[s] + 60_000, "account", s, "dismiss" if labels[s] == "human" else "confirm")
            for s in sorted(given)
        ]
        decisions = detect(events, config, verdicts=verdicts)
        acted = flagged(decisions)
        confirmed = sum("analyst_confirmed" in d.reasons for d in decisions)  # the verdicts took effect
        held = {label: [s for s in by_label[label] if s not in given] for label in LABELS}
        recall = {label: sum(s in acted for s in held[label]) / len(held[label]) for label in LABELS}
        rows.append(recall)
        confirms = sum(v.verdict == "confirm" for v in verdicts)
        print(f"| {seed} | {confirms} / {len(verdicts) - confirms} | {confirmed} | {recall['moderate_bot']:.3f} "
              f"({len(held['moderate_bot'])}) | {recall['advanced_bot']:.3f} ({len(held['advanced_bot'])}) | "
              f"{recall['human']:.1%} ({len(held['human'])}) |")  # fmt: skip
    mean = {label: statistics.fmean(r[label] for r in rows) for label in LABELS}
    print(f"| mean | | | {mean['moderate_bot']:.3f} | {mean['advanced_bot']:.3f} | {mean['human']:.1%} |")

    print(f"\n(c) Iliou et al.'s own figure: {PAPER_FIGURE}\n    source: {PAPER}")
    print(f"\n{time.perf_counter() - started:.1f} s in all")


if __name__ == "__main__":
    main()
