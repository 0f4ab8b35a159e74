"""`benchmarks/bench_search_pages.py`: the search harvests it layers over simulated traffic."""

from __future__ import annotations

from benchmarks.bench_search_pages import KINDS, harvests
from detectors.config import load_config
from tests.conftest import layered


def test_harvests_page_through_search_results_and_open_no_profile(tmp_path) -> None:
    _, added, extra = layered(tmp_path, harvests)
    routes = load_config().routes
    pages = [e for _, e in extra if not e["path"].startswith("/static/")]
    assert {routes.classify(e["path"])[0] for e in pages} == {"search"}
    assert all(e["records"] == (20 if e["path"].startswith("/api/") else 10) for e in pages)
    assert set(added.values()) == set(KINDS)
    actors = {f"account:{e['account_id']}" if "account_id" in e else f"ip:{e['ip']}" for _, e in extra}
    assert actors == set(added)
    times = [t for t, _ in extra]
    assert times == sorted(times) and len(pages) > 1000
