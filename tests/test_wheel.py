"""The package installs as users install it: a built wheel in a fresh venv runs a small job (not the checkout)."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import comparable

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "tests" / "golden" / "new_account_crawler"

pytestmark = pytest.mark.flink


def test_a_built_wheel_installed_in_a_fresh_venv_runs_the_job(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("scrapeguard-*.whl")
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    installed = subprocess.run(
        [str(fresh / "bin/pip"), "install", "-q", "-c", str(ROOT / "constraints.txt"), str(wheel)],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    where = subprocess.run(
        [str(fresh / "bin/python"), "-c", "import detectors.models, jobs; print(jobs.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(fresh))  # the installed package, not the checkout
    output = tmp_path / "decisions.jsonl"
    run = subprocess.run(
        [str(fresh / "bin/scrapeguard"), "run", "--input", str(CASE / "input.jsonl"), "--output", str(output)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    expected = [json.loads(x) for x in (CASE / "expected.jsonl").read_text().splitlines()]
    assert comparable([json.loads(x) for x in output.read_text().splitlines()]) == comparable(expected)
