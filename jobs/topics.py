"""Creates scrapeguard's Kafka topics if they are missing (idempotent), and checks the ones that exist.

    python infra/topics.py --bootstrap-servers 127.0.0.1:19092 [--partitions 4] [--topic-prefix staging.]

Exits 1, naming the topic and setting, if an existing topic differs from what is declared here; 2, in one line,
if the broker does not answer.
"""

from __future__ import annotations

import argparse
import sys
import time

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

DAY_MS = 86_400_000

# name -> (partitions or None for --partitions, topic configs)
TOPICS: dict[str, tuple[int | None, dict[str, str]]] = {
    # Input: one access event (v1 JSON) per message, keyed by account id, or by IP when logged out. Kafka
    # applies retention.ms to the message timestamps, which are event times: see REPLAY for old logs.
    "access-logs": (None, {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}),
    # Output: v1 decisions keyed by "subject_type:subject"; compacted, so the latest decision per subject
    # (the current blocklist) can be rebuilt from the topic alone. Compaction waits an hour, so a consumer
    # less than an hour behind sees every decision, not only the latest per subject.
    "decisions": (
        None,
        {
            "cleanup.policy": "compact",
            "min.compaction.lag.ms": str(DAY_MS // 24),
            "min.cleanable.dirty.ratio": "0.1",
            "segment.ms": str(DAY_MS // 24),
            "delete.retention.ms": str(DAY_MS),
        },
    ),
    # Rejected input with the reason; kept two weeks for investigation.
    "dead-letter": (1, {"cleanup.policy": "delete", "retention.ms": str(14 * DAY_MS)}),
    # Analyst verdicts keyed by "subject_type:subject". Every verdict is kept, for ever: they are the verdict model's
    # training data and the audit trail of who released or confirmed whom, so compaction (which keeps only the latest
    # verdict per subject) would destroy both. Analysts make a few thousand a day at most, so size is no concern.
    "verdicts": (None, {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}),
}


REPLAY = {"access-logs": {"retention.ms": "-1"}}
"""Overrides for a replay topic set: logs older than the retention would be deleted minutes after they are
produced (at the broker's next retention check), so a replay's input is kept until the topics are deleted."""


def connect(bootstrap: str, timeout_s: float = 30.0) -> KafkaAdminClient:
    """An admin client, retrying until the broker answers or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="scrapeguard-topics")
        except KafkaTimeoutError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def partition_counts(admin: KafkaAdminClient, names: list[str], timeout_s: float = 15.0) -> dict[str, int]:
    """Partitions per named topic, once the metadata of newly created topics has them."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}
        if all(counts.values()) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def ensure_topics(bootstrap: str, partitions: int = 4, prefix: str = "", replay: bool = False) -> list[str]:
    """Create what is missing (each name after `prefix`, with `REPLAY` settings if `replay`); return the problems
    found with existing topics."""
    admin = connect(bootstrap)
    declared = {
        prefix + name: (count, {**configs, **(REPLAY.get(name, {}) if replay else {})})
        for name, (count, configs) in TOPICS.items()
    }
    try:
        existing = set(admin.list_topics())
        for name, (count, configs) in declared.items():
            if name in existing:
                continue
            try:
                admin.create_topics([NewTopic(name, count or partitions, 1, topic_configs=configs)])
                print(f"topics: created {name} ({count or partitions} partitions, {configs})")
            except TopicAlreadyExistsError:
                pass
        problems = []
        described = partition_counts(admin, list(declared))
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in declared]
        actual = admin.describe_configs(resources)["topic"]
        for name, (count, configs) in declared.items():
            if count is not None and described[name] != count:
                problems.append(f"{name}: {described[name]} partitions, declared {count}")
            for key, value in configs.items():
                got = actual.get(name, {}).get(key, {}).get("value")
                if got != value:
                    problems.append(f"{name}: {key}={got}, declared {value}")
        return problems
    finally:
        admin.close()


def parser() -> argparse.ArgumentParser:
    """The command line of `infra/topics.py` (flags spelled as in `scrapeguard`)."""
    from jobs.cli import DeprecatedAlias, HelpFormatter

    p = argparse.ArgumentParser(
        prog="infra/topics.py", description=__doc__.splitlines()[0], formatter_class=HelpFormatter
    )
    p.add_argument("--bootstrap-servers", default="127.0.0.1:19092", metavar="HOST:PORT", help="the Kafka broker(s)")
    p.add_argument("--partitions", type=int, default=4, metavar="N", help="of access-logs, decisions, verdicts")
    p.add_argument("--topic-prefix", default="", metavar="PREFIX", help="before every topic name, e.g. staging.")
    p.add_argument("--prefix", dest="topic_prefix", metavar="PREFIX", action=DeprecatedAlias, new="--topic-prefix")
    p.add_argument("--replay", action="store_true", help="keep access-logs regardless of event time (old logs)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    prefix = args.topic_prefix
    try:
        problems = ensure_topics(args.bootstrap_servers, args.partitions, prefix, args.replay)
    except KafkaError as exc:
        print(f"topics: --bootstrap-servers {args.bootstrap_servers}: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"topics: {problem}", file=sys.stderr)
    if not problems:
        print(f"topics: {', '.join(prefix + name for name in TOPICS)} present with the declared settings")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
