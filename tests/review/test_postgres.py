"""The same API test against a real PostgreSQL server, started and stopped (by its pid) with infra/postgres.sh."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from benchmarks.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not Path("/usr/lib/postgresql/15/bin/initdb").exists(),
        reason="PostgreSQL 15 is installed by `make test` (Debian package postgresql-15)",
    ),
]


def test_the_api_and_retention_tests_pass_on_postgresql():
    state = Path(tempfile.mkdtemp(prefix="review-pg-"))  # under /tmp: the server's user must reach it
    env = {**os.environ, "PG_STATE_DIR": str(state), "PG_PORT": str(free_port())}
    script = str(ROOT / "infra/postgres.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    pid = int((state / "postgres.pid").read_text())
    try:
        url = (state / "url").read_text().strip()
        # the whole API and retention tests, whatever options the outer run was given (PYTEST_ADDOPTS could select
        # or add output)
        inner_env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        tests = ["tests/review/test_api.py", "tests/review/test_retention.py"]
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
            env={**inner_env, "SCRAPEGUARD_REVIEW_DATABASE": url},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        summary = run.stdout.strip().splitlines()[-1]
        # pytest's last line: every test passed, none failed, errored or was skipped (the durations or a test's name
        # may contain "failed", so the whole output is not searched)
        assert re.fullmatch(r"\d+ passed(, \d+ warnings?)? in [\d.]+s( \([\d:]+\))?", summary), run.stdout[-4000:]
    finally:
        stopped = subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=120)
    assert f"stopped (pid {pid})" in stopped.stdout
    assert not Path(f"/proc/{pid}").exists()
