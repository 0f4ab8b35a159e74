"""What the River layers cost: the assessor's time per behaviour row with and without the anomaly model.

    python benchmarks/bench_models.py --events out/quality/seed-1/events.jsonl

Builds the behaviour rows of the events with the plain-Python reference (`detectors.engine`),
then times `Assessor.behaviour` over all of them, in order, three ways: everything on,
the anomaly model off, and HalfSpaceTrees alone (score and learn). Prints rows, seconds and
microseconds per row.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from detectors.assess import Assessor
from detectors.config import load_config
from detectors.engine import Row, behaviour_rows, route
from detectors.events import parse_line
from detectors.models.anomaly import AnomalyModel
from jobs.detect import read_lines


def timed(rows: list[Row], assessor: Assessor) -> float:
    started = time.perf_counter()
    for row in rows:
        assessor.behaviour(row.subject_type, row.subject, row.ts, row.features)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", required=True, type=Path)
    args = parser.parse_args()
    config = load_config()
    started = time.perf_counter()
    events = sorted((parse_line(line) for line in read_lines(args.events) if line.strip()), key=lambda e: e.sort_key())
    rows = sorted(behaviour_rows([route(e, config.routes) for e in events], config), key=Row.order)
    accounts = [r for r in rows if r.subject_type == "account"]
    print(f"{len(events):,} events -> {len(rows):,} behaviour rows ({len(accounts):,} account-minutes) "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    full = timed(rows, Assessor(config))
    off = Assessor(config)
    off.anomaly = None
    without = timed(rows, off)
    model = AnomalyModel()
    t0 = time.perf_counter()
    for r in accounts:
        model.observe(r.features, learn=True)
    hst = time.perf_counter() - t0
    for name, seconds, n in (
        ("assessor, all layers", full, len(rows)),
        ("assessor, anomaly model off", without, len(rows)),
        ("HalfSpaceTrees score+learn (account rows)", hst, len(accounts)),
    ):
        print(f"{name:45s} {n:>9,} rows {seconds:7.1f} s {1e6 * seconds / n:8.1f} us/row")


if __name__ == "__main__":
    main()
