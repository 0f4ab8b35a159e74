"""The Iliou et al. web-bot logs read as they are, with examples/iliou.toml (see shared/data/realworld/SOURCES.md).

Skipped without the data beside the repository (or $SCRAPEGUARD_REALWORLD). Measured when written: every
line is read except the connections that sent no HTTP request (status 400 or 408 with `-`, a bare newline,
a TLS handshake on the plain port or a malware probe as request line): 55 of the 41,239 phase-1 lines and
223 of the 91,707 phase-2 (human side) lines.
"""

from __future__ import annotations

import csv
import gzip
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from detectors.config import load_config
from detectors.events import BadEvent, LineReader
from detectors.logformat import UNKNOWN_IP
from tests.conftest import REALWORLD, comparable, reference

DATA = REALWORLD / "iliou_web_bot_detection"
CONFIG = Path(__file__).resolve().parents[1] / "examples" / "iliou.toml"
PHASE1 = {
    "phase1/web_logs/humans/access_2.log": (2_707, 0),
    "phase1/web_logs/humans/access_3.log": (5_341, 10),
    "phase1/web_logs/humans/access_4.log": (9_391, 8),
    "phase1/web_logs/bots/access_moderate_bots.PREFIX_13900_lines.log": (13_900, 24),
    "phase1/web_logs/bots/access_advanced_bots.PREFIX_9900_lines.log": (9_900, 13),
}
# A line that is no HTTP request: status 400 or 408, and a request line that is not METHOD PATH PROTOCOL.
NO_REQUEST = re.compile(rb'^- - \[[^\]]+\] "(?!(?:[A-Z]+) \S+ HTTP/1\.[01]")(?:[^"\\]|\\.)*" 40[08] ')

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"Iliou logs not found at {DATA} (shared/data/realworld beside the repo)"
)


def read(path: Path) -> tuple[list[bytes], list, list[tuple[bytes, str]]]:
    """Lines, events and (line, reason) of the rejected ones, read as `scrapeguard run` reads them."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    reader, events, rejected = LineReader.for_config(load_config(CONFIG)), [], []
    for line in lines:
        try:
            events.append(reader.feed(line.decode("utf-8", "replace")))
        except BadEvent as exc:
            rejected.append((line, str(exc)))
    return lines, events, rejected


@pytest.mark.parametrize("name", PHASE1)
def test_phase1_logs_are_read_but_for_the_connections_that_sent_no_request(name: str) -> None:
    lines, events, rejected = read(DATA / name)
    n_lines, n_rejected = PHASE1[name]
    assert (len(lines), len(rejected)) == (n_lines, n_rejected)
    assert len(events) + len(rejected) == n_lines
    assert all(NO_REQUEST.match(line) for line, _ in rejected), [line for line, _ in rejected][:3]
    assert sum(bool(NO_REQUEST.match(line)) for line in lines) == n_rejected  # every such line, and no other
    assert all("request line" in reason for _, reason in rejected)
    sessions = [e for e in events if e.session_id is not None]
    assert all(e.account_id == e.session_id and e.ip == UNKNOWN_IP for e in sessions)
    assert all(e.account_id is None for e in events if e.session_id is None)


def test_phase2_human_logs_reject_only_the_internet_background_that_sent_no_request() -> None:
    total = rejected_total = 0
    for path in sorted((DATA / "phase2/web_logs/humans").glob("*.log.gz")):
        lines, _, rejected = read(path)
        total += len(lines)
        rejected_total += len(rejected)
        assert all(NO_REQUEST.match(line) for line, _ in rejected), path
    assert (total, rejected_total) == (91_707, 223)


def test_every_labelled_phase1_session_present_in_the_logs_is_an_actor() -> None:
    actors = Counter()
    for name in PHASE1:
        _, events, _ = read(DATA / name)
        actors.update(e.account_id for e in events if e.account_id)
    with open(DATA / "session_labels.csv", newline="") as f:
        labelled = {r["session_id"]: r for r in csv.DictReader(f) if r["phase"] == "phase1"}
    present = Counter(r["label"] for s, r in labelled.items() if s in actors)
    assert present == {"human": 35, "moderate_bot": 50, "advanced_bot": 30}  # as SOURCES.md counts them
    for s, r in labelled.items():  # the request counts of session_labels.csv
        if s in actors:
            assert actors[s] >= int(r["requests_in_available_logs"]) - 1, s


@pytest.mark.flink
def test_the_job_reads_an_iliou_log_as_the_reference_does(run_cli) -> None:
    log = DATA / "phase1/web_logs/humans/access_3.log"
    run = run_cli([log], "--config", str(CONFIG))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "read 5341, accepted 5331, rejected 10" in run.stdout
    assert all("request line" in d["reason"] for d in run.dead_letters)
    assert comparable(run.decisions) == reference([log], CONFIG)


def test_the_iliou_benchmark_runs_and_prints_its_three_parts() -> None:
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_iliou.py"
    proc = subprocess.run(
        [sys.executable, str(bench), "--data", str(DATA), "--splits", "1"], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "41,239 lines, 41,184 events, 55 rejected" in out
    assert "human 35, moderate_bot 50, advanced_bot 30" in out
    assert "(a) no labels" in out and "(b) analyst verdicts on 20%" in out and "(c) Iliou et al." in out
    assert re.search(r"^\| 1 \| 16 / 7 \| 16 \|", out, re.M)  # the verdicts were given and took effect
    assert "DOI 10.1145/3447815" in out
