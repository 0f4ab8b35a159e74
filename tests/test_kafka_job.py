"""The streaming job on a real broker: Kafka in, Kafka out, exactly once, through a crash, and for outside clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from detectors.events import format_ms, parse_timestamp
from tests.conftest import comparable, reference

pytestmark = [pytest.mark.kafka, pytest.mark.flink]


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], capture_output=True, text=True, timeout=timeout)


def stream_args(bootstrap: str, prefix: str, checkpoints: Path, *extra: str) -> list[str]:
    return [
        "run", "--bootstrap-servers", bootstrap, "--topic-prefix", prefix,
        "--checkpoint-interval", "2s", "--checkpoint-dir", str(checkpoints), "--until-end", *extra,
    ]  # fmt: skip


def committed(bootstrap: str, topic: str, wait_ms: int = 4000) -> list:
    """Every committed message of `topic`, read as an enforcement service reads it (`read_committed`)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        consumer_timeout_ms=wait_ms,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


def decisions_of(messages: list) -> list[dict]:
    """The decision values (tombstones left out), after checking each message is keyed by its subject."""
    values = [json.loads(m.value) for m in messages if m.value is not None]
    assert [m.key.decode() for m in messages if m.value is not None] == [
        f"{d['subject_type']}:{d['subject']}" for d in values
    ]
    return values


def tombstones_of(messages: list) -> list[str]:
    """The keys of the tombstones (null values), each checked to follow a decision on its key."""
    keys = []
    for i, m in enumerate(messages):
        if m.value is None:
            assert any(x.key == m.key and x.value is not None for x in messages[:i]), m.key
            keys.append(m.key.decode())
    return keys


def ending_on_tombstones(messages: list) -> set[str]:
    """The keys whose last message is a tombstone (a key's messages are in one partition, in order): the subjects a
    compacted topic forgets."""
    return {k.decode() for k, v in {m.key: m.value for m in messages}.items() if v is None}


def simulate(out: Path, *args: str) -> Path:
    made = cli("simulate", "--out", str(out), *args)
    assert made.returncode == 0, made.stderr
    return out / "events.jsonl"


def produce(bootstrap: str, prefix: str, path: Path) -> None:
    sent = cli("produce", "--input", str(path), "--bootstrap-servers", bootstrap, "--topic-prefix", prefix)
    assert sent.returncode == 0, sent.stderr


