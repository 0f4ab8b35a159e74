"""`scrapeguard bench [NAME ...]`: every benchmark from one entry point, written as JSON and as docs/benchmarks.md.

    scrapeguard bench                                   # all of them, each at its own default size
    scrapeguard bench embedded --input FILE             # one, on an existing events file
    scrapeguard bench --events 3000 --seconds 12 --cases 20 --requests 2 --out /tmp/b --docs /tmp/b/benchmarks.md
                                                        # the smoke test's size

Each benchmark writes `<out>/<name>.json`: its table, the command, the time, the machine (CPU, cores, memory, load)
and the versions (Python, Java, Flink, River, commit). `--docs` is then rewritten from every JSON file in `<out>`;
the sections of benchmarks with no JSON there are kept as the file had them.

- `embedded`: `scrapeguard run` on N events of the `large` scenario (default 3,000,000), beside what the same file
  costs in the same run without detection: Flink reading it with `JSON_VALUE` only, Flink with the job's parse stage
  (the ceiling the job is measured against), and the plain-Python reference run (`detectors.pipeline.detect`, one
  process), whose decisions the job's must equal.
- `threads`: where the job's CPU goes: CPU seconds per thread (operator, SQL stage, JIT, the parse stage's
  worker) of `scrapeguard run` and of the parse pass-through, on N events (default 3,000,000).
- `kafka`: the streaming job on a real broker (started and stopped here): N events (default 3,000,000) of `large`
  drained from `access-logs` to `decisions` beside the same path without detection, then the latency from a
  crossing request's append to its decision being readable, live at `--rate` (default: half the drain rate)
  for `--seconds` (`benchmarks.bench_kafka`).
- `steps`: where the Python time goes, per step, from cProfile over the reference run (default 300,000 events).
- `simulate`: the simulator writing N events of `large` (default 10,000,000).
- `review`: the review console's queue page with `--cases` open cases, over HTTP, logged in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Result = dict[str, Any]
"""One benchmark's figures: `name`, `title`, `columns`, `rows` (lists of values), `notes`; `write` adds the rest."""


# -- what every result carries -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU, cores, memory and load of this machine, and the versions that decide the figures."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])  # type: ignore[index]
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "java": java[0] if java else "?",
        "apache_flink": version("apache-flink"),
        "river": version("river"),
        "commit": commit.stdout.strip() or "not a git checkout",
    }


