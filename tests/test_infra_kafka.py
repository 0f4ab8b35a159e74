"""infra/kafka.sh and infra/topics.py against a real broker: start, topics, produce and consume, stop by pid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.broker import start_broker

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A broker of this module's own, since the last test stops it."""
    broker = start_broker(tmp_path_factory.mktemp("kafka"))
    yield broker
    broker.run("stop")


def test_topics_are_created_once_with_their_settings(broker):
    bootstrap = broker.bootstrap
    first = subprocess.run(
        [sys.executable, str(ROOT / "infra/topics.py"), "--bootstrap-servers", bootstrap],
        capture_output=True,
        text=True,
        timeout=120,
    )
    again = subprocess.run(
        [sys.executable, str(ROOT / "infra/topics.py"), "--bootstrap-servers", bootstrap],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert first.stdout.count("created") == 4 and "created" not in again.stdout
    assert "present with the declared settings" in again.stdout

    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "decisions")])["topic"]["decisions"]
        assert configs["cleanup.policy"]["value"] == "compact"
        assert {t["name"]: len(t["partitions"]) for t in admin.describe_topics(["access-logs", "dead-letter"])} == {
            "access-logs": 4,
            "dead-letter": 1,
        }
    finally:
        admin.close()


def test_messages_round_trip_with_keys_and_event_time(broker):
    from kafka import KafkaConsumer, KafkaProducer

    bootstrap = broker.bootstrap
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(20):
        producer.send(
            "access-logs", key=f"acct{i % 3}".encode(), value=f'{{"n": {i}}}'.encode(), timestamp_ms=1767600000000 + i
        )
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        "access-logs", bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    got = [(m.key, m.timestamp, m.partition) for m in consumer]
    consumer.close()
    assert sorted(ts for _, ts, _ in got) == [1767600000000 + i for i in range(20)]
    by_key = {}
    for key, _, partition in got:
        by_key.setdefault(key, set()).add(partition)
    assert all(len(parts) == 1 for parts in by_key.values())  # one key, one partition: per-subject order holds


def test_stop_ends_the_process_it_started(broker):
    status = broker.run("status")
    assert f"running (pid {broker.pid}" in status.stdout
    stopped = broker.run("stop")
    assert stopped.returncode == 0 and f"stopped (pid {broker.pid})" in stopped.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(broker.pid, 0)
    assert broker.run("status").returncode == 3
