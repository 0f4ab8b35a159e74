"""Streaming mode: follow the `decisions` topic (read_committed: only decisions of committed transactions) and the
`access-logs` topic (the evidence) into the console's database.

Offsets are kept in the database and committed in the same transaction as the rows they produced,
so a restarted feed neither skips nor repeats anything (and the rows are idempotent anyway).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import transaction

from detectors.routes import RouteTable
from review.ingest import InputError, Summary, ingest_decisions, ingest_event_lines
from review.models import FeedOffset


class FeedError(RuntimeError):
    """The broker or a topic cannot be used; the message says which."""


@dataclass
class FeedSummary:
    decisions: Summary
    events: Summary

    def line(self) -> str:
        return f"{self.decisions.line('decisions')}; {self.events.line('events')}"


def follow(
    bootstrap: str,
    prefix: str,
    routes: RouteTable,
    until_end: bool = False,
    stop: threading.Event | None = None,
    poll_ms: int = 500,
) -> FeedSummary:
    """Read both topics from the stored offsets (or the beginning) until `stop` is set, or, with `until_end`, until
    the end offsets seen at start."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    total = FeedSummary(Summary(), Summary())
    decisions_topic, events_topic = prefix + "decisions", prefix + "access-logs"
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
            group_id=None,
            client_id="scrapeguard-review-feed",
        )
    except KafkaError as exc:
        raise FeedError(f"broker {bootstrap}: {exc}") from None
    try:
        partitions = []
        for topic in (decisions_topic, events_topic):
            found = consumer.partitions_for_topic(topic)
            if not found:
                raise FeedError(f"topic {topic} does not exist at {bootstrap} (create it with infra/topics.py)")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        stored = {(o.topic, o.partition): o.offset for o in FeedOffset.objects.all()}
        for tp in partitions:
            if (tp.topic, tp.partition) in stored:
                consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                consumer.seek_to_beginning(tp)
        end = consumer.end_offsets(partitions) if until_end else {}
        while not (stop is not None and stop.is_set()):
            batch = consumer.poll(timeout_ms=poll_ms, max_records=5000)
            if batch:
                _store(batch, decisions_topic, routes, total)
            if until_end and all(consumer.position(tp) >= end[tp] for tp in partitions):
                break
    finally:
        consumer.close()
    return total


def _store(batch: dict[Any, list[Any]], decisions_topic: str, routes: RouteTable, total: FeedSummary) -> None:
    decisions: list[tuple[str, Any]] = []
    lines: list[tuple[str, bytes]] = []
    offsets = {}
    for tp, records in batch.items():
        for r in records:
            place = f"{tp.topic}:{tp.partition}:{r.offset}"
            if tp.topic == decisions_topic:
                try:
                    decisions.append((place, orjson.loads(r.value)))
                except orjson.JSONDecodeError as exc:
                    decisions.append((place, InputError(f"not valid JSON ({exc})")))
            else:
                lines.append((place, r.value or b""))
        offsets[(tp.topic, tp.partition)] = records[-1].offset + 1
    with transaction.atomic():
        events = ingest_event_lines(lines, routes)  # first: decisions then find their accounts' ages
        found = ingest_decisions(decisions)
        for (topic, partition), offset in offsets.items():
            FeedOffset.objects.update_or_create(topic=topic, partition=partition, defaults={"offset": offset})
    for mine, theirs in ((total.events, events), (total.decisions, found)):
        mine.read += theirs.read
        mine.added += theirs.added
        mine.duplicates += theirs.duplicates
        mine.rejected += theirs.rejected
        mine.reasons += theirs.reasons[: max(0, 10 - len(mine.reasons))]


def follow_in_background(bootstrap: str, prefix: str, routes: RouteTable) -> threading.Thread:
    """Run `follow` forever in a daemon thread, retrying (with a printed reason) when the broker is away."""

    def loop() -> None:
        while True:
            try:
                follow(bootstrap, prefix, routes)
            except Exception as exc:  # keep serving pages while the broker is away
                print(f"scrapeguard review feed: {exc}; retrying in 5 s", flush=True)
                time.sleep(5)

    thread = threading.Thread(target=loop, name="review-feed", daemon=True)
    thread.start()
    return thread