def timed(cmd: list[str], threads: dict[tuple[int, int], tuple[str, float]] | None = None) -> tuple[float, int, str]:
    """Run `cmd` in its own process group: wall seconds, peak resident bytes of the whole group (the CLI, its JVM,
    any Python worker; sampled every 0.2 s) and its standard output. A failure raises `RuntimeError`.

    With `threads`, it also keeps there every thread's CPU seconds, sampled every second (`group_threads`)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    peak, polls = 0, 0
    while proc.poll() is None:
        peak = max(peak, group_rss(proc.pid))
        if threads is not None and polls % 5 == 0:
            for key, (name, seconds) in group_threads(proc.pid).items():
                threads[key] = (threads.get(key, (name,))[0], seconds)  # an ending process loses its command line
        polls += 1
        time.sleep(0.2)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:5])} failed (exit {proc.returncode}):\n{err[-3000:]}")
    return time.monotonic() - started, peak, out


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


def group_threads(pgid: int) -> dict[tuple[int, int], tuple[str, float]]:
    """CPU seconds (user + system) so far of every thread in process group `pgid`, by (pid, tid): a JVM thread by
    its name, a Python process as a whole (its threads have no names of their own), as `/proc` has them."""
    tick, found = os.sysconf("SC_CLK_TCK"), {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            name, fields = _stat(proc / "stat")
            if int(fields[2]) != pgid:
                continue
            if name.startswith("python"):
                found[(int(proc.name), 0)] = (_role(proc), (int(fields[11]) + int(fields[12])) / tick)
                continue
            for task in (proc / "task").iterdir():
                name, fields = _stat(task / "stat")
                found[(int(proc.name), int(task.name))] = (name, (int(fields[11]) + int(fields[12])) / tick)
        except (OSError, IndexError, ValueError):
            continue  # a process or thread that ended while it was read
    return found


def _stat(path: Path) -> tuple[str, list[str]]:
    """The name and the fields after it (state first) of a `/proc` stat file."""
    head, rest = path.read_text().rsplit(")", 1)
    return head.split("(", 1)[1], rest.split()


def _role(proc: Path) -> str:
    """What a Python process of a benchmarked run is: the client (the CLI or a pass-through), or the module it runs."""
    args = [a.decode(errors="replace") for a in proc.joinpath("cmdline").read_bytes().split(b"\0")]
    if {"jobs.cli", "benchmarks.passthrough"} & set(args) or any(a.endswith("scrapeguard") for a in args):
        return CLIENT
    module = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "-m"), None)
    return f"Python: {module}" if module else "another Python process"


CLIENT = "Python client: job set-up, the parse stage's Beam worker (in loopback), the results"


def thread_stages(threads: dict[tuple[int, int], tuple[str, float]]) -> dict[str, float]:
    """CPU seconds by stage: the threads of one operator or pool under one name (`learn (1/1)#0` -> `learn`,
    `GC Thread#1` -> `GC Thread`, `OverAggregate[12]` -> `OverAggregate`, `Thread-3` -> `Thread-N`)."""
    stages: dict[str, float] = {}
    for name, seconds in threads.values():
        stage = re.sub(r"(\s*\(\d+/\d+\))?(#\d+)?$", "", name.strip())
        stage = re.sub(r"\[\d*$|\[\d+\].*$", "", stage)
        stage = re.sub(r"^Thread-\d+$", "Thread-N", stage).strip()
        stages[stage] = stages.get(stage, 0.0) + seconds
    return stages


def events_file(opts: argparse.Namespace, tmp: str, default: int) -> tuple[Path, int]:
    """`--input`, or `--events` (else `default`) events of the `large` scenario simulated into `tmp`."""
    if opts.input:
        path = Path(opts.input)
        with path.open("rb") as f:
            return path, sum(1 for _ in f)
    from simulator import generate

    summary = generate(tmp, seed=1, hours=24, accounts=50_000, scenario="large", max_events=opts.events or default)
    return Path(summary["path"]), summary["events"]


def comparable(path: Path) -> list[dict[str, Any]]:
    """A decisions file without the wall-clock `emitted_at`, in canonical order."""
    rows = [{k: v for k, v in json.loads(x).items() if k != "emitted_at"} for x in path.read_text().splitlines()]
    return sorted(rows, key=lambda d: (d["event_time"], d["subject_type"], d["subject"], d["decision_id"]))


# -- the benchmarks ----------------------------------------------------------------------------------------------


def embedded(opts: argparse.Namespace) -> Result:
    """`scrapeguard run` beside the engine's ceilings and the plain-Python reference, on one file, in one run."""
    with tempfile.TemporaryDirectory(prefix="bench-embedded-") as tmp:
        path, events = events_file(opts, tmp, 3_000_000)
        runs: list[tuple[str, float, int, str]] = []
        for mode in ("json", "parse"):
            seconds, peak, _ = timed([sys.executable, "-m", "benchmarks.passthrough", mode, str(path)])
            what = "JSON_VALUE of five fields" if mode == "json" else "the job's parse stage, no detection"
            runs.append((f"Flink pass-through ({mode}): {what}", seconds, peak, ""))
        reference = Path(tmp) / "reference.jsonl"
        seconds, peak, _ = timed([sys.executable, "-m", "benchmarks.reference", str(path), str(reference)])
        expected = comparable(reference)
        runs.append(("plain-Python reference, one process", seconds, peak, f"{len(expected):,} decisions"))
        for parallelism in opts.parallelism:
            out = Path(tmp) / f"decisions-p{parallelism}.jsonl"
            cmd = [sys.executable, "-m", "jobs.cli", "run", "--input", str(path), "--output", str(out),
                   "--parallelism", str(parallelism), "--quiet"]  # fmt: skip
            seconds, peak, _ = timed(cmd)
            same = "equal to the reference's" if comparable(out) == expected else "NOT equal to the reference's"
            runs.append((f"scrapeguard run, p={parallelism}", seconds, peak, f"decisions {same}"))
    ceiling = runs[1][1]
    rows = [[name, round(s, 1), round(events / s), round(ceiling / s, 2), round(peak / 2**30, 2), note]
            for name, s, peak, note in runs]  # fmt: skip
    return {
        "name": "embedded",
        "title": f"Embedded job on {events:,} events, beside its ceilings on the same file in the same run",
        "columns": ["run", "seconds", "events/s", "of the parse pass-through", "peak memory GiB", "decisions"],
        "rows": rows,
        "notes": [
            f"input: {'--input ' + str(opts.input) if opts.input else 'the large scenario, seed 1'}; "
            "JVM and job start are included in every Flink time",
            "the parse pass-through is the ceiling: everything the job does but detection",
        ],
    }


