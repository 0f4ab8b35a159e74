"""`benchmarks/bench_previews.py`: the preview fetches it layers over simulated traffic, and one tiny run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.bench_previews import KINDS, merged, previews
from tests.conftest import layered

ROOT = Path(__file__).resolve().parents[1]


def test_previews_are_bare_logged_out_fetches_of_profiles_people_view_merged_in_time_order(tmp_path) -> None:
    events, added, extra = layered(tmp_path, previews)
    viewed = {json.loads(line)["path"] for line in events.open() if '"account_id"' in line}
    pages = [e for _, e in extra if not e["path"].startswith("/static/")]
    assert pages and all(e["path"] in viewed and "account_id" not in e and "referer" not in e for e in pages)
    assert set(added.values()) == set(KINDS) and set(added) == {f"ip:{e['ip']}" for _, e in extra}
    fediverse = [e for _, e in extra if added[f"ip:{e['ip']}"] == KINDS[1]]
    assert len({e["ip"] for e in fediverse}) == len({e["user_agent"] for e in fediverse})  # one address per server
    times = [json.loads(line)["ts"] for line in merged(events, extra)]
    assert times == sorted(times) and len(times) == sum(1 for _ in events.open()) + len(extra)


def test_the_benchmark_runs_and_acts_on_no_chat_preview(tmp_path) -> None:
    """One tiny seed through the embedded job: a table row per kind; chat services name themselves, so no action."""
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_previews.py", "--scenario", "small", "--seeds", "1", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=600,
    ).stdout  # fmt: skip
    rows = {line.split(" | ")[1]: line.split(" | ") for line in out.splitlines() if line.startswith("| 1 |")}
    assert set(rows) == {*KINDS, "overall"}
    assert int(rows[KINDS[0]][2].replace(",", "")) > 50 and rows[KINDS[0]][3] == "0"
    assert rows["overall"][2].startswith("macro recall")
