"""Shared test helpers: run the real `scrapeguard` CLI (and so a real PyFlink job) in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.bench_previews import Layer
from benchmarks.broker import Broker, start_broker
from benchmarks.reference import read_events
from detectors.config import Config, load_config
from detectors.pipeline import detect
from detectors.policy import Decision

ROOT = Path(__file__).resolve().parents[1]

REALWORLD = Path(
    os.environ.get("SCRAPEGUARD_REALWORLD", Path(__file__).resolve().parents[2] / "shared" / "data" / "realworld")
)
"""The public third-party logs: `shared/data/realworld` beside the repository, or $SCRAPEGUARD_REALWORLD."""


@dataclass
class Run:
    """What one `scrapeguard run` produced."""

    returncode: int
    stdout: str
    stderr: str
    decisions: list[dict]
    dead_letters: list[dict]


def config_with(tmp_path: Path, text: str) -> Config:
    """The default configuration with the TOML `text` over it (written under `tmp_path`)."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


def comparable(decisions: list[dict]) -> list[dict]:
    """Decisions without the wall-clock `emitted_at`, in canonical order."""
    rows = [{k: v for k, v in d.items() if k != "emitted_at"} for d in decisions]
    return sorted(rows, key=lambda d: (d["event_time"], d["subject_type"], d["subject"], d["decision_id"]))


def reference(paths: list[Path], config_path: Path | None = None) -> list[dict]:
    """The plain-Python reference decisions for input files, read the way the job reads them."""
    config = load_config(config_path)
    events = [e for path in paths for e in read_events(path, config)]
    return comparable([_as_json(d) for d in detect(events, config)])


def layered(tmp_path: Path, layer: Layer, seed: int = 3) -> tuple[Path, dict[str, str], list[tuple[int, dict]]]:
    """A small simulated sample under `tmp_path` and a benchmark layer's requests over it: the events file, the
    labels the layer added, and its requests (time, event)."""
    from jobs.cli import main

    assert main(["simulate", "--out", str(tmp_path), "--scenario", "small", "--seed", str(seed), "--quiet"]) == 0
    events = tmp_path / "events.jsonl"
    labels = json.loads((tmp_path / "labels.json").read_text())
    simulated = set(labels)
    extra = layer(events, labels, seed)
    return events, {k: v for k, v in labels.items() if k not in simulated}, extra


def _as_json(d: Decision) -> dict:
    return d.to_json(0)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.fixture
def run_cli(tmp_path: Path):
    """Run `scrapeguard run` on input files; returns a `Run`."""
    return cli_runner(tmp_path)


def cli_runner(tmp_path: Path):
    """`run(inputs, *extra, name=...)`: `scrapeguard run` with its outputs in `tmp_path`, as a `Run`."""

    def run(inputs: list[Path], *extra: str, name: str = "decisions") -> Run:
        output = tmp_path / f"{name}.jsonl"
        cmd = [sys.executable, "-m", "jobs.cli", "run", "--input", *map(str, inputs), "--output", str(output), *extra]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        return Run(
            proc.returncode,
            proc.stdout,
            proc.stderr,
            _read_jsonl(output),
            _read_jsonl(output.with_name(f"{name}.dead-letter.jsonl")),
        )

    return run


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory) -> Iterator[Broker]:
    """One broker for the whole session, stopped (by its pid) at the end."""
    broker = start_broker(tmp_path_factory.mktemp("kafka"))
    yield broker
    broker.run("stop")


@pytest.fixture
def topic_prefix(kafka_broker: Broker) -> str:
    """A fresh replay set of scrapeguard topics on the session broker (tests replay old logs); returns their prefix."""
    from jobs.topics import ensure_topics

    prefix = f"t{uuid.uuid4().hex[:8]}."
    assert ensure_topics(kafka_broker.bootstrap, prefix=prefix, replay=True) == []
    return prefix