def threads(opts: argparse.Namespace) -> Result:
    """Where the job's CPU goes: CPU seconds per thread (stage) of `scrapeguard run` at p=1 and of the parse
    pass-through, from `/proc`, on one file in one run."""
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as tmp:
        path, events = events_file(opts, tmp, 3_000_000)
        ceiling: dict[tuple[int, int], tuple[str, float]] = {}
        ceiling_s, _, _ = timed([sys.executable, "-m", "benchmarks.passthrough", "parse", str(path)], ceiling)
        job: dict[tuple[int, int], tuple[str, float]] = {}
        cmd = [sys.executable, "-m", "jobs.cli", "run", "--input", str(path), "--output", str(Path(tmp) / "d.jsonl"),
               "--quiet"]  # fmt: skip
        job_s, _, _ = timed(cmd, job)
    stages, base = thread_stages(job), thread_stages(ceiling)
    total = sum(stages.values())
    shown = sorted((s for s in stages if stages[s] >= 0.01 * total), key=lambda s: -stages[s])
    rows = [[s, round(stages[s], 1), round(stages[s] / job_s, 2), round(base[s], 1) if s in base else None]
            for s in shown]  # fmt: skip
    rest = [s for s in stages if s not in shown]
    rows.append([f"{len(rest)} other stages, each under 1 %", round(sum(stages[s] for s in rest), 1),
                 round(sum(stages[s] for s in rest) / job_s, 2), None])  # fmt: skip
    rows.append(["all", round(total, 1), round(total / job_s, 2), round(sum(base.values()), 1)])
    python = sum(v for s, v in stages.items() if s in PYTHON_OPERATORS or s.startswith("behave-"))
    return {
        "name": "threads",
        "title": f"Where the job's CPU goes: CPU seconds per thread, {events:,} events, the job beside the parse "
        "pass-through",
        "columns": THREAD_COLUMNS,
        "rows": rows,
        "notes": [
            f"wall time: the job {job_s:.1f} s ({events / job_s:,.0f} events/s), the pass-through {ceiling_s:.1f} s "
            f"({events / ceiling_s:,.0f} events/s), each with its JVM start; cores: {os.cpu_count()}",
            "user + system CPU of every thread of the run's process group, from /proc/<pid>/task/<tid>/stat, "
            "sampled every second (a thread's last sample counts); JVM threads by their names as /proc has them (15 "
            "characters), Python processes whole",
            f"the Python operators (behave-*, score-and-decide, learn, group) run in one embedded interpreter and "
            f"share its lock: together {python:.1f} s, {python / job_s:.2f} of the job's wall time",
        ],
    }


