"""infra/kafka.sh and infra/topics.py against a real broker: start, topics, produce and consume, stop by pid."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """A broker started by infra/kafka.sh on free ports in a temporary state dir; stopped afterwards."""
    state = tmp_path_factory.mktemp("kafka")
    env = {
        **os.environ,
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_STATE_DIR": str(state),
    }
    script = str(ROOT / "infra/kafka.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, started.stdout + started.stderr
    pid = int((state / "kafka.pid").read_text())
    yield f"127.0.0.1:{env['KAFKA_PORT']}", pid, env, script
    subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=120)


def test_topics_are_created_once_with_their_settings(broker):
    bootstrap = broker[0]
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

    bootstrap = broker[0]
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
    _, pid, env, script = broker
    status = subprocess.run([script, "status"], env=env, capture_output=True, text=True)
    assert f"running (pid {pid}" in status.stdout
    stopped = subprocess.run([script, "stop"], env=env, capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0 and f"stopped (pid {pid})" in stopped.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert subprocess.run([script, "status"], env=env, capture_output=True, text=True).returncode == 3
