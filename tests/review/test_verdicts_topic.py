"""The `verdicts` topic keeps every verdict (training data and audit trail): delete policy without a time or size
limit, never compaction alone; a topic made by the old compacted declaration is reported, not used silently."""

from __future__ import annotations

import uuid

import pytest

from jobs.topics import TOPICS, ensure_topics


def test_the_declaration_keeps_every_verdict():
    _, configs = TOPICS["verdicts"]
    assert configs["cleanup.policy"] == "delete"  # not "compact": that keeps only the latest verdict per subject
    assert configs["retention.ms"] == configs["retention.bytes"] == "-1"


@pytest.mark.kafka
def test_the_broker_has_it_so_and_an_old_compacted_topic_is_reported(kafka_broker, topic_prefix):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:
        name = topic_prefix + "verdicts"
        got = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])["topic"][name]
        assert (got["cleanup.policy"]["value"], got["retention.ms"]["value"]) == ("delete", "-1")
        old = f"t{uuid.uuid4().hex[:8]}."
        admin.create_topics([NewTopic(old + "verdicts", 4, 1, topic_configs={"cleanup.policy": "compact"})])
    finally:
        admin.close()
    problems = ensure_topics(kafka_broker.bootstrap, prefix=old)
    assert f"{old}verdicts: cleanup.policy=compact, declared delete" in problems