THREAD_COLUMNS = ["thread (stage)", "CPU s, scrapeguard run p=1", "of the job's wall time", "CPU s, parse pass-through"]
PYTHON_OPERATORS = {"score-and-decid", "learn", "group", "PemJaMainInterp"}
"""The JVM threads, besides `behave-*`, that run the embedded interpreter (names as /proc cuts them)."""


def steps(opts: argparse.Namespace) -> Result:
    """cProfile of the reference run: seconds and microseconds per call of each step."""
    from benchmarks.bench_steps import profile

    with tempfile.TemporaryDirectory(prefix="bench-steps-") as tmp:
        path, events = events_file(opts, tmp, 300_000)
        seconds, found = profile(path)
    rows = [[what, calls, round(s, 2), round(1e6 * s / calls, 1) if calls else None] for what, calls, s in found]
    return {
        "name": "steps",
        "title": f"Where the Python time goes: the reference run on {events:,} events under cProfile ({seconds:.1f} s)",
        "columns": ["step", "calls", "seconds", "µs per call"],
        "rows": rows,
        "notes": ["the Flink job calls the same step functions, and adds crossings, serialisation and state access"],
    }


def simulate(opts: argparse.Namespace) -> Result:
    """The simulator writing N events of `large` to disk."""
    import resource

    from simulator import SCENARIOS, generate

    params = SCENARIOS["large"]
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = generate(tmp, scenario="large", seed=1, hours=params["hours"], accounts=params["accounts"],
                           max_events=opts.events or 10_000_000)  # fmt: skip
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = Path(summary["path"]).stat().st_size
    n = summary["events"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    return {
        "name": "simulate",
        "title": f"Simulator: {n:,} events of the large scenario to disk",
        "columns": ["events", "seconds", "events/s", "cpu seconds", "bytes per event", "peak RSS MiB"],
        "rows": [[n, round(wall, 2), round(n / wall), round(cpu, 2), round(size / max(n, 1)), round(peak)]],
        "notes": ["peak RSS is this process's, which also ran any benchmark before it"],
    }


def review(opts: argparse.Namespace) -> Result:
    """The review console's queue page and its filtered variants over HTTP (in a process of its own, so its scratch
    console's Django settings are its own)."""
    cmd = [sys.executable, "-m", "benchmarks.bench_review", "--cases", str(opts.cases), "--requests",
           str(opts.requests), "--json"]  # fmt: skip
    _, _, out = timed(cmd)
    rows = [[url, round(median, 1), round(p95, 1), round(most, 1), size]
            for url, median, p95, most, size in json.loads(out.splitlines()[-1])]  # fmt: skip
    return {
        "name": "review",
        "title": f"Review console: {opts.cases:,} open cases (SQLite), {opts.requests} timed requests per URL",
        "columns": ["url", "median ms", "p95 ms", "max ms", "bytes"],
        "rows": rows,
        "notes": ["served by `scrapeguard review serve` (waitress) on 127.0.0.1, logged in as an analyst"],
    }


KAFKA_COLUMNS = ["run", "events", "seconds", "events/s", "of the pass-through", "peak memory GiB",
                 "p50 s", "p95 s", "p99 s", "notes"]  # fmt: skip


def kafka(opts: argparse.Namespace) -> Result:
    """The streaming job on a real broker: draining a backlog beside the pass-through, and live latency
    (`benchmarks.bench_kafka`)."""
    from benchmarks.bench_kafka import SETTINGS, kafka_rows

    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        path, events = events_file(opts, tmp, 3_000_000)
        rows = list(kafka_rows(path, events, opts))
    return {
        "name": "kafka",
        "title": f"Kafka end to end: {events:,} events drained from access-logs to decisions, and live latency",
        "columns": KAFKA_COLUMNS,
        "rows": rows,
        "notes": [
            "a single-node broker (infra/kafka.sh) on the same machine; topics with 4 partitions; exactly-once "
            "decisions unless a row says otherwise; JVM and job start are included in every drain time",
            "draining a backlog at R events/s means the job keeps up with any steady rate below R: its lag does not "
            "grow (R is a lower bound: it includes the start)",
            "latency: live traffic paced by pv into kcat (events/s: the rate reached), from the append (LogAppendTime) "
            "of each request over a short-window limit to its decision being readable with read_committed; "
            f"settings: {', '.join(SETTINGS)} (benchmarks/bench_kafka.py)",
        ],
    }


BENCHMARKS: dict[str, Callable[[argparse.Namespace], Result]] = {
    "embedded": embedded,
    "threads": threads,
    "kafka": kafka,
    "steps": steps,
    "simulate": simulate,
    "review": review,
}
NOT_YET = [
    "state per active account and per IP from checkpoint sizes (200,000 accounts), and the River models' memory",
    "parallelism 1, 2 and 4 on a cluster (`--parallelism 1 2` runs them embedded, in one interpreter)",
]


# -- output ------------------------------------------------------------------------------------------------------


def write(result: Result, command: str, started: str, host: dict[str, Any], out: Path) -> Path:
    """The result with the command, its start time and the machine as it started, as `<out>/<name>.json`."""
    full = {**result, "command": command, "measured_at": started, "machine": host}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['name']}.json"
    path.write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n")
    return path


