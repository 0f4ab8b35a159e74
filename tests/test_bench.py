"""`scrapeguard bench`: every benchmark runs at a tiny size (so none can rot) and writes its JSON and the docs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.suite import BENCHMARKS, CLIENT, group_threads, markdown, sections, thread_stages
from jobs.cli import main


@pytest.mark.flink
@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.skipif(
    not (shutil.which("kcat") and shutil.which("pv")), reason="kcat and pv are installed by `make test`"
)
def test_every_benchmark_runs_at_a_tiny_size_and_writes_json_and_docs(tmp_path: Path, capsys) -> None:
    docs = tmp_path / "benchmarks.md"
    argv = ["bench", "--events", "3000", "--seconds", "12", "--cases", "20", "--requests", "2",
            "--out", str(tmp_path), "--docs", str(docs)]  # fmt: skip
    assert main(argv) == 0
    results = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in BENCHMARKS}
    for name, r in results.items():
        assert r["name"] == name and r["command"] == "scrapeguard " + " ".join(argv)
        assert r["machine"]["cores"] >= 1 and r["machine"]["apache_flink"] == "2.2.1" and r["machine"]["java"]
        assert r["rows"] and all(len(row) == len(r["columns"]) for row in r["rows"])
    runs = {row[0]: row for row in results["embedded"]["rows"]}
    job, ceiling = runs["scrapeguard run, p=1"], runs["Flink pass-through (parse): the job's parse stage, no detection"]
    assert job[2] > 0 and ceiling[3] == 1.0  # the ratio is of the unrounded seconds, so compare to a hundredth or two
    assert job[3] == pytest.approx(ceiling[1] / job[1], abs=0.02)
    assert job[5] == "decisions equal to the reference's"
    assert "3,000 events" in results["embedded"]["title"] and results["simulate"]["rows"][0][0] == 3000
    stages = {row[0]: row for row in results["threads"]["rows"]}
    assert stages[CLIENT][1] > 0 and stages[CLIENT][3] > 0  # the parse stage's worker, in the job and the ceiling
    parts = results["threads"]["rows"][:-1]  # each rounded to 0.1 s, as "all" is: up to 0.05 s off apiece
    assert stages["all"][1] >= sum(row[1] for row in parts) - 0.05 * (len(parts) + 1) > 0
    assert {row[0] for row in results["review"]["rows"]} >= {"/", "/api/v1/cases"}
    kafka = results["kafka"]["rows"]
    assert [row[0].split(",")[0] for row in kafka] == [
        "kcat appends the file to access-logs (the load generator)",
        "pass-through: Kafka source and parse stage",
        "scrapeguard run", "latency", "latency"]  # fmt: skip
    assert all(row[1] == 3000 and row[2] > 0 for row in kafka[:3]) and kafka[1][4] == 1.0
    assert all(row[1] > 0 and row[3] > 0 for row in kafka[3:])  # live traffic went out at some rate
    text = docs.read_text()
    assert [line[3:].split(":")[0] for line in text.splitlines() if line.startswith("## ")] == [
        *BENCHMARKS, "Not measured yet"]  # fmt: skip
    assert text == markdown(list(results.values()))


def test_an_unknown_benchmark_or_a_bad_size_is_a_usage_error(capsys) -> None:
    assert main(["bench", "quality"]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark 'quality'; the benchmarks are embedded, threads, kafka, steps, simulate, review" in err
    assert main(["bench", "steps", "--events", "0"]) == 2
    assert "--events must be at least 1" in capsys.readouterr().err
    assert main(["bench", "steps", "--input", "-"]) == 2
    assert "a benchmark reads a file, not standard input" in capsys.readouterr().err


def test_a_run_of_some_benchmarks_keeps_the_others_sections_as_they_were() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs/benchmarks.md").read_text()
    kept = sections(docs)
    assert kept and set(kept) <= set(BENCHMARKS)
    assert markdown([], kept).split("## Not measured yet")[0] == docs.split("## Not measured yet")[0]
    machine = {"cpu": "x", "cores": 2, "memory_gib": 1, "load_average": [0], "python": "3", "java": "17",
               "apache_flink": "2.2.1", "river": "0", "commit": "c"}  # fmt: skip
    steps = {"name": "steps", "title": "new", "columns": ["a"], "rows": [[1]], "notes": [], "command": "c",
             "measured_at": "t", "machine": machine}  # fmt: skip
    rewritten = sections(markdown([steps], kept))
    assert rewritten["steps"].startswith("## steps: new") and rewritten["steps"] != kept["steps"]
    assert {k: v for k, v in rewritten.items() if k != "steps"} == {k: v for k, v in kept.items() if k != "steps"}


def test_thread_cpu_is_read_per_thread_and_summed_per_stage() -> None:
    started = time.monotonic()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        time.sleep(1.0)
        found = group_threads(busy.pid)
        elapsed = time.monotonic() - started
    finally:
        os.killpg(busy.pid, signal.SIGTERM)
        busy.wait()
    ((name, seconds),) = found.values()  # a Python process counts whole
    assert name == "another Python process" and 0 < seconds <= elapsed  # one thread: no more CPU than wall time
    assert thread_stages(
        {
            (1, 1): ("learn (1/1)#0", 2.0),
            (1, 2): ("GC Thread#0", 0.5),
            (1, 3): ("GC Thread#1", 0.25),
            (1, 4): ("OverAggregate[1", 1.0),
            (1, 5): ("Thread-3", 1.0),
            (1, 6): ("Thread-12", 1.0),
            (1, 7): ("behave-account ", 3.0),
            (2, 0): (CLIENT, 4.0),
        }
    ) == {"learn": 2.0, "GC Thread": 0.75, "OverAggregate": 1.0, "Thread-N": 2.0, "behave-account": 3.0, CLIENT: 4.0}
