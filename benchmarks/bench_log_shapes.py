"""Logs that hold less: the same simulated traffic as a platform whose logs carry no assets or no referers.

    python benchmarks/bench_log_shapes.py [--scenario default] [--seeds 1 2 3] [--engine job|reference]
                                          [--out out/log-shapes]

Many platforms serve their pages' assets from a CDN that logs elsewhere, or log in a format without the
referer. Their people then look like clients that load no assets, or that reach every profile from nowhere.
For each seed this simulates the scenario once and writes it four ways: as simulated; `cdn`, without the
asset requests; `noref`, without referers; `both`. Each runs through `scrapeguard run` (the embedded Flink
job; `--engine reference`: the plain-Python reference, `detectors.pipeline.detect`, which gives the same
decisions) and `scrapeguard evaluate` against the same labels. Prints, per seed and shape, every benign
kind's actors acted on and blocked, and the detector's macro recall and leak ratio.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from benchmarks.bench_quality import cli, evaluated
from benchmarks.reference import write_decisions
from detectors.config import load_config

SHAPES = ("simulated", "cdn", "noref", "both")


def reshaped(src: Path, dst: Path, shape: str) -> None:
    """`src` as a platform with logs of `shape` would hold it."""
    routes = load_config().routes
    with src.open("rb") as f, dst.open("wb") as g:
        for line in f:
            e = orjson.loads(line)
            if shape in ("cdn", "both") and routes.classify(e["path"].split("?")[0])[0] == "static":
                continue
            if shape in ("noref", "both"):
                e.pop("referer", None)
            g.write(orjson.dumps(e) + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="default", help="simulator scenario (default: default)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--engine", choices=("job", "reference"), default="job")
    ap.add_argument("--out", type=Path, default=Path("out/log-shapes"))
    args = ap.parse_args()
    print("| seed | logs | benign actors acted on (blocked), by kind; every other benign kind: none | macro recall "
          "| leak ratio |\n|---|---|---|---|---|")  # fmt: skip
    for seed in args.seeds:
        folder = args.out / f"seed-{seed}"
        cli("simulate", "--out", str(folder / "simulated"), "--scenario", args.scenario, "--seed", str(seed))
        labels = folder / "simulated" / "labels.json"
        for shape in SHAPES:
            events, decisions = folder / shape / "events.jsonl", folder / shape / "decisions.jsonl"
            if shape != "simulated":
                events.parent.mkdir(parents=True, exist_ok=True)
                reshaped(folder / "simulated" / "events.jsonl", events, shape)
            if args.engine == "job":
                cli("run", "--input", str(events), "--output", str(decisions))
            else:
                write_decisions(events, decisions, load_config())
            acted, recall, leak = evaluated(events, labels, decisions)
            print(f"| {seed} | {shape} | {acted} | {recall:.3f} | {leak:.3f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
