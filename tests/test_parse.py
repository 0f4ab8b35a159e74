"""The streaming parse stage's clock, driven without Flink: the pandas UDF's function over one batch of messages."""

from __future__ import annotations

import json

import pandas as pd

from detectors.config import load_config
from jobs.parse import message_parser

START = 1_767_600_000_000  # 2026-01-05T08:00:00Z
HALF_HOUR = 1_800_000


def message(ts: int) -> str:
    return json.dumps({"ts": ts, "ip": "192.0.2.1", "method": "GET", "path": "/static/app.js", "status": 200})


def test_a_row_carries_the_clock_its_message_moved_so_the_watermark_reaches_the_last_one():
    """The restart test's closing events on one partition: three at each half hour. The partition's clock (the
    median of its last five events) reaches the last half hour with the last message; that message's row must
    carry it, or no row does and the watermark stops half an hour short (a repeat offender's second lapse, two
    hours on, then never comes: account:a1013 on the default scenario, seed 3)."""
    parse = message_parser("access-logs", load_config(), idle_ms=30_000, partitions=1, readers=1)._func
    times = [START + i * 1000 for i in range(5)] + [START + step * HALF_HOUR for step in range(1, 5) for _ in range(3)]
    rows = parse(pd.Series([message(t) for t in times]), pd.Series([0] * len(times)), pd.Series(range(len(times))))

    assert rows["dead"].isna().all()
    assert rows["clock"].iloc[-1] == START + 4 * HALF_HOUR
    assert rows["clock"].iloc[4] == START + 2000  # the clock starts with the fifth event
    assert list(rows["clock"].iloc[4:]) == sorted(rows["clock"].iloc[4:])


def test_no_message_is_accepted_behind_the_watermark_an_earlier_row_brought(monkeypatch):
    """The late check's floor follows the rows' clocks: a partition back from idle (its clock behind the others')
    lowers the slowest clock, but not below what an earlier row already made the watermark."""
    wall = [START / 1000 + 86_400.0]
    monkeypatch.setattr("jobs.parse.time", type("Clock", (), {"time": staticmethod(lambda: wall[0])}))
    parse = message_parser("access-logs", load_config(), idle_ms=30_000, partitions=2, readers=1)._func

    def feed(partition: int, *seconds: float):
        ts = [START + int(s * 1000) for s in seconds]
        rows = parse(pd.Series([message(t) for t in ts]), pd.Series([partition] * len(ts)), pd.Series(range(len(ts))))
        return list(zip(ts, rows["clock"], rows["dead"], strict=True))

    rows = feed(0, 0, 1, 2, 3, 4) + feed(1, 100, 101, 102, 103, 104)  # clocks: partition 0 at 2 s, 1 at 102 s
    wall[0] += 31  # both idle
    rows += feed(1, 200)  # partition 1 alone: its clock 103 s, the row's watermark 103 s - 30 s - 1 ms
    rows += feed(0, 72.5)  # partition 0 back (2 s): the slowest is 2 s again, but 72.5 s is behind that watermark
    lag = 30_000
    for i, (ts, _, dead) in enumerate(rows):
        watermark = max((c for _, c, _ in rows[:i] if c is not None), default=None)
        assert dead is not None or watermark is None or ts > watermark - lag - 1, (i, ts, watermark)
    assert "late: " in (rows[-1][2] or "")  # dead-lettered, not dropped unseen by the windows
