"""`scrapeguard bench kafka`: the streaming job on a real broker, beside the same path without detection.

- **Throughput.** kcat (librdkafka, not a Python loop) appends N events of `large` to `access-logs`,
  timed on its own so the load generator is shown not to be the bottleneck. Then the backlog is
  drained, from the earliest to the latest offset, by the Kafka pass-through (source and parse stage,
  no detection: the ceiling) and by `scrapeguard run --bootstrap-servers ... --until-end`. A job that
  drains a backlog at R events/s keeps up with any steady rate below R, so R is the highest rate at
  which its lag does not grow (JVM and job start included, so R is a lower bound).
- **Latency.** Live traffic at `--rate` events/s for `--seconds` s, paced by `pv --line-mode` into
  kcat, into an `access-logs` topic that stamps each message with its append time (`LogAppendTime`).
  The traffic is `large` itself, laid over itself so that its event time runs with the wall clock
  at that rate (`live_traffic`). A consumer reads `decisions` with `read_committed` and notes when
  each became readable. Measured: for each decision on a request over a limit counted per request
  (`per_request`; the request that crossed it is the decision's subject and event time), the time
  from that request's append to its decision being readable, and to the decision's `emitted_at`;
  requests of the first `WARMUP_S` seconds (job start) are left out.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from benchmarks.broker import ROOT, Broker, start_broker
from detectors.allowlist import Allowlist
from detectors.config import Config, load_config, parse_duration
from detectors.events import parse_timestamp
from detectors.rules.base import SHORT_WINDOW_MS
from jobs.topics import connect, ensure_topics

LEAD_S = 20
"""A latency run's traffic starts this long after its job was started."""
TAIL_S = 15
"""How long a latency run waits for decisions after its traffic ends, beyond the out-of-orderness and a checkpoint."""
WARMUP_S = 30
"""Requests of the first seconds of a latency run (at most a third of it) are not measured: the job may still be
catching up with its start."""
SETTINGS = {
    "default": ([], ""),
    "fast": (["--delivery", "at-least-once"], '[time]\nout_of_orderness = "1s"\n'),
}
"""Latency runs: extra `scrapeguard run` arguments and configuration. `fast` is the recommended low-latency setting:
decisions readable as soon as written (a replay after a failure writes some again, with the same `decision_id`),
and requests more than 1 s late go to dead-letter instead of being counted."""


def kcat(broker: Broker, *args: str) -> list[str]:
    return ["kcat", "-b", broker.bootstrap, "-q", *args]


def append(broker: Broker, topic: str, path: Path) -> float:
    """Append every line of `path` to `topic` with kcat; the seconds it took."""
    started = time.monotonic()
    subprocess.run(kcat(broker, "-P", "-t", topic, "-l", str(path), "-X", "linger.ms=20"), check=True)
    return time.monotonic() - started


def topics(broker: Broker, log_append_time: bool = False) -> str:
    """A fresh set of scrapeguard topics (replay settings); their prefix."""
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    problems = ensure_topics(broker.bootstrap, prefix=prefix, replay=True)
    if problems:
        raise RuntimeError(f"topics: {problems}")
    if log_append_time:
        from kafka.admin import ConfigResource, ConfigResourceType

        admin = connect(broker.bootstrap)
        try:
            resource = ConfigResource(
                ConfigResourceType.TOPIC, prefix + "access-logs", configs={"message.timestamp.type": "LogAppendTime"}
            )
            admin.alter_configs([resource])
        finally:
            admin.close()
    return prefix


def job(broker: Broker, prefix: str, tmp: Path, parallelism: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "jobs.cli", "run", "--bootstrap-servers", broker.bootstrap, "--topic-prefix", prefix,
            "--group-id", f"{prefix}detect", "--transactional-id-prefix", f"{prefix}detect",
            "--checkpoint-dir", str(tmp / f"{prefix}checkpoints"), "--parallelism", str(parallelism), "--quiet",
            *extra]  # fmt: skip


