"""Benchmark the simulator: write N events of a scenario (default `large`) to a temp dir.

    python benchmarks/bench_simulate.py                      # 10,000,000 events, the figure in the README
    python benchmarks/bench_simulate.py --events 1000000 --repeat 3

Prints events, wall seconds, events/s, CPU seconds, bytes per event, peak RSS and the
actor mix. On a shared machine the wall figure moves with the other load; `--repeat`
runs the generation several times and reports each run and the best.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install needed

from simulator import SCENARIOS, generate


def main(argv: list[str] | None = None) -> None:
    """Run the generation (`--repeat` times) and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--scenario", default="large", choices=sorted(SCENARIOS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true", help="write events.jsonl.gz")
    ap.add_argument("--repeat", type=int, default=1, help="runs; the best is reported last")
    args = ap.parse_args(argv)
    params = SCENARIOS[args.scenario]
    runs = []
    for _ in range(max(1, args.repeat)):
        with tempfile.TemporaryDirectory(prefix="bench_simulate_") as tmp:
            wall, cpu = time.perf_counter(), time.process_time()
            summary = generate(
                tmp,
                scenario=args.scenario,
                seed=args.seed,
                hours=params["hours"],
                accounts=params["accounts"],
                gzip_output=args.gzip,
                max_events=args.events,
            )
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            size = Path(summary["path"]).stat().st_size
        runs.append((wall, cpu))
        n = summary["events"]
        print(f"run {len(runs)}: {n:,} events in {wall:.2f} s (cpu {cpu:.2f}): {n / wall:,.0f} events/s", flush=True)
    wall, cpu = min(runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux
    print(f"scenario      {args.scenario} ({params['accounts']:,} accounts, {params['hours']:g} h)")
    print(f"events        {n:,}" + ("" if n == args.events else f"  (scenario ends before {args.events:,})"))
    print(f"seconds       {wall:.2f}  (cpu {cpu:.2f})" + (f"  best of {len(runs)}" if len(runs) > 1 else ""))
    print(f"events/s      {n / wall:,.0f}  (per cpu-second {n / cpu:,.0f})")
    print(f"bytes/event   {size / max(n, 1):.0f}")
    print(f"peak RSS      {peak_mb:.0f} MiB")
    print("actors        " + ", ".join(f"{kind} {count}" for kind, count in summary["actors"].items() if count))


if __name__ == "__main__":
    main()