def markdown(results: list[Result], kept: dict[str, str] | None = None) -> str:
    """docs/benchmarks.md: one section per result, or per benchmark in `kept` (its section as the docs had it, for a
    benchmark with no result in this run's `--out`), in `BENCHMARKS` order, then what is not measured yet."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `scrapeguard bench` (`benchmarks/suite.py`) from its JSON results; do not edit by hand. On a "
        "shared machine only ratios measured in one run are stable, so compare figures within a table.",
    ]
    by_name = {**(kept or {}), **{r["name"]: _section(r) for r in results}}
    lines += [line for name in BENCHMARKS if name in by_name for line in ("", by_name[name])]
    lines += ["", "## Not measured yet", ""] + [f"- {item}" for item in NOT_YET]
    return "\n".join(lines) + "\n"


def sections(docs: str) -> dict[str, str]:
    """The sections of a docs/benchmarks.md by benchmark name (`## <name>: ...` up to the next `## `)."""
    found = {}
    for part in docs.split("\n## ")[1:]:
        name = part.split(":", 1)[0]
        if name in BENCHMARKS:
            found[name] = ("## " + part).rstrip("\n")
    return found


def _section(r: Result) -> str:
    m = r["machine"]
    lines = [
        f"## {r['name']}: {r['title']}",
        "",
        f"`{r['command']}`, {r['measured_at']}, commit {m['commit']}. {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB, load average {' / '.join(map(str, m['load_average']))} at the start; "
        f"Python {m['python']}, {m['java']}, apache-flink {m['apache_flink']}, river {m['river']}.",
        "",
        "| " + " | ".join(r["columns"]) + " |",
        "|" + "---|" * len(r["columns"]),
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in r["rows"]]
    lines += [""] + [f"- {note}" for note in r["notes"]]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def run(names: list[str], opts: argparse.Namespace, command: str) -> list[Path]:
    """Run the named benchmarks (all when none), write their JSON, rewrite `opts.docs`; the JSON paths."""
    out = Path(opts.out)
    written = []
    for name in names or list(BENCHMARKS):
        print(f"bench {name} ...", flush=True)
        started, host = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), machine()
        path = write(BENCHMARKS[name](opts), command, started, host, out)
        print(f"bench {name}: {path}", flush=True)
        written.append(path)
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    docs = Path(opts.docs)
    docs.parent.mkdir(parents=True, exist_ok=True)
    kept = sections(docs.read_text()) if docs.exists() else {}
    docs.write_text(markdown([r for r in results if r.get("name") in BENCHMARKS], kept))
    return written
