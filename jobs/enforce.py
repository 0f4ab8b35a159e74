"""Reference consumer of the `decisions` topic: what an enforcement service has to do.

An enforcement service (a gateway, a WAF rule loader, a login service) keeps the set of
subjects under an active decision and asks it on each request. The topic's contract
(`schemas/decision.v1.json`, README "For enforcement services"):

- key `subject_type:subject`, value one v1 decision as UTF-8 JSON, or null (a tombstone:
  no decision for this key). One key, one partition, so decisions on a subject arrive in order.
- A subject has at most one active decision. A later one replaces it (escalation); `unblock`
  (an analyst's release) ends it; it lapses by itself at `expires_at`.
- `decision_id` is deterministic: replays and retries redeliver the same id. Apply each once.
- Read with `isolation_level=read_committed`: the detector writes in transactions, and
  decisions of an aborted or still open transaction must never be acted on.
- The topic is compacted, so the current state is rebuilt by reading it from the beginning
  at every start.

`ActiveDecisions` is that state, with no Kafka in it; `consume` feeds it from the topic.

>>> state = ActiveDecisions()
>>> d = {"decision_id": "6f1c0e52-0000-5000-8000-000000000001", "subject_type": "ip", "subject": "203.0.113.7",
...      "action": "block", "score": 0.9, "reasons": ["ip_profile_views_1m"], "evidence": {},
...      "event_time": "2026-01-05T08:00:00.000Z", "emitted_at": "2026-01-05T08:00:01.000Z",
...      "expires_at": "2026-01-05T09:00:00.000Z", "detector_version": "0.1.0+1a2b3c4d"}
>>> state.apply(d), state.apply(d)
('new', 'duplicate')
>>> state.blocked("ip", "203.0.113.7", now_ms=parse_time("2026-01-05T08:30:00Z"))["expires_at"]
'2026-01-05T09:00:00.000Z'
>>> state.blocked("ip", "203.0.113.7", now_ms=parse_time("2026-01-05T09:00:00Z")) is None  # lapses at expires_at
True
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from detectors.events import BadEvent, format_ms, parse_timestamp
from detectors.features.minutes import PATH
from detectors.verdicts import SUBJECT_TYPES, subject_problem

ACTIONS = ("throttle", "challenge", "block", "unblock")
REQUIRED = (
    "decision_id",
    "subject_type",
    "subject",
    "action",
    "score",
    "reasons",
    "evidence",
    "event_time",
    "emitted_at",
    "expires_at",
    "detector_version",
)
CLOCKS = ("wall", "event")

# What `apply` and `clear` report.
NEW, REPLACED, RELEASED, CLEARED, DUPLICATE, STALE = "new", "replaced", "released", "cleared", "duplicate", "stale"


class InvalidDecision(ValueError):
    """A message that breaks the decisions contract; the message is the reason."""


def parse_time(value: Any, field_name: str = "time") -> int:
    """An RFC 3339 time of the contract to epoch milliseconds.

    >>> parse_time("2026-01-05T08:00:00.500Z")
    1767600000500
    """
    if not isinstance(value, str):
        raise InvalidDecision(f"field '{field_name}' is not an RFC 3339 string ({value!r})")
    try:
        return parse_timestamp(value, field_name)
    except BadEvent as exc:
        raise InvalidDecision(str(exc)) from None


def validate(decision: Any) -> tuple[int, int]:
    """Check one decision object; return its (event_time, expires_at) in epoch ms, or raise `InvalidDecision`."""
    if not isinstance(decision, dict):
        raise InvalidDecision(f"value is not a JSON object but {type(decision).__name__}")
    missing = [name for name in REQUIRED if name not in decision]
    if missing:
        raise InvalidDecision("missing field" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))
    if decision["action"] not in ACTIONS:
        raise InvalidDecision(f"action {decision['action']!r} is not one of {', '.join(ACTIONS)}")
    if decision["subject_type"] not in SUBJECT_TYPES:
        raise InvalidDecision(f"subject_type {decision['subject_type']!r} is not one of {', '.join(SUBJECT_TYPES)}")
    for name in ("decision_id", "subject"):
        if not isinstance(decision[name], str) or not decision[name]:
            raise InvalidDecision(f"field '{name}' is not a non-empty string ({decision[name]!r})")
    problem = subject_problem(decision["subject_type"], decision["subject"])
    if problem:
        raise InvalidDecision(f"subject {decision['subject']!r} {problem}")
    if not isinstance(decision["reasons"], list) or not all(isinstance(r, str) for r in decision["reasons"]):
        raise InvalidDecision(f"field 'reasons' is not a list of strings ({decision['reasons']!r})")
    return parse_time(decision["event_time"], "event_time"), parse_time(decision["expires_at"], "expires_at")


def key_of(decision: dict[str, Any]) -> str:
    """The message key of a decision: `subject_type:subject`."""
    return f"{decision['subject_type']}:{decision['subject']}"


@dataclass
class _Subject:
    """What is known of one subject: its current decision (if any) and the newest event time applied."""

    latest: int  # event_time of the newest decision applied; older ones arriving later are stale
    ids: set[str]  # decision ids applied at `latest`
    current: dict[str, Any] | None = None
    expires_at: int = 0


class ActiveDecisions:
    """The decisions in force, per subject, built by applying the topic's messages in partition order.

    `now_ms` is always a parameter: production enforcement asks with the wall clock, a replay
    or a test with event time (see `consume`'s `clock`). State kept: one small entry per
    subject seen (its newest event time and ids), plus the current decision, if any.
    """

    def __init__(self) -> None:
        self._subjects: dict[tuple[str, str], _Subject] = {}
        self._prefixes: list[tuple[int, int]] = []  # (IP version, prefix length) of the ranges seen, narrowest first

    def apply(self, decision: dict[str, Any]) -> str | None:
        """Apply one decision; return what changed: new, replaced, released, duplicate, stale, or None.

        Raises `InvalidDecision` (and changes nothing) if the object breaks the contract.
        None means an `unblock` for a subject with no decision: nothing to release.
        """
        event_time, expires_at = validate(decision)
        subject_key = (decision["subject_type"], decision["subject"])
        subject = self._subjects.get(subject_key)
        if subject is None:
            subject = self._subjects[subject_key] = _Subject(latest=event_time, ids=set())
            if decision["subject_type"] == "network":
                network = ipaddress.ip_network(decision["subject"])
                prefix = (network.version, network.prefixlen)
                if prefix not in self._prefixes:
                    self._prefixes = sorted([*self._prefixes, prefix], key=lambda p: -p[1])
        elif decision["decision_id"] in subject.ids:
            return DUPLICATE
        elif event_time < subject.latest:
            return STALE  # redelivered out of order: the subject already has a newer decision
        if event_time > subject.latest:
            subject.latest, subject.ids = event_time, set()
        subject.ids.add(decision["decision_id"])
        had = subject.current is not None
        if decision["action"] == "unblock":
            subject.current, subject.expires_at = None, 0
            return RELEASED if had else None
        subject.current, subject.expires_at = decision, expires_at
        return REPLACED if had else NEW

    def clear(self, subject_type: str, subject: str) -> str | None:
        """A tombstone: forget the subject. Returns "cleared" if it had a decision, else None."""
        entry = self._subjects.pop((subject_type, subject), None)
        return CLEARED if entry is not None and entry.current is not None else None

    def expire(self, now_ms: int) -> list[dict[str, Any]]:
        """Drop the decisions lapsed at `now_ms` (expires_at <= now) and return them, soonest first."""
        lapsed = [s for s in self._subjects.values() if s.current is not None and s.expires_at <= now_ms]
        lapsed.sort(key=lambda s: s.expires_at)
        out = []
        for s in lapsed:
            assert s.current is not None
            out.append(s.current)
            s.current, s.expires_at = None, 0
        return out

    def decision_for(self, subject_type: str, subject: str, now_ms: int) -> dict[str, Any] | None:
        """The subject's decision in force at `now_ms` (throttle, challenge or block), or None."""
        s = self._subjects.get((subject_type, subject))
        if s is None or s.current is None or s.expires_at <= now_ms:
            return None
        return s.current

    def for_address(self, address: str, now_ms: int, profile_view: bool = False) -> dict[str, Any] | None:
        """The strongest decision in force at `now_ms` on a logged-out request from `address`: the address's own,
        or one on a network range that holds it (ties: the address's own, then the narrower range); for a
        `profile_view`, also one on the access path (`path`, `logged-out:profile_view`), the weakest in ties.

        >>> state = ActiveDecisions()
        >>> d = {"decision_id": "6f1c0e52-0000-5000-8000-000000000002", "subject_type": "network",
        ...      "subject": "203.0.113.0/24", "action": "challenge", "score": 0.9, "reasons": ["address_fleet_range"],
        ...      "evidence": {}, "event_time": "2026-01-05T08:00:00.000Z", "emitted_at": "2026-01-05T08:00:01.000Z",
        ...      "expires_at": "2026-01-05T09:00:00.000Z", "detector_version": "0.1.0+1a2b3c4d"}
        >>> state.apply(d)
        'new'
        >>> state.for_address("203.0.113.99", parse_time("2026-01-05T08:30:00Z"))["subject"]
        '203.0.113.0/24'
        >>> state.for_address("203.0.114.1", parse_time("2026-01-05T08:30:00Z")) is None
        True
        >>> state.apply({**d, "decision_id": "6f1c0e52-0000-5000-8000-000000000003", "subject_type": "path",
        ...              "subject": "logged-out:profile_view", "reasons": ["logged_out_surge"]})
        'new'
        >>> state.for_address("203.0.114.1", parse_time("2026-01-05T08:30:00Z"), profile_view=True)["subject_type"]
        'path'
        """
        found = [self.decision_for("ip", address, now_ms)]
        version = 6 if ":" in address else 4
        for v, prefix in self._prefixes:
            if v == version:
                network = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
                found.append(self.decision_for("network", network, now_ms))
        if profile_view:
            found.append(self.decision_for("path", PATH, now_ms))
        in_force = [d for d in found if d is not None]
        return max(in_force, key=lambda d: ACTIONS.index(d["action"]), default=None)

    def blocked(self, subject_type: str, subject: str, now_ms: int) -> dict[str, Any] | None:
        """The subject's decision if it is a `block` in force at `now_ms`, else None."""
        d = self.decision_for(subject_type, subject, now_ms)
        return d if d is not None and d["action"] == "block" else None

    def active(self, now_ms: int) -> list[dict[str, Any]]:
        """Every decision in force at `now_ms`, ordered by key."""
        return [s.current for _, s in sorted(self._subjects.items()) if s.current is not None and s.expires_at > now_ms]


@dataclass
class Message:
    """One message of the topic as the consumer sees it (bytes as they are on the wire)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class Enforcer:
    """Applies messages to an `ActiveDecisions`, reports changes in force and skips bad messages with a warning.

    `clock` is "wall" (now = the wall clock, as production enforcement) or "event" (now = the
    newest event_time read, for replays and tests). Change lines go to `out`, warnings to `err`.
    """

    clock: str = "wall"
    show: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    wall: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    state: ActiveDecisions = field(default_factory=ActiveDecisions)
    counts: Counter[str] = field(default_factory=Counter)
    event_now: int = 0

    def now(self) -> int:
        """Current time under the chosen clock, epoch ms."""
        return self.wall() if self.clock == "wall" else self.event_now

    def handle(self, message: Message) -> None:
        """Apply one message; never raises for a bad message."""
        self.counts["messages"] += 1
        try:
            self._handle(message)
        except InvalidDecision as exc:
            self.counts["invalid"] += 1
            print(
                f"scrapeguard enforce: {message.topic} partition {message.partition} offset {message.offset}: "
                f"{exc}; skipped",
                file=self.err,
                flush=True,
            )

    def tick(self) -> None:
        """Drop what lapsed by now, reporting each as expired."""
        for d in self.state.expire(self.now()):
            self.counts["expired"] += 1
            self._line("expired", d["action"], key_of(d), f"at {d['expires_at']}")

    def _handle(self, message: Message) -> None:
        subject_type, subject = _parse_key(message.key)
        if message.value is None:
            self.counts["tombstones"] += 1
            self.tick()
            before = self.state.decision_for(subject_type, subject, self.now())
            if self.state.clear(subject_type, subject) and before is not None:
                self._line("cleared", before["action"], f"{subject_type}:{subject}", "(tombstone)")
            return
        try:
            decision = json.loads(message.value.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidDecision(f"value is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise InvalidDecision(f"value is not JSON ({exc.msg} at character {exc.pos})") from None
        event_time, _ = validate(decision)
        key = f"{subject_type}:{subject}"
        if key_of(decision) != key:
            raise InvalidDecision(f"key {key!r} does not match the value's {key_of(decision)!r}")
        self.event_now = max(self.event_now, event_time)
        self.tick()
        now = self.now()
        before = self.state.decision_for(subject_type, subject, now)
        change = self.state.apply(decision)
        self.counts[change or "no-op"] += 1
        after = self.state.decision_for(subject_type, subject, now)
        if after is None:
            self.state.expire(now)  # lapsed on arrival (an old decision replayed): never in force, say nothing
        if (before and before["decision_id"]) == (after and after["decision_id"]):
            return  # nothing in force changed
        was = f"(was {before['action']})" if before else ""
        if decision["action"] == "unblock":
            self._line(RELEASED, "unblock", key, was, f"at {decision['event_time']}")
        elif after is None and before is not None:  # replaced by a decision that had already lapsed
            self._line(
                "ended",
                before["action"],
                key,
                f"(replaced by {decision['action']}, lapsed at {decision['expires_at']})",
            )
        else:
            self._line(
                REPLACED if before else NEW,
                decision["action"],
                key,
                was,
                f"until {decision['expires_at']}",
                "reasons " + ",".join(decision["reasons"]),
                f"score {decision['score']}",
            )

    def _line(self, *parts: str) -> None:
        if self.show:
            print(" ".join(p for p in parts if p), file=self.out, flush=True)

    def summary(self) -> str:
        """One line: what is in force now, and what was read, skipped and ignored."""
        now = self.now()
        active = self.state.active(now)
        by_action = Counter(d["action"] for d in active)
        actions = ", ".join(f"{a} {by_action[a]}" for a in ACTIONS if by_action[a])
        c = self.counts
        return (
            f"{len(active)} in force at {format_ms(now)} ({self.clock} clock)"
            + (f": {actions}" if actions else "")
            + f"; read {c['messages']} messages ({c['tombstones']} tombstones), "
            f"ignored {c[DUPLICATE]} duplicate and {c[STALE]} stale, skipped {c['invalid']} invalid"
        )


def _parse_key(key: bytes | None) -> tuple[str, str]:
    if key is None:
        raise InvalidDecision("message has no key (expected subject_type:subject)")
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidDecision(f"key is not UTF-8 ({key[:40]!r})") from None
    subject_type, sep, subject = text.partition(":")  # IPv6 subjects contain ':' themselves
    if not sep or subject_type not in SUBJECT_TYPES or not subject:
        raise InvalidDecision(
            f"key {text[:80]!r} is not subject_type:subject with subject_type {', '.join(SUBJECT_TYPES)}"
        )
    return subject_type, subject


class ConsumeError(Exception):
    """The topic cannot be read (no broker, no topic, no progress); the message says which."""


def consume(
    bootstrap: str,
    prefix: str = "",
    *,
    show: bool = False,
    until_end: bool = False,
    snapshot: bool = False,
    clock: str = "wall",
    group: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stall_timeout_s: float = 60.0,
    poll_ms: int = 500,
    stop: Callable[[], bool] = lambda: False,
    connect_timeout_ms: int = 10_000,
) -> Enforcer:
    """Rebuild the decisions in force from the start of `<prefix>decisions` (read_committed), then follow it.

    `until_end` stops at the end offsets seen at start (for a read-committed consumer, the last
    stable offset: an open transaction is not waited for). Otherwise it follows until `stop()`
    or Ctrl-C. `show` prints each change in force; `snapshot` prints the decisions in force as
    JSON Lines at the end. `group`, if given, commits the offsets read under that consumer
    group, for lag monitoring only: the state is always rebuilt from the beginning. A broker
    that does not answer within `connect_timeout_ms` is a `ConsumeError`.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(CLOCKS)}, not {clock!r}")
    out = out or sys.stdout
    err = err or sys.stderr
    topic = f"{prefix}decisions"
    enforcer = Enforcer(clock=clock, show=show, out=out, err=err)
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id="scrapeguard-enforce",
            group_id=group,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            allow_auto_create_topics=False,
            bootstrap_timeout_ms=connect_timeout_ms,
        )
    except KafkaError as exc:
        raise ConsumeError(f"--bootstrap-servers {bootstrap}: no Kafka broker answers ({exc})") from None
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise ConsumeError(f"topic {topic} does not exist on {bootstrap} (create it: python infra/topics.py)")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps) if until_end else {}
        remaining = {tp for tp in tps if end.get(tp, 1) > 0} if until_end else set(tps)
        last_progress = time.monotonic()
        try:
            while not (until_end and not remaining) and not stop():
                batches = consumer.poll(timeout_ms=poll_ms)
                for records in batches.values():
                    for r in records:
                        enforcer.handle(Message(r.topic, r.partition, r.offset, r.key, r.value))
                if batches:
                    last_progress = time.monotonic()
                    if group:
                        consumer.commit()
                enforcer.tick()
                if until_end:
                    for tp in list(remaining):
                        if consumer.position(tp) >= end[tp]:
                            remaining.discard(tp)
                            last_progress = time.monotonic()
                    if remaining and time.monotonic() - last_progress > stall_timeout_s:
                        where = ", ".join(
                            f"partition {tp.partition} at {consumer.position(tp)} of {end[tp]}"
                            for tp in sorted(remaining)
                        )
                        raise ConsumeError(f"{topic}: no progress for {stall_timeout_s:g} s ({where})")
        except KeyboardInterrupt:
            pass
    except KafkaError as exc:
        raise ConsumeError(f"{topic} on {bootstrap}: {exc}") from None
    finally:
        consumer.close()
    if snapshot:
        for line in snapshot_lines(enforcer.state.active(enforcer.now())):
            print(line, file=out)
    return enforcer


def snapshot_lines(decisions: Iterable[dict[str, Any]]) -> list[str]:
    """The decisions as JSON Lines, keys sorted (the `--snapshot` format)."""
    return [json.dumps(d, separators=(",", ":"), sort_keys=True) for d in decisions]
