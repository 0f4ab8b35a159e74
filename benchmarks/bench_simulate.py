"""Benchmark the simulator: write N events of the `large` scenario to a temp dir.

    python benchmarks/bench_simulate.py --events 1000000

Prints events, wall seconds, events/s, CPU seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from simulator import SCENARIOS, generate  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Run one generation and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true", help="write events.jsonl.gz")
    args = ap.parse_args(argv)
    large = SCENARIOS["large"]
    with tempfile.TemporaryDirectory(prefix="bench_simulate_") as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = generate(tmp, scenario="large", seed=args.seed, hours=large["hours"], accounts=large["accounts"],
                           gzip_output=args.gzip, max_events=args.events)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = Path(summary["path"]).stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux
    n = summary["events"]
    print(f"events        {n:,}" + ("" if n == args.events else f"  (scenario ends before {args.events:,})"))
    print(f"seconds       {wall:.2f}  (cpu {cpu:.2f})")
    print(f"events/s      {n / wall:,.0f}  (per cpu-second {n / cpu:,.0f})")
    print(f"bytes/event   {size / max(n, 1):.0f}")
    print(f"peak RSS      {peak_mb:.0f} MiB")


if __name__ == "__main__":
    main()
