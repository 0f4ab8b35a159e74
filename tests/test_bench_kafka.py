"""The Kafka benchmark's live traffic and its choice of decisions to time (the runs themselves: `test_bench.py`)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench_kafka import delays, live_traffic, per_request
from detectors.config import load_config
from detectors.events import format_ms
from detectors.features.request import network_of


def _event(ts: int, ip: str, account: str | None = None) -> dict:
    event = {"ts": ts, "ip": ip, "method": "GET", "path": "/u/1", "status": 200}
    return {**event, "account_id": account} if account else event


def test_live_traffic_lays_slices_of_the_source_over_each_other_keeping_their_actors_apart(tmp_path: Path) -> None:
    t0 = 1_767_600_000_000
    source = []
    for j in range(5):  # five 10-second slices of four requests each
        base = t0 + j * 10_000
        source += [
            _event(base + 100, "10.1.2.3", "a1"),
            _event(base + 200, "10.1.2.4"),  # same /24 as 10.1.2.3
            _event(base + 300, "2001:db8:5::9"),
            _event(base + 400, "66.249.64.7"),  # the default config's googlebot range: allowlisted
        ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in source))

    events = live_traffic(path, rate=1.0, seconds=10, config=load_config())  # 10 events wanted: three slices

    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert all(0 <= e["ts"] < 10_000 for e in events)
    assert len(events) == 4 + 3 + 3  # whole slices; the crawler only in the first
    accounts = sorted(e["account_id"] for e in events if "account_id" in e)
    assert accounts == ["a1", "a1~1", "a1~2"]
    ips = [e["ip"] for e in events]
    assert ips.count("66.249.64.7") == 1 and {"10.1.2.3", "10.1.2.4", "2001:db8:5::9"} <= set(ips)
    moved = [ip for ip in ips if ip not in {"10.1.2.3", "10.1.2.4", "2001:db8:5::9", "66.249.64.7"}]
    assert len(moved) == len(set(moved)) == 6  # every slice's addresses are its own
    networks = {network_of(ip) for ip in moved}
    assert len(networks) == 4  # per slice, the two addresses of one /24 share a /48, the IPv6 one has its own


def test_only_limits_counted_per_request_are_timed() -> None:
    assert per_request("ip_profile_views_1m") and per_request("new_account_profile_views_5m")
    assert not per_request("account_profile_views_10m") and not per_request("account_profile_views_24h")
    assert not per_request("address_fleet") and not per_request("automation_user_agent")


def test_a_decision_is_timed_from_the_append_of_the_request_that_crossed_the_limit() -> None:
    t = 1_767_600_000_000

    def decision(subject_type: str, subject: str, ts: int, reasons: list[str], emitted: int) -> bytes:
        return json.dumps({"subject_type": subject_type, "subject": subject, "reasons": reasons,
                           "event_time": format_ms(ts), "emitted_at": format_ms(emitted)}).encode()  # fmt: skip

    readable = [
        (t / 1000 + 4.0, decision("ip", "10.0.0.9", t + 500, ["ip_profile_views_1m"], t + 3000)),
        (t / 1000 + 9.0, decision("ip", "10.0.0.9", t + 500, ["ip_profile_views_1m"], t + 3000)),  # read twice
        (t / 1000 + 5.0, decision("account", "a1", t + 700, ["account_profile_views_1m"], t + 4000)),
        (t / 1000 + 5.0, decision("account", "a2", t + 900, ["automation_user_agent"], t + 4000)),  # not a limit
        (t / 1000 + 6.0, decision("account", "a3", t - 5000, ["account_profile_views_1m"], t + 4000)),  # warm-up
    ]
    appended = b"".join(
        b"%d %s\n" % (at, json.dumps(event).encode())
        for at, event in [
            (t + 1000, _event(t + 500, "10.0.0.9")),
            (t + 1500, _event(t + 700, "10.0.0.9", "a1")),  # logged in: its account's
            (t + 1600, _event(t + 900, "10.0.0.8", "a2")),
            (t - 4000, _event(t - 5000, "10.0.0.7", "a3")),
            (t + 1700, _event(t + 800, "10.0.0.9", "a1")),  # another request of a1
        ]
    )
    assert delays(readable, appended, since=t) == [(3.0, 2.0), (3.5, 2.5)]
