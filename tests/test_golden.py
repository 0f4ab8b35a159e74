"""Golden cases: each `tests/golden/<case>/` holds an input, what it shows (`case.md`) and the
expected decisions. The real PyFlink job and the plain-Python reference must both produce them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import comparable, reference

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "expected.jsonl").exists())


def expected(case: str) -> list[dict]:
    return comparable([json.loads(x) for x in (GOLDEN / case / "expected.jsonl").read_text().splitlines()])


def inputs(case: str) -> list[Path]:
    return sorted((GOLDEN / case).glob("input.*"))


def config(case: str) -> Path | None:
    """The case's own configuration (`config.toml`), if it has one; else the defaults."""
    path = GOLDEN / case / "config.toml"
    return path if path.exists() else None


def test_every_case_is_complete():
    folders = [p for p in GOLDEN.iterdir() if p.is_dir() and not p.name.startswith("__")]
    assert len(folders) >= 8
    for folder in folders:
        assert inputs(folder.name), f"{folder.name}: no input file"
        assert (folder / "case.md").read_text().strip(), f"{folder.name}: no case.md"
        assert (folder / "expected.jsonl").exists(), f"{folder.name}: no expected.jsonl"


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_golden(case):
    assert reference(inputs(case), config(case)) == expected(case)


@pytest.mark.flink
@pytest.mark.parametrize("case", CASES)
def test_flink_job_matches_golden(case, run_cli):
    cfg = config(case)
    run = run_cli(inputs(case), *(["--config", str(cfg)] if cfg else []))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.dead_letters == []
    assert comparable(run.decisions) == expected(case)
    lines = sum(1 for p in inputs(case) for line in p.read_text().splitlines() if line.strip())
    assert f"read {lines}, accepted {lines}, rejected 0, decisions {len(run.decisions)}" in run.stdout