@pytest.fixture(scope="module")
def events_with_bad_lines(tmp_path_factory) -> Path:
    """An hour of simulated traffic with a malformed line, a line 10 minutes late and one 21 hours ahead (a
    skewed clock) in the middle."""
    out = tmp_path_factory.mktemp("sim")
    lines = simulate(out, "--seed", "7", "--hours", "1").read_text().splitlines()
    middle = len(lines) // 2
    late, future = json.loads(lines[middle]), json.loads(lines[middle])
    late["ts"] = format_ms(parse_timestamp(late["ts"]) - 600_000)
    future["ts"] = format_ms(parse_timestamp(future["ts"]) + 21 * 3_600_000)
    lines[middle:middle] = ['{"ts": "2026-01-05T08:00:00Z", "ip": "not-an-ip"', json.dumps(late), json.dumps(future)]
    path = out / "with-bad-lines.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def verdicts(events_with_bad_lines, tmp_path_factory) -> Path:
    """An analyst confirms an account mid-way through the hour; plus a verdict that is not one."""
    lines = events_with_bad_lines.read_text().splitlines()
    account = next(json.loads(x)["account_id"] for x in lines if '"account_id"' in x)
    when = json.loads(lines[len(lines) // 3])["ts"]
    path = tmp_path_factory.mktemp("verdicts") / "verdicts.jsonl"
    confirm = {"ts": when, "subject_type": "account", "subject": account, "verdict": "confirm"}
    path.write_text(json.dumps(confirm) + '\n{"ts": "' + when + '", "verdict": "maybe"}\n')
    return path


def produce_verdicts(bootstrap: str, topic: str, path: Path) -> None:
    """Analyst verdicts as a review tool would send them: keyed by subject, Kafka timestamp = verdict time."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for line in path.read_text().splitlines():
        v = json.loads(line)
        key = f"{v.get('subject_type')}:{v.get('subject')}".encode()
        producer.send(topic, key=key, value=line.encode(), timestamp_ms=parse_timestamp(v["ts"]))
    producer.close()


def test_streaming_job_commits_the_embedded_jobs_decisions(
    kafka_broker, topic_prefix, events_with_bad_lines, verdicts, run_cli, tmp_path
):
    embedded = run_cli([events_with_bad_lines], "--verdicts", str(verdicts))
    assert embedded.returncode == 0 and len(embedded.decisions) > 5, embedded.stderr
    assert [d["reasons"] for d in embedded.decisions if d["action"] == "block"].count(["analyst_confirmed"]) == 1
    produce(kafka_broker.bootstrap, topic_prefix, events_with_bad_lines)
    produce_verdicts(kafka_broker.bootstrap, topic_prefix + "verdicts", verdicts)

    run = cli(*stream_args(kafka_broker.bootstrap, topic_prefix, tmp_path / "chk", "--parallelism", "2"))
    assert run.returncode == 0, run.stderr[-3000:]
    messages = committed(kafka_broker.bootstrap, topic_prefix + "decisions")
    decisions = decisions_of(messages)
    assert sorted(d["decision_id"] for d in decisions) == sorted(d["decision_id"] for d in embedded.decisions)
    assert comparable(decisions) == comparable(embedded.decisions)
    dead = [json.loads(m.value) for m in committed(kafka_broker.bootstrap, topic_prefix + "dead-letter")]
    assert sorted(d["raw"] for d in dead) == sorted(d["raw"] for d in embedded.dead_letters)
    assert len(dead) == 4 and sum(d["reason"].startswith("late: ") for d in dead) == 1
    assert sum(d["reason"].startswith("too far ahead: ") for d in dead) == 1
    # Without the bad lines, the same decisions: the line far ahead did not move any partition's clock.
    bad = {d["raw"] for d in embedded.dead_letters}
    clean = tmp_path / "without-bad-lines.jsonl"
    clean.write_text("".join(x + "\n" for x in events_with_bad_lines.read_text().splitlines() if x not in bad))
    with_verdicts = run_cli([clean], "--verdicts", str(verdicts), name="clean")
    assert with_verdicts.returncode == 0, with_verdicts.stderr[-3000:]
    assert [d["source"] for d in with_verdicts.dead_letters] == [str(verdicts)]  # only the verdict that is none
    assert comparable(decisions) == comparable(with_verdicts.decisions)
    for d in dead:
        topic = "verdicts" if "maybe" in d["raw"] else "access-logs"
        assert d["source"] == topic_prefix + topic and d["partition"] in range(4) and d["offset"] >= 0


def close_event_time(bootstrap: str, topic: str, events: Path) -> None:
    """Move each partition's clock two hours past the last event with events counted by no rule, so an unbounded
    job emits the decisions of every real event.

    An input's clock is the median of its last 5 event times and rejects an event more than
    `[time] max_ahead` (1 h) ahead of it, so the clock is walked forward: three events at each
    half hour, as a quiet server's health checks would.
    """
    from kafka import KafkaProducer

    last = max(parse_timestamp(json.loads(line)["ts"]) for line in events.read_text().splitlines())
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for partition in producer.partitions_for(topic):
        for step in range(1, 5):
            ts = last + step * 1_800_000
            closer = {"ts": format_ms(ts), "ip": "192.0.2.1", "method": "GET", "path": "/static/app.js", "status": 200}
            for _ in range(3):
                producer.send(topic, value=json.dumps(closer).encode(), partition=partition, timestamp_ms=ts)
    producer.close()


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.2)


def test_restart_from_checkpoint_after_a_crash_loses_and_duplicates_nothing(kafka_broker, topic_prefix, tmp_path):
    """An unbounded job is killed mid-stream, then resumed from its latest retained checkpoint; the decisions
    committed across both runs are the uninterrupted run's, each once."""
    events = simulate(tmp_path / "sim", "--scenario", "default", "--seed", "3", "--max-events", "300000")
    expected = reference([events])
    produce(kafka_broker.bootstrap, topic_prefix, events)
    close_event_time(kafka_broker.bootstrap, topic_prefix + "access-logs", events)
    checkpoints, topic = tmp_path / "chk", topic_prefix + "decisions"
    args = [sys.executable, "-m", "jobs.cli", *stream_args(kafka_broker.bootstrap, topic_prefix, checkpoints)]
    args += ["--delivery", "exactly-once"]
    args.remove("--until-end")

    def committed_decisions(wait_ms: int = 4000) -> list[dict]:
        return decisions_of(committed(kafka_broker.bootstrap, topic, wait_ms))

    def run_until(condition, what: str, *extra: str) -> None:
        job = subprocess.Popen(
            [*args, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            wait_for(lambda: job.poll() is None and condition(), 300, what)
        finally:
            os.killpg(job.pid, signal.SIGKILL)  # the CLI, its JVM and Python workers: a crash, no clean shutdown
            job.wait()

    run_until(lambda: bool(list(checkpoints.glob("*/chk-*/_metadata")) and committed_decisions(300)), "a checkpoint")
    before = committed_decisions()
    assert 0 < len(before) < len(expected), "the crash should come mid-stream"

    # The closing event moves event time two hours on: every subject whose last decision lapsed by then ends on a
    # tombstone, so the compacted topic can forget it; blocks (48 h) are still in force. The tombstones of the
    # last lapses come after the last decision, so the job runs until they are committed too. A subject may lapse,
    # return and lapse again, and the last of those lapses counts: account:a1013 is challenged 08:51-09:51, then
    # (a repeat offence) to 11:51:56, which only the last closing events' watermark passes.
    closed = max(parse_timestamp(json.loads(line)["ts"]) for line in events.read_text().splitlines()) + 7_200_000
    watermark = closed - 30_001  # the input clock at the close, less the out-of-orderness (30 s) and 1 ms
    last = {f"{d['subject_type']}:{d['subject']}": d for d in expected}  # in event-time order
    lapsed = {k for k, d in last.items() if parse_timestamp(d["expires_at"]) <= watermark}

    def done() -> bool:
        messages = committed(kafka_broker.bootstrap, topic, 1000)
        return len(decisions_of(messages)) >= len(expected) and ending_on_tombstones(messages) >= lapsed

    run_until(done, "all decisions and tombstones", "--restore", str(checkpoints))

    messages = committed(kafka_broker.bootstrap, topic)
    after = decisions_of(messages)
    assert len({d["decision_id"] for d in after}) == len(after)  # none twice
    assert comparable(after) == expected  # none lost, none added
    tombstoned = set(tombstones_of(messages))
    assert lapsed and ending_on_tombstones(messages) == lapsed  # the lapsed end on a tombstone, no other does
    # a subject may also lapse and return: a tombstone, then a decision still in force at the close
    for k in tombstoned - lapsed:
        assert parse_timestamp(last[k]["expires_at"]) > watermark, k


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is installed by `make test` (Debian package kcat)")
def test_outside_clients_produce_and_consume_with_kcat(kafka_broker, topic_prefix, tmp_path):
    """Live traffic from a log shipper: kcat stamps each message with the time it sends it, as shippers do."""
    now = int(time.time() * 1000)
    # Profile ids spread out, not walked in order: with ids in order, a crawl that began 48-56 s into a wall-clock
    # minute drew `sequential_enumeration` at that minute's end, before the 61st view's `ip_profile_views_1m`.
    crawl = [
        json.dumps(
            {
                "ts": now - 20_000 + 200 * i,
                "ip": "198.18.0.9",
                "method": "GET",
                "path": f"/u/{1000 + 37 * i}",
                "status": 200,
            }
        )
        for i in range(90)
    ]
    lines = "".join(f"ip:198.18.0.9\t{line}\n" for line in crawl) + "ip:198.18.0.9\tnot json\n"
    topic = topic_prefix + "access-logs"
    sent = subprocess.run(
        ["kcat", "-P", "-b", kafka_broker.bootstrap, "-t", topic, "-K", "\t"],
        input=lines, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr

    run = cli(*stream_args(kafka_broker.bootstrap, topic_prefix, tmp_path / "chk"))
    assert run.returncode == 0, run.stderr[-3000:]

    read = subprocess.run(
        ["kcat", "-C", "-b", kafka_broker.bootstrap, "-t", topic_prefix + "decisions", "-e", "-q",
         "-X", "isolation.level=read_committed", "-f", "%k\t%s\n"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr
    got = [line.split("\t", 1) for line in read.stdout.splitlines()]
    assert [(key, json.loads(value)["action"]) for key, value in got] == [("ip:198.18.0.9", "challenge")]
    assert json.loads(got[0][1])["reasons"] == ["ip_profile_views_1m"]
    dead = subprocess.run(
        ["kcat", "-C", "-b", kafka_broker.bootstrap, "-t", topic_prefix + "dead-letter", "-e", "-q"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert [json.loads(line)["raw"] for line in dead.stdout.splitlines()] == ["not json"]
