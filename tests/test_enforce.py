"""The reference enforcement consumer: the state rules (pure) and `scrapeguard enforce` on a real broker."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.events import format_ms
from jobs.enforce import ActiveDecisions, Enforcer, InvalidDecision, Message

ROOT = Path(__file__).resolve().parents[1]
T0 = 1767600000000  # 2026-01-05T08:00:00Z
MIN = 60_000


def dec(subject: str, action: str, t: int, ttl: int = 10 * MIN, subject_type: str = "ip", **extra) -> dict:
    """A valid v1 decision, its id derived from subject, action and event time as the detector does."""
    return {
        "decision_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{subject_type}:{subject}|{action}|{t}")),
        "subject_type": subject_type,
        "subject": subject,
        "action": action,
        "score": 0.75,
        "reasons": ["analyst_release"] if action == "unblock" else ["ip_profile_views_1m"],
        "evidence": {},
        "event_time": format_ms(t),
        "emitted_at": format_ms(t + 1000),
        "expires_at": format_ms(t + ttl),
        "detector_version": "0.1.0+test",
        **extra,
    }


def msg(d: dict | None, offset: int = 0, key: str | None = None, raw: bytes | None = None) -> Message:
    key = key if key is not None else f"{d['subject_type']}:{d['subject']}" if d else None
    value = raw if raw is not None else (json.dumps(d).encode() if d is not None else None)
    return Message("decisions", 1, offset, key.encode() if key is not None else None, value)


def enforcer(clock: str = "event", wall_ms: int = T0) -> tuple[Enforcer, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Enforcer(clock=clock, show=True, out=out, err=err, wall=lambda: wall_ms), out, err


# --- ActiveDecisions: the state rules -------------------------------------------------------------------------


def test_a_stronger_decision_replaces_the_active_one():
    state = ActiveDecisions()
    assert state.apply(dec("1.2.3.4", "throttle", T0)) == "new"
    assert state.apply(dec("1.2.3.4", "block", T0 + MIN, ttl=60 * MIN)) == "replaced"
    now = T0 + 2 * MIN
    assert state.decision_for("ip", "1.2.3.4", now)["action"] == "block"
    assert state.blocked("ip", "1.2.3.4", now)["expires_at"] == format_ms(T0 + 61 * MIN)
    assert [d["action"] for d in state.active(now)] == ["block"]  # one active decision per subject


def test_unblock_releases_and_an_older_block_redelivered_after_it_stays_released():
    state = ActiveDecisions()
    block = dec("acct1", "block", T0, ttl=60 * MIN, subject_type="account")
    state.apply(block)
    assert state.apply(dec("acct1", "unblock", T0 + MIN, subject_type="account")) == "released"
    assert state.blocked("account", "acct1", T0 + 2 * MIN) is None
    assert state.active(T0 + 2 * MIN) == []
    assert state.apply(block) == "stale"  # a redelivery of the block must not undo the analyst's release
    assert state.blocked("account", "acct1", T0 + 2 * MIN) is None
    assert state.apply(dec("other", "unblock", T0)) is None  # nothing to release


def test_a_decision_lapses_exactly_at_expires_at():
    state = ActiveDecisions()
    d = dec("1.2.3.4", "block", T0, ttl=10 * MIN)
    state.apply(d)
    end = T0 + 10 * MIN
    assert state.blocked("ip", "1.2.3.4", end - 1) == d
    assert state.blocked("ip", "1.2.3.4", end) is None
    assert state.active(end - 1) == [d] and state.active(end) == []
    assert state.expire(end - 1) == []
    assert state.expire(end) == [d]
    assert state.expire(end) == []  # once


def test_a_duplicate_decision_id_is_applied_once():
    state = ActiveDecisions()
    throttle, block = dec("1.2.3.4", "throttle", T0), dec("1.2.3.4", "block", T0)  # two decisions at one event time
    assert [state.apply(throttle), state.apply(block)] == ["new", "replaced"]
    assert [state.apply(block), state.apply(throttle)] == ["duplicate", "duplicate"]  # replay, redelivery
    assert state.decision_for("ip", "1.2.3.4", T0)["action"] == "block"
    state.expire(T0 + 10 * MIN)
    assert state.apply(block) == "duplicate"  # not re-applied after it lapsed


def test_an_older_decision_arriving_late_is_ignored():
    state = ActiveDecisions()
    state.apply(dec("1.2.3.4", "block", T0 + 5 * MIN))
    assert state.apply(dec("1.2.3.4", "challenge", T0)) == "stale"
    assert state.decision_for("ip", "1.2.3.4", T0 + 6 * MIN)["action"] == "block"


def test_a_later_weaker_decision_replaces_too():
    """The contract: the later decision on a subject is the one in force, whatever its action."""
    state = ActiveDecisions()
    state.apply(dec("1.2.3.4", "block", T0))
    assert state.apply(dec("1.2.3.4", "throttle", T0 + 20 * MIN)) == "replaced"
    assert state.decision_for("ip", "1.2.3.4", T0 + 21 * MIN)["action"] == "throttle"


def test_a_tombstone_clears_the_subject():
    state = ActiveDecisions()
    state.apply(dec("1.2.3.4", "block", T0))
    assert state.clear("ip", "1.2.3.4") == "cleared"
    assert state.active(T0) == [] and state.clear("ip", "1.2.3.4") is None
    e, out, _ = enforcer()
    e.handle(msg(dec("2001:db8::1", "block", T0)))  # IPv6: the key has colons after the first
    e.handle(msg(None, key="ip:2001:db8::1"))
    assert e.state.active(T0) == []
    assert out.getvalue().splitlines()[-1] == "cleared block ip:2001:db8::1 (tombstone)"


def test_an_invalid_decision_changes_nothing():
    state = ActiveDecisions()
    state.apply(dec("1.2.3.4", "block", T0))
    with pytest.raises(InvalidDecision, match="action 'ban' is not one of throttle, challenge, block, unblock"):
        state.apply(dec("1.2.3.4", "ban", T0 + MIN))
    assert state.blocked("ip", "1.2.3.4", T0 + MIN) is not None


def test_a_request_from_an_address_meets_its_own_decision_or_the_strongest_range_holding_it():
    state = ActiveDecisions()
    state.apply(dec("203.0.113.0/24", "challenge", T0, subject_type="network"))
    state.apply(dec("203.0.112.0/22", "block", T0, ttl=2 * MIN, subject_type="network"))
    state.apply(dec("203.0.113.9", "throttle", T0))
    state.apply(dec("2001:db8:1::/48", "block", T0, subject_type="network"))
    assert state.for_address("203.0.113.9", T0 + MIN)["subject"] == "203.0.112.0/22"  # the block is strongest
    assert state.for_address("203.0.113.9", T0 + 3 * MIN)["subject"] == "203.0.113.0/24"  # the block lapsed
    assert state.for_address("203.0.113.77", T0 + 11 * MIN) is None
    assert state.for_address("2001:db8:1:5::1", T0 + MIN)["action"] == "block"
    assert state.for_address("2001:db8:2::1", T0 + MIN) is None


def test_the_access_path_reaches_logged_out_profile_views_only_and_yields_on_a_tie():
    state = ActiveDecisions()
    state.apply(dec("logged-out:profile_view", "challenge", T0, subject_type="path"))
    state.apply(dec("203.0.113.9", "challenge", T0))
    state.apply(dec("203.0.113.10", "throttle", T0))
    assert state.for_address("198.51.100.1", T0 + MIN) is None  # a logged-out request for anything else
    assert state.for_address("198.51.100.1", T0 + MIN, profile_view=True)["subject_type"] == "path"
    assert state.for_address("203.0.113.9", T0 + MIN, profile_view=True)["subject"] == "203.0.113.9"
    assert state.for_address("203.0.113.10", T0 + MIN, profile_view=True)["subject_type"] == "path"  # stronger
    assert state.for_address("198.51.100.1", T0 + 11 * MIN, profile_view=True) is None  # lapsed


def test_on_a_tie_the_address_decision_wins_then_the_narrower_range():
    state = ActiveDecisions()
    state.apply(dec("198.51.96.0/20", "challenge", T0, subject_type="network"))  # the wider range comes first
    state.apply(dec("198.51.100.0/24", "challenge", T0, subject_type="network"))
    state.apply(dec("198.51.100.7", "challenge", T0))
    assert state.for_address("198.51.100.9", T0 + MIN)["subject"] == "198.51.100.0/24"
    assert state.for_address("198.51.100.7", T0 + MIN)["subject"] == "198.51.100.7"
    assert state.for_address("198.51.97.1", T0 + MIN)["subject"] == "198.51.96.0/20"


BAD = [
    (b"{not json", "ip:1.2.3.4", "value is not JSON (Expecting property name enclosed in double quotes at char"),
    (b"\xff\xfe", "ip:1.2.3.4", "value is not UTF-8 (invalid start byte at byte 0)"),
    (b"[1, 2]", "ip:1.2.3.4", "value is not a JSON object but list"),
    (json.dumps({"subject_type": "ip"}).encode(), "ip:1.2.3.4", "missing fields decision_id, subject, action"),
    (json.dumps(dec("1.2.3.4", "ban", T0)).encode(), "ip:1.2.3.4", "action 'ban' is not one of"),
    (json.dumps(dec("1.2.3.4", "block", T0, event_time="yesterday")).encode(), "ip:1.2.3.4", "'event_time'"),
    (json.dumps(dec("1.2.3.4", "block", T0)).encode(), "ip:5.6.7.8", "key 'ip:5.6.7.8' does not match the value's"),
    (json.dumps(dec("1.2.3.4", "block", T0)).encode(), "1.2.3.4", "is not subject_type:subject"),
    (
        json.dumps(dec("1.2.3.4/24", "block", T0, subject_type="network")).encode(),
        "network:1.2.3.4/24",
        "subject '1.2.3.4/24' is not a network range in canonical CIDR form",
    ),
    (
        json.dumps(dec("logged-out:search", "challenge", T0, subject_type="path")).encode(),
        "path:logged-out:search",
        "subject 'logged-out:search' is not the access path 'logged-out:profile_view'",
    ),
]


@pytest.mark.parametrize(("value", "key", "reason"), BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_an_invalid_message_is_skipped_with_its_place_and_reason(value, key, reason):
    e, _, err = enforcer()
    e.handle(msg(None, offset=41, key=key, raw=value))
    e.handle(msg(dec("9.9.9.9", "block", T0), offset=42))
    line = err.getvalue()
    assert line.count("\n") == 1
    assert line.startswith("scrapeguard enforce: decisions partition 1 offset 41: ") and reason in line
    assert line.rstrip().endswith("; skipped")
    assert e.counts["invalid"] == 1 and [d["subject"] for d in e.state.active(T0)] == ["9.9.9.9"]


def test_the_change_lines_follow_event_time():
    e, out, _ = enforcer("event")
    for i, d in enumerate(
        [
            dec("1.2.3.4", "challenge", T0, ttl=5 * MIN),
            dec("1.2.3.4", "challenge", T0, ttl=5 * MIN),  # duplicate: no line
            dec("acct1", "block", T0 + MIN, ttl=60 * MIN, subject_type="account"),
            dec("5.6.7.8", "throttle", T0 + 2 * MIN),
            dec("5.6.7.8", "block", T0 + 3 * MIN),
            dec("acct1", "unblock", T0 + 4 * MIN, subject_type="account"),
            dec("9.9.9.9", "throttle", T0 + 6 * MIN),  # moves event time past the challenge's expiry
        ]
    ):
        e.handle(msg(d, offset=i))
    assert out.getvalue().splitlines() == [
        "new challenge ip:1.2.3.4 until 2026-01-05T08:05:00.000Z reasons ip_profile_views_1m score 0.75",
        "new block account:acct1 until 2026-01-05T09:01:00.000Z reasons ip_profile_views_1m score 0.75",
        "new throttle ip:5.6.7.8 until 2026-01-05T08:12:00.000Z reasons ip_profile_views_1m score 0.75",
        "replaced block ip:5.6.7.8 (was throttle) until 2026-01-05T08:13:00.000Z reasons ip_profile_views_1m "
        "score 0.75",
        "released unblock account:acct1 (was block) at 2026-01-05T08:04:00.000Z",
        "expired challenge ip:1.2.3.4 at 2026-01-05T08:05:00.000Z",
        "new throttle ip:9.9.9.9 until 2026-01-05T08:16:00.000Z reasons ip_profile_views_1m score 0.75",
    ]
    assert e.summary() == (
        "2 in force at 2026-01-05T08:06:00.000Z (event clock): throttle 1, block 1; "
        "read 7 messages (0 tombstones), ignored 1 duplicate and 0 stale, skipped 0 invalid"
    )


def test_under_the_wall_clock_decisions_lapsed_before_the_start_are_never_reported():
    e, out, _ = enforcer("wall", wall_ms=T0 + 30 * MIN)
    e.handle(msg(dec("1.2.3.4", "block", T0, ttl=10 * MIN)))  # history: lapsed 20 minutes ago
    e.handle(msg(dec("5.6.7.8", "block", T0, ttl=60 * MIN)))
    e.handle(msg(dec("5.6.7.8", "throttle", T0 + MIN, ttl=MIN)))  # the later decision wins, and it has lapsed
    e.tick()
    assert out.getvalue().splitlines() == [
        "new block ip:5.6.7.8 until 2026-01-05T09:00:00.000Z reasons ip_profile_views_1m score 0.75",
        "ended block ip:5.6.7.8 (replaced by throttle, lapsed at 2026-01-05T08:02:00.000Z)",
    ]
    assert e.state.active(e.now()) == []


_SUBJECTS = ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
_HISTORY = st.lists(
    st.tuples(st.sampled_from(_SUBJECTS), st.sampled_from(["throttle", "challenge", "block", "unblock"])),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(history=_HISTORY, data=st.data())
def test_redelivering_any_messages_already_read_changes_nothing(history, data):
    """At-least-once delivery and replays resend messages; the state must not move."""
    decisions = [dec(s, a, T0 + i * 1000, ttl=MIN) for i, (s, a) in enumerate(history)]
    state = ActiveDecisions()
    for d in decisions:
        state.apply(d)
    now = T0 + len(decisions) * 1000
    before = state.active(now)
    for d in data.draw(st.lists(st.sampled_from(decisions), max_size=20)) if decisions else []:
        assert state.apply(d) in ("duplicate", "stale")
    assert state.active(now) == before


# --- `scrapeguard enforce` on a real broker ------------------------------------------------------------------


def _producer(bootstrap: str, **config):
    from kafka import KafkaProducer

    return KafkaProducer(bootstrap_servers=bootstrap, **config)


def _send(producer, topic: str, d: dict | None, key: str | None = None, raw: bytes | None = None):
    value = raw if raw is not None else (json.dumps(d).encode() if d is not None else None)
    return producer.send(topic, key=(key or f"{d['subject_type']}:{d['subject']}").encode(), value=value)


def _enforce(bootstrap: str, prefix: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "jobs.cli", "enforce", "--bootstrap-servers", bootstrap, "--topic-prefix", prefix]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=180, cwd=ROOT)


@pytest.mark.kafka
def test_enforce_acts_only_on_committed_decisions(kafka_broker, topic_prefix):
    bootstrap, topic = kafka_broker.bootstrap, topic_prefix + "decisions"
    now = int(time.time() * 1000)
    t = now - 5 * MIN
    committed = [
        dec("10.0.0.1", "throttle", t, ttl=2 * 60 * MIN),
        dec("10.0.0.1", "block", t + 1000, ttl=2 * 60 * MIN),  # escalation
        dec("acct-committed", "challenge", t, ttl=2 * 60 * MIN, subject_type="account"),
        dec("10.0.0.2", "block", t, ttl=2 * 60 * MIN),
        dec("10.0.0.2", "unblock", t + 2000),  # analyst release
        dec("10.0.0.3", "block", t - 60 * MIN, ttl=10 * MIN),  # lapsed long ago
    ]
    aborted = [dec("10.0.0.9", "block", t, ttl=2 * 60 * MIN), dec("acct-committed", "unblock", t + 3000)]
    still_open = [dec("10.0.0.8", "block", t, ttl=2 * 60 * MIN)]

    tx = _producer(bootstrap, transactional_id=f"{topic_prefix}detector")
    tx.init_transactions()
    tx.begin_transaction()
    for d in committed:
        _send(tx, topic, d)
    tx.commit_transaction()
    tx.begin_transaction()
    for d in aborted:
        _send(tx, topic, d)
    tx.flush()  # on the broker, then thrown away
    tx.abort_transaction()
    tx.begin_transaction()
    for d in committed[:2]:  # a replay after a restart: the same ids again
        _send(tx, topic, d)
    tx.commit_transaction()
    tx.close()

    pending = _producer(bootstrap, transactional_id=f"{topic_prefix}pending")
    pending.init_transactions()
    pending.begin_transaction()
    for d in still_open:
        _send(pending, topic, d)
    pending.flush()  # written, not committed: read_committed stops before it and does not wait
    try:
        run = _enforce(bootstrap, topic_prefix, "--until-end", "--print", "--group-id", f"{topic_prefix}enforce")
        snap = _enforce(bootstrap, topic_prefix, "--until-end", "--snapshot")
    finally:
        pending.abort_transaction()
        pending.close()

    assert run.returncode == 0 and snap.returncode == 0, run.stderr + snap.stderr
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert [line.split(" until ")[0] for line in lines if "10.0.0.1" in line] == [
        "new throttle ip:10.0.0.1",
        "replaced block ip:10.0.0.1 (was throttle)",  # the replayed pair changes nothing
    ]
    assert not any(s in run.stdout for s in ("10.0.0.9", "10.0.0.8", "10.0.0.3"))  # aborted, open, lapsed
    assert any(line.startswith("released unblock ip:10.0.0.2 (was block)") for line in lines)
    assert lines[-1].startswith("scrapeguard enforce: 2 in force at ") and lines[-1].endswith(
        "(wall clock): challenge 1, block 1; read 8 messages (0 tombstones), "
        "ignored 1 duplicate and 1 stale, skipped 0 invalid"  # the replayed throttle is older than the block
    )
    in_force = [json.loads(line) for line in snap.stdout.splitlines()]
    assert in_force == [committed[2], committed[1]]  # account:acct-committed, ip:10.0.0.1, with every field
    assert snap.stderr.startswith("scrapeguard enforce: 2 in force")

    from kafka import KafkaConsumer, TopicPartition

    check = KafkaConsumer(bootstrap_servers=bootstrap, group_id=f"{topic_prefix}enforce", enable_auto_commit=False)
    try:
        committed_offsets = [check.committed(TopicPartition(topic, p)) for p in range(4)]
    finally:
        check.close()
    assert sum(o or 0 for o in committed_offsets) > 0  # --group-id commits what it read


@pytest.mark.kafka
def test_enforce_reports_a_bad_message_and_applies_the_rest(kafka_broker, topic_prefix):
    bootstrap, topic = kafka_broker.bootstrap, topic_prefix + "decisions"
    producer = _producer(bootstrap, transactional_id=f"{topic_prefix}detector")
    producer.init_transactions()
    producer.begin_transaction()
    first = _send(producer, topic, dec("1.2.3.4", "block", T0, ttl=60 * MIN))
    bad = _send(producer, topic, None, key="ip:1.2.3.4", raw=b'{"action": "ban"')
    unknown = _send(producer, topic, dec("1.2.3.4", "ban", T0 + MIN))
    later = [
        _send(producer, topic, dec("1.2.3.4", "block", T0 + 2 * MIN, ttl=60 * MIN)),
        _send(producer, topic, dec("5.6.7.8", "challenge", T0 + 3 * MIN)),
        _send(producer, topic, dec("9.9.9.9", "throttle", T0, ttl=MIN)),  # lapses at T0 + 1 min, event time
        _send(producer, topic, None, key="ip:5.6.7.8"),  # tombstone
        _send(producer, topic, dec("5.6.7.8", "throttle", T0 + 4 * MIN)),
    ]
    producer.commit_transaction()
    producer.close()
    where = [f.get(timeout=10) for f in (first, bad, unknown, *later)]

    run = _enforce(bootstrap, topic_prefix, "--until-end", "--print", "--clock", "event")
    assert run.returncode == 0, run.stderr
    b, u = where[1], where[2]
    assert run.stderr.splitlines() == [
        f"scrapeguard enforce: {topic} partition {b.partition} offset {b.offset}: "
        "value is not JSON (Expecting ',' delimiter at character 16); skipped",
        f"scrapeguard enforce: {topic} partition {u.partition} offset {u.offset}: "
        "action 'ban' is not one of throttle, challenge, block, unblock; skipped",
    ]
    out = run.stdout.splitlines()
    assert (
        "replaced block ip:1.2.3.4 (was block) until 2026-01-05T09:02:00.000Z reasons ip_profile_views_1m "
        "score 0.75" in out
    )
    assert "cleared challenge ip:5.6.7.8 (tombstone)" in out
    assert out[-1] == (
        "scrapeguard enforce: 2 in force at 2026-01-05T08:04:00.000Z (event clock): throttle 1, block 1; "
        "read 8 messages (1 tombstones), ignored 0 duplicate and 0 stale, skipped 2 invalid"
    )


def test_enforce_without_an_output_mode_is_a_usage_error():
    run = _enforce("127.0.0.1:1", "")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == "scrapeguard enforce: nothing to show: give --print, --until-end or --snapshot\n"


@pytest.mark.kafka
def test_enforce_names_a_missing_topic(kafka_broker):
    run = _enforce(kafka_broker.bootstrap, "missing.", "--until-end")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == (
        f"scrapeguard enforce: topic missing.decisions does not exist on {kafka_broker.bootstrap} "
        "(create it: python infra/topics.py)\n"
    )