def committed(broker: Broker, topic: str) -> list[bytes]:
    """Every non-null value of `topic` a `read_committed` consumer sees."""
    out = subprocess.run(
        kcat(broker, "-C", "-t", topic, "-e", "-X", "isolation.level=read_committed", "-f", "%S %s\n"),
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return [line.split(b" ", 1)[1] for line in out.splitlines() if not line.startswith(b"-1 ")]


# -- throughput --------------------------------------------------------------------------------------------------


def throughput(broker: Broker, path: Path, events: int, tmp: Path, parallelism: list[int]) -> list[list[Any]]:
    """The rows of the throughput part: kcat appending, the pass-through draining, the job draining."""
    from benchmarks.suite import timed

    def loaded() -> tuple[str, float]:  # a fresh set of topics (so a run's decisions are its own), the file appended
        prefix = topics(broker)
        return prefix, append(broker, prefix + "access-logs", path)

    prefix, seconds = loaded()
    rows: list[list[Any]] = [["kcat appends the file to access-logs (the load generator)", seconds, 0, ""]]
    seconds, peak, _ = timed([sys.executable, "-m", "benchmarks.passthrough", "kafka", broker.bootstrap, prefix])
    rows.append(["pass-through: Kafka source and parse stage, no detection (the ceiling)", seconds, peak, ""])
    for i, p in enumerate(parallelism):
        prefix = prefix if i == 0 else loaded()[0]
        seconds, peak, _ = timed(job(broker, prefix, tmp, p, "--until-end"))
        decided = len(committed(broker, prefix + "decisions"))
        rows.append([f"scrapeguard run, p={p}, drains the backlog", seconds, peak, f"{decided:,} decisions"])
    ceiling = rows[1][1]
    return [[name, events, round(s, 1), round(events / s), round(ceiling / s, 2) if i else None,
             round(peak / 2**30, 2) if peak else None, None, None, None, note]
            for i, (name, s, peak, note) in enumerate(rows)]  # fmt: skip


# -- latency -----------------------------------------------------------------------------------------------------


def live_traffic(source: Path, rate: float, seconds: float, config: Config) -> list[dict[str, Any]]:
    """About `rate` events a second for `seconds` of event time from 0 (epoch milliseconds as `ts`), taken from
    `source` (a time-ordered events file) so that every actor behaves as it did there; in time order.

    `source` is cut into consecutive slices of `seconds` of event time, and as many slices as the rate needs are laid
    over each other, each shifted to start at 0. Actors stay apart: slice j > 0 renames its accounts (`~j`) and moves
    its addresses to IPv6 networks of its own (one /48 per original /24 or /48); its requests from allowlisted
    accounts or networks are left out, since a partner or crawler keeps its name and address.
    """
    span = int(seconds * 1000)
    allow = Allowlist(config)
    slices: list[list[dict[str, Any]]] = []
    first = None
    with source.open("rb") as f:
        for line in f:
            event = orjson.loads(line)
            ts = parse_timestamp(event["ts"])
            first = ts if first is None else first
            j = (ts - first) // span
            if j >= len(slices):
                if sum(map(len, slices)) >= rate * seconds:
                    break
                slices.append([])
            if j and not (event := _moved(event, j, allow)):
                continue
            event["ts"] = ts - first - j * span
            slices[-1].append(event)
    return sorted((e for s in slices for e in s), key=lambda e: e["ts"])


def write_traffic(events: list[dict[str, Any]], out: Path, start_ms: int) -> None:
    """`live_traffic` as an events file whose event time starts at `start_ms`."""
    with out.open("wb") as f:
        for event in events:
            f.write(orjson.dumps({**event, "ts": start_ms + event["ts"]}) + b"\n")


def _moved(event: dict[str, Any], j: int, allow: Allowlist) -> dict[str, Any] | None:
    account, ip = event.get("account_id"), event.get("ip")
    if (account and allow.match("account", account)) or (ip and allow.match("ip", ip)):
        return None
    if account:
        event["account_id"] = f"{account}~{j}"
    if ip:
        address = ipaddress.ip_address(ip)
        if address.version == 4:  # a.b.c.d -> (0x2000 + j):(a.b):(c.0)::d, so the /48 stands for the /24
            a, b, c, d = address.packed
            event["ip"] = str(ipaddress.IPv6Address(((0x2000 + j) << 112) | (a << 104) | (b << 96) | (c << 88) | d))
        else:
            event["ip"] = str(ipaddress.IPv6Address(int(address) ^ (j << 112)))
    return event


def latency(broker: Broker, source: Path, tmp: Path, rate: float, seconds: float, setting: str) -> list[Any]:
    """One latency run at `rate` events/s for `seconds` with `SETTINGS[setting]`; its row."""
    extra, toml = SETTINGS[setting]
    config_path = tmp / f"{setting}.toml"
    config_path.write_text(toml)
    config = load_config(str(config_path))
    prefix = topics(broker, log_append_time=True)
    events = live_traffic(source, rate, seconds, config)
    log = tmp / f"job-{setting}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(job(broker, prefix, tmp, 1, "--config", str(config_path), *extra),
                                cwd=ROOT, stdout=out, stderr=out, start_new_session=True)  # fmt: skip
    start_ms = int((time.time() + LEAD_S) * 1000)  # the job starts meanwhile
    traffic = tmp / f"live-{setting}.jsonl"
    write_traffic(events, traffic, start_ms)
    readable: list[tuple[float, bytes]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(broker, prefix + "decisions", stop, readable), daemon=True)
    watcher.start()
    try:
        time.sleep(max(0.0, start_ms / 1000 - time.time()))
        paced = round(len(events) / seconds)  # whole slices: about `rate`, and event time keeps up with the clock
        pv = subprocess.Popen(["pv", "--quiet", "--line-mode", "--rate-limit", str(paced), str(traffic)],
                              stdout=subprocess.PIPE)  # fmt: skip
        sent = time.monotonic()
        subprocess.run(kcat(broker, "-P", "-t", prefix + "access-logs", "-X", "linger.ms=5"), stdin=pv.stdout,
                       check=True)  # fmt: skip
        pv.wait()
        sent = time.monotonic() - sent
        ooo = parse_duration(config.section("time", "out_of_orderness")) / 1000
        time.sleep(ooo + (30 if setting == "default" else 0) + TAIL_S)  # the last decisions: a watermark, a commit
        failed = proc.poll()
    finally:
        stop.set()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        watcher.join()
    if failed is not None:
        raise RuntimeError(f"the streaming job exited early (exit {failed}):\n{log.read_text()[-3000:]}")
    dump = subprocess.run(kcat(broker, "-C", "-t", prefix + "access-logs", "-e", "-f", "%T %s\n"),
                          capture_output=True, check=True).stdout  # fmt: skip
    measured = delays(readable, dump, start_ms + int(min(WARMUP_S, seconds / 3) * 1000))
    q = _quantiles([r for r, _ in measured])
    emitted = _quantiles(sorted(e for _, e in measured))
    return [f"latency, {setting}: {' '.join(extra) or 'defaults'}{', ' + toml.split(chr(10))[1] if toml else ''}",
            len(events), round(sent, 1), round(len(events) / sent), None, None, *q,
            f"{len(measured):,} decisions on a crossing request; emitted (p50 / p95 / p99 s): "
            + " / ".join(map(str, emitted))]  # fmt: skip


