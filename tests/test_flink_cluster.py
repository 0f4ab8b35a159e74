"""infra/flink-cluster.sh: the file job on a standalone session cluster at parallelism 2, then stop by pid."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.broker import free_port
from tests.conftest import comparable, reference
from tests.test_kafka_job import committed, decisions_of, produce, simulate, stream_args

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "infra/flink-cluster.sh")
pytestmark = [pytest.mark.flink, pytest.mark.cluster]


@dataclass
class Cluster:
    """A session cluster started by infra/flink-cluster.sh for this module."""

    url: str
    state: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([SCRIPT, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.load(response)

    def pids(self) -> dict[str, int]:
        """The JVM pids the daemon scripts recorded, by daemon."""
        return {
            daemon: int((self.state / "pid" / f"flink-scrapeguard-{daemon}.pid").read_text().split()[-1])
            for daemon in ("standalonesession", "taskexecutor")
        }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A cluster of this module's own on free ports, since the last test stops it."""
    state = tmp_path_factory.mktemp("flink")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "FLINK_REST_PORT": str(free_port()),
        "FLINK_RPC_PORT": str(free_port()),
        "FLINK_STATE_DIR": str(state),
    }
    cluster = Cluster(f"http://127.0.0.1:{env['FLINK_REST_PORT']}", state, env)
    started = cluster.run("start", timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    yield cluster
    cluster.run("stop", timeout=120)


def test_file_job_on_the_cluster_at_parallelism_two_gives_the_reference_decisions(cluster, tmp_path):
    simulated = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "simulate", "--out", str(tmp_path), "--seed", "7", "--hours", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert simulated.returncode == 0, simulated.stderr
    events, output = tmp_path / "events.jsonl", tmp_path / "decisions.jsonl"

    run = cluster.run("submit", "run", "--input", str(events), "--output", str(output), "--parallelism", "2")

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "rejected 0" in run.stdout
    decisions = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert comparable(decisions) == reference([events]) != []
    job_id = re.search(r"JobID ([0-9a-f]{32})", run.stdout).group(1)
    assert {(j["jid"], j["name"], j["state"]) for j in cluster.get("/jobs/overview")["jobs"]} == {
        (job_id, "scrapeguard-detect", "FINISHED")
    }
    vertices = {v["name"]: v["parallelism"] for v in cluster.get(f"/jobs/{job_id}")["vertices"]}
    assert [p for name, p in vertices.items() if "score-and-decide" in name] == [2], vertices
    # every stage at the job's parallelism but the learner, which sees a sample of the rows on one key
    assert {name: p for name, p in vertices.items() if p != 2} == {
        n: 1 for n in vertices if n.startswith("learn") or n.startswith("Sink: Data stream collect")
    }


@pytest.mark.kafka
def test_streaming_job_on_the_cluster_at_parallelism_two_commits_the_reference_decisions(
    cluster, kafka_broker, topic_prefix, tmp_path
):
    events = simulate(tmp_path / "sim", "--seed", "11", "--hours", "1")
    produce(kafka_broker.bootstrap, topic_prefix, events)

    run = cluster.run(
        "submit", *stream_args(kafka_broker.bootstrap, topic_prefix, tmp_path / "chk", "--parallelism", "2")
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    decisions = decisions_of(committed(kafka_broker.bootstrap, topic_prefix + "decisions"))
    assert comparable(decisions) == reference([events]) != []
    job_id = re.search(r"JobID ([0-9a-f]{32})", run.stdout).group(1)
    vertices = {v["name"]: v["parallelism"] for v in cluster.get(f"/jobs/{job_id}")["vertices"]}
    assert {name: p for name, p in vertices.items() if p != 2} == {n: 1 for n in vertices if n.startswith("learn")}, (
        vertices
    )  # all at 2 but the learner, which sees a sample of the rows on one key


def test_stop_ends_exactly_the_recorded_jvms_and_status_then_exits_3(cluster):
    pids = cluster.pids()
    status = cluster.run("status")
    assert status.returncode == 0 and all(str(pid) in status.stdout for pid in pids.values()), status.stdout

    stopped = cluster.run("stop", timeout=120)

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not list((cluster.state / "pid").glob("*.pid"))
    assert cluster.run("status").returncode == 3
