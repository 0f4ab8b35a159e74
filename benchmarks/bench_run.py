"""Throughput of the embedded job: `scrapeguard run` on N simulated events (a command, not a test).

    python benchmarks/bench_run.py --events 1000000 [--parallelism 1 2] [--split 1]

Generates the `large` scenario once (cut at N events), then times the real CLI
end to end (JVM and job start included) and prints events/s with the machine it
ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulator import generate


def machine() -> str:
    """CPU model, cores and memory of this machine."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])  # type: ignore[index]
    return f"{cpu}, {os.cpu_count()} cores, {mem_kb / 2**20:.0f} GiB, Python {platform.python_version()}"


def split(path: Path, parts: int) -> list[Path]:
    """Deal the lines of `path` round-robin into `parts` files (each stays in time order)."""
    if parts == 1:
        return [path]
    outs = [path.with_name(f"part-{i}.jsonl") for i in range(parts)]
    handles = [p.open("w") for p in outs]
    with path.open() as f:
        for i, line in enumerate(f):
            handles[i % parts].write(line)
    for h in handles:
        h.close()
    return outs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--split", type=int, default=1, help="deal the events into this many input files")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        summary = generate(tmp, seed=args.seed, hours=24, accounts=50_000, scenario="large", max_events=args.events)
        inputs = split(Path(summary["path"]), args.split)
        print(
            f"simulated {summary['events']:,} events in {time.monotonic() - started:.1f} s "
            f"({len(inputs)} input file(s))"
        )
        for parallelism in args.parallelism:
            out = Path(tmp) / f"decisions-p{parallelism}.jsonl"
            cmd = [
                sys.executable,
                "-m",
                "jobs.cli",
                "run",
                "--input",
                *map(str, inputs),
                "--output",
                str(out),
                "--parallelism",
                str(parallelism),
            ]
            started = time.monotonic()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            seconds = time.monotonic() - started
            if proc.returncode != 0:
                sys.exit(f"run failed:\n{proc.stderr[-3000:]}")
            report = proc.stdout.splitlines()[0]
            print(
                f"parallelism {parallelism}: {summary['events'] / seconds:,.0f} events/s "
                f"({seconds:.1f} s wall) | {report}"
            )


if __name__ == "__main__":
    main()
