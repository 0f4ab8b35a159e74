"""Access-log files into the `access-logs` topic, the way the streaming job expects them.

Each line becomes one message, unchanged: keyed by its account id or, when logged
out, its IP (so one subject's events stay on one partition, in order), with the
event time as the Kafka timestamp (the job's watermarks are derived from it).
A line that does not parse is still sent, so the job's dead-letter output reports
it; it gets no key and the timestamp of the line before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from detectors.config import Config
from detectors.events import BadEvent, LineReader, parse_line
from jobs.inputs import Source, is_stdin

Tick = Callable[[int, int | None, float | None], None]
"""Progress callback: (messages sent since the last call, latest event time, share of the input bytes or None)."""
TICK_MESSAGES = 1024


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


class ProduceError(Exception):
    """The broker or the topic cannot be written to; the message says which and why."""


def produce(
    paths: list[Path],
    bootstrap: str,
    topic: str,
    config: Config,
    connect_timeout_ms: int = 10_000,
    tick: Tick | None = None,
) -> Produced:
    """Send every non-blank line of `paths` (`-`: standard input), in file order; returns once the broker has
    acknowledged all.

    A broker that does not answer within `connect_timeout_ms`, a topic that does not exist, or a broker that
    stops accepting messages for that long raises `ProduceError`. `tick(messages, event time, share of the
    files' bytes read)` is called every `TICK_MESSAGES` messages and at the end.
    """
    from kafka import KafkaProducer
    from kafka.errors import KafkaError, KafkaTimeoutError

    started, result = time.monotonic(), Produced()
    try:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=20,
            batch_size=256 * 1024,
            bootstrap_timeout_ms=connect_timeout_ms,
            max_block_ms=connect_timeout_ms,
            allow_auto_create_topics=False,
        )
    except KafkaError as exc:
        raise ProduceError(f"--bootstrap-servers {bootstrap}: no Kafka broker answers ({exc})") from None
    try:
        try:
            producer.partitions_for(topic)
        except KafkaTimeoutError:
            raise ProduceError(
                f"topic {topic} does not exist on {bootstrap} (create it: python infra/topics.py "
                f"--bootstrap-servers {bootstrap})"
            ) from None
        sizes = [None if is_stdin(p) else p.stat().st_size for p in paths]
        done_bytes = 0
        last_ts: int | None = None
        for path, size in zip(paths, sizes, strict=True):
            with Source(path) as source:
                for key, value, ts in keyed(source.text_lines(), config):
                    producer.send(topic, key=key, value=value, timestamp_ms=ts)
                    result.messages += 1
                    result.unparsed += key is None
                    last_ts = ts if ts is not None else last_ts
                    if tick is not None and result.messages % TICK_MESSAGES == 0:
                        tick(TICK_MESSAGES, last_ts, _share(done_bytes + source.position, sizes))
            done_bytes += size or 0
        producer.flush()
    except KafkaError as exc:
        raise ProduceError(f"{topic} on {bootstrap}: {exc}") from None
    finally:
        producer.close()
    if tick is not None:
        tick(result.messages % TICK_MESSAGES, last_ts, _share(done_bytes, sizes))
    result.seconds = time.monotonic() - started
    return result


def _share(done: int, sizes: list[int | None]) -> float | None:
    """Share of the input bytes read; None when one of the inputs is standard input (size unknown) or all are empty."""
    if any(size is None for size in sizes):
        return None
    total = sum(size or 0 for size in sizes)
    return done / total if total else None
