"""Access-log files into the `access-logs` topic, the way the streaming job expects them.

Each line becomes one message, unchanged: keyed by its account id or, when logged
out, its IP (so one subject's events stay on one partition, in order), with the
event time as the Kafka timestamp (the job's watermarks are derived from it).
A line that does not parse is still sent, so the job's dead-letter output reports
it; it gets no key and the timestamp of the line before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from detectors.config import Config
from detectors.events import BadEvent, LineReader, parse_line
from jobs.detect import read_lines


@dataclass
class Produced:
    """What `produce` sent."""

    messages: int = 0
    unparsed: int = 0
    seconds: float = 0.0


def keyed(lines: Iterable[str], config: Config) -> Iterable[tuple[bytes | None, bytes, int | None]]:
    """(key, value, timestamp ms) per non-blank line."""
    max_bytes = LineReader.for_config(config).max_bytes
    last_ts: int | None = None
    for line in lines:
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            event = parse_line(line, max_bytes)
        except BadEvent:
            yield None, line.encode("utf-8", "surrogateescape"), last_ts
            continue
        last_ts = event.ts
        yield (event.account_id or event.ip).encode(), line.encode(), event.ts


def produce(paths: list[Path], bootstrap: str, topic: str, config: Config) -> Produced:
    """Send every non-blank line of `paths`, in file order; returns once the broker has acknowledged all."""
    from kafka import KafkaProducer

    started, result = time.monotonic(), Produced()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20, batch_size=256 * 1024
    )
    try:
        for path in paths:
            for key, value, ts in keyed(read_lines(path), config):
                producer.send(topic, key=key, value=value, timestamp_ms=ts)
                result.messages += 1
                result.unparsed += key is None
        producer.flush()
    finally:
        producer.close()
    result.seconds = time.monotonic() - started
    return result