def _watch(broker: Broker, topic: str, stop: threading.Event, readable: list[tuple[float, bytes]]) -> None:
    """Note when each decision on `topic` becomes readable to a `read_committed` consumer."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, fetch_max_wait_ms=20)  # fmt: skip
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    try:
        while not stop.is_set():
            for messages in consumer.poll(timeout_ms=50).values():
                now = time.time()
                readable += [(now, m.value) for m in messages if m.value is not None]
    finally:
        consumer.close()


def per_request(reason: str) -> bool:
    """Whether a decision's reason is a limit counted per request: its code ends in a window shorter than
    `SHORT_WINDOW_MS` (rule family, what is counted, window; the decision contract).

    >>> per_request("ip_profile_views_1m"), per_request("account_profile_views_1h"), per_request("address_fleet")
    (True, False, False)
    """
    window = re.search(r"_(\d+(?:ms|s|m|h|d))$", reason)
    return window is not None and parse_duration(window[1]) < SHORT_WINDOW_MS


def delays(readable: list[tuple[float, bytes]], appended: bytes, since: int) -> list[tuple[float, float]]:
    """For each crossing request at or after `since` (event time), in order: seconds from its append to its decision
    being readable (the first time it was), and to the decision's `emitted_at` (when the job wrote it).

    `readable`: (wall time read, decision) pairs; `appended`: the `access-logs` topic as kcat prints it with
    `-f "%T %s\\n"` (append time in milliseconds, then the event).
    """
    first: dict[tuple[str, str, int], tuple[float, float]] = {}
    for at, value in readable:
        d = orjson.loads(value)
        if any(map(per_request, d["reasons"])):
            key = (d["subject_type"], d["subject"], parse_timestamp(d["event_time"]))
            first.setdefault(key, (at, parse_timestamp(d["emitted_at"]) / 1000))
    found: dict[tuple[str, str, int], float] = {}
    for line in appended.splitlines():
        at, value = line.split(b" ", 1)
        event = orjson.loads(value)
        subject = ("account", event["account_id"]) if event.get("account_id") else ("ip", event["ip"])
        key = (*subject, event["ts"])
        if key in first and event["ts"] >= since:
            found.setdefault(key, int(at) / 1000)
    return sorted((first[k][0] - at, first[k][1] - at) for k, at in found.items())


def _quantiles(values: list[float]) -> list[float | None]:
    """p50, p95 and p99 (nearest rank), in seconds."""
    if not values:
        return [None, None, None]
    return [round(values[min(len(values) - 1, int(q * len(values)))], 2) for q in (0.5, 0.95, 0.99)]


def kafka_rows(path: Path, events: int, opts: Any) -> Iterator[list[Any]]:
    """Start a broker, run both parts, stop the broker (by its pid)."""
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        broker = start_broker(Path(tmp) / "broker")
        try:
            rows = throughput(broker, path, events, Path(tmp), opts.parallelism)
            yield from rows
            drained = rows[2][3]
            rate = opts.rate or drained / 2
            for setting in SETTINGS:
                yield latency(broker, path, Path(tmp), rate, opts.seconds, setting)
        finally:
            broker.run("stop")
