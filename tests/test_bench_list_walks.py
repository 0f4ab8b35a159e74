"""`benchmarks/bench_list_walks.py`: the list-led walks and logged-out clients it layers over simulated traffic."""

from __future__ import annotations

from collections import Counter

from benchmarks.bench_list_walks import KINDS, walks
from detectors.config import load_config
from tests.conftest import layered


def test_walkers_come_from_followers_lists_admins_from_member_lists_and_monitors_and_readers_come_back(
    tmp_path,
) -> None:
    events, added, extra = layered(tmp_path, walks)
    assert set(added.values()) == set(KINDS)
    routes = load_config().routes
    by_kind: dict[str, list[dict]] = {k: [] for k in KINDS}
    for _, e in extra:
        by_kind[added[f"account:{e['account_id']}" if "account_id" in e else f"ip:{e['ip']}"]].append(e)
    walked = [e for e in by_kind["scraper_graph_walker"] if routes.classify(e["path"])[0] == "profile_view"]
    assert walked and sum("/followers?page=" in e.get("referer", "") for e in walked) > 0.8 * len(walked)
    admins = by_kind["benign_group_admin"]
    assert all("/groups/" in e["referer"] for e in admins if routes.classify(e["path"])[0] == "profile_view")
    assert sum(e["path"].startswith("/static/avatars/") for e in admins) > 0.4 * len(admins)
    for kind in ("scraper_change_monitor", "benign_feed_reader"):  # the same people again and again
        assert max(Counter(e["path"] for e in by_kind[kind]).values()) > 2
    assert all("account_id" not in e and e["path"].endswith(".rss") for e in by_kind["benign_feed_reader"])
    times = [t for t, _ in extra]
    assert times == sorted(times) and walks(events, {}, 3) == extra  # the same draws every time
