"""Verdicts as a review queue gives them: what they do to the verdict model, per benign kind.

    python benchmarks/bench_verdicts.py [--scenario default] [--seeds 1 2 3] [--dismiss 5] [--config FILE]
                                        [--out out/verdicts]

Analysts review what was flagged, so their verdicts are mostly confirms, and a campaign's come together. For
each seed this simulates the scenario and runs the plain-Python reference (`detectors.pipeline.detect`) twice:
without verdicts, then with a review queue's: every scraper account acted on is confirmed 15 minutes after its
first action, and the `--dismiss` benign accounts with the most requests that were not acted on are dismissed
(appeals), one a minute from 30 minutes into the traffic. Prints, per seed and run, the verdicts the model could
not learn (no features remembered), every benign kind's actors acted on (blocked), the accounts that a
`verdict_model` hit reached, and the detector's macro recall and leak ratio, from `scrapeguard evaluate` against
the simulator's labels.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from benchmarks.bench_quality import cli, evaluated
from benchmarks.reference import read_events
from detectors.config import load_config
from detectors.learner import Learner
from detectors.pipeline import detect
from detectors.policy import Decision
from detectors.verdicts import Verdict

M = 60_000


def queue(
    decisions: list[Decision], labels: dict[str, str], requests: Counter[str], start: int, dismiss: int
) -> list[Verdict]:
    """The review queue's verdicts (see module docstring)."""
    first: dict[str, int] = {}
    for d in decisions:
        if d.subject_type == "account" and d.action != "unblock":
            first.setdefault(d.subject, d.event_time)
    confirms = [Verdict(t + 15 * M, "account", s, "confirm") for s, t in first.items()
                if labels.get(f"account:{s}", "").startswith("scraper")]  # fmt: skip
    people = [s for s, _ in requests.most_common() if labels.get(f"account:{s}", "").startswith("benign")]
    appeals = [s for s in people if s not in first][:dismiss]
    return confirms + [Verdict(start + (30 + i) * M, "account", s, "dismiss") for i, s in enumerate(appeals)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="default", help="simulator scenario (default: default)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--dismiss", type=int, default=5, help="appeals dismissed (default: 5)")
    ap.add_argument("--config", help="detector configuration (default: the built-in one)")
    ap.add_argument("--out", type=Path, default=Path("out/verdicts"))
    args = ap.parse_args()
    config = load_config(args.config)
    print("| seed | verdicts | benign actors acted on (blocked), by kind | accounts a `verdict_model` hit reached "
          "| macro recall | leak ratio |\n|---|---|---|---|---|---|")  # fmt: skip
    for seed in args.seeds:
        folder = args.out / f"seed-{seed}"
        cli("simulate", "--out", str(folder), "--scenario", args.scenario, "--seed", str(seed), "--quiet")
        labels = json.loads((folder / "labels.json").read_text())
        events = read_events(folder / "events.jsonl", config)
        requests = Counter(e.account_id for e in events if e.account_id is not None)
        decisions = detect(events, config)
        verdicts = queue(decisions, labels, requests, min(e.ts for e in events), args.dismiss)
        for run, given in (("none", []), ("queue", verdicts)):
            learner = Learner(config)
            if given:
                decisions = detect(events, config, verdicts=given, learner=learner)
            path = folder / f"decisions-{run}.jsonl"
            path.write_bytes(b"".join(d.to_bytes() + b"\n" for d in decisions))
            acted, recall, leak = evaluated(folder / "events.jsonl", folder / "labels.json", path)
            model = {d.subject for d in decisions if "verdict_model" in d.reasons}
            reached = Counter(labels.get(f"account:{s}", "?").split("_")[0] for s in model)
            tally = Counter(v.verdict for v in given)
            print(
                f"| {seed} | {tally['confirm']} confirm, {tally['dismiss']} dismiss, {learner.unlearned} not learned "
                f"| {acted} | {reached['benign']} "
                f"benign, {reached['scraper']} scraper | {recall:.3f} | {leak:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
