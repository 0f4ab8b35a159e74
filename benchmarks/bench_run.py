"""Throughput of the embedded job: `scrapeguard run` on N simulated events (a command, not a test).

    python benchmarks/bench_run.py --events 3000000 [--input FILE] [--parallelism 1 2] [--split 1]

Generates the `large` scenario once (cut at N events), then, on the same file in the
same run: the engine's ceiling (`benchmarks/passthrough.py`: Flink reading the file
with JSON_VALUE only, then with the job's parse stage but no detection) and the real
CLI, end to end (JVM and job start included). Prints events/s, the ratio to the parse
pass-through, and the peak memory of each run's processes, with the machine.
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


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Run `cmd` in its own process group: wall seconds, peak resident memory of the whole group (the CLI, its
    JVM, any Python worker; sampled every 0.2 s), and its standard output."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, group_rss(proc.pid))
        time.sleep(0.2)
    out, err = proc.communicate()
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed:\n{err[-3000:]}")
    return seconds, peak, out


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in process group `pgid`."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--input", type=Path, help="an existing events file instead of simulating --events")
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--split", type=int, default=1, help="deal the events into this many input files")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        if args.input:
            path, events = args.input, sum(1 for _ in args.input.open())
        else:
            started = time.monotonic()
            summary = generate(tmp, seed=args.seed, hours=24, accounts=50_000, scenario="large", max_events=args.events)
            path, events = Path(summary["path"]), summary["events"]
            print(f"simulated {events:,} events in {time.monotonic() - started:.1f} s")
        inputs = [str(p) for p in split(path, args.split)]
        rows = []
        for mode in ("json", "parse"):
            seconds, peak, _ = timed([sys.executable, str(here / "passthrough.py"), mode, *inputs])
            rows.append((f"pass-through ({mode})", seconds, peak, ""))
        for parallelism in args.parallelism:
            out = Path(tmp) / f"decisions-p{parallelism}.jsonl"
            seconds, peak, stdout = timed(
                [sys.executable, "-m", "jobs.cli", "run", "--input", *inputs, "--output", str(out),
                 "--parallelism", str(parallelism), "--quiet"]
            )  # fmt: skip
            summary = next(x for x in stdout.splitlines() if x.startswith("scrapeguard run: read "))
            rows.append((f"scrapeguard run, p={parallelism}", seconds, peak, summary.removeprefix("scrapeguard run: ")))
        ceiling = rows[1][1]
        print(f"\n{events:,} events in {len(inputs)} file(s); JVM and job start included in every time\n")
        print("| run | seconds | events/s | of the parse pass-through | peak memory | |\n|---|---|---|---|---|---|")
        for name, seconds, peak, note in rows:
            print(
                f"| {name} | {seconds:.1f} | {events / seconds:,.0f} | {ceiling / seconds:.2f} | "
                f"{peak / 2**30:.2f} GiB | {note} |"
            )


if __name__ == "__main__":
    main()
