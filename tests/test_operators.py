"""The scorer with stand-ins for Flink's contexts: a learner version stays until no row can need it; rows from SQL
and from Python operators; tombstones. Learner observations batched by row time, from Behave to Learn."""

from __future__ import annotations

import pickle
from unittest.mock import patch

import orjson

from detectors.config import load_config
from detectors.events import parse_timestamp
from detectors.features.minutes import AccountMinute
from detectors.learner import EPOCH_MS
from detectors.pipeline import LIMITS, Observation, Row
from detectors.pipeline import Behave as BehaveStep
from detectors.rules.base import Hit
from jobs.operators import LEARN, LEARNER_KEY, Behave, Learn, ScoreAndDecide, observations, out, unbatch


class Broadcast(dict):
    """Broadcast map state as the Python operators see it."""

    def put(self, key, value):
        self[key] = value

    def remove(self, key):
        del self[key]


class Context:
    def __init__(self, state: Broadcast) -> None:
        self.state = state

    def get_broadcast_state(self, descriptor):
        return self.state


class Runtime:
    def get_map_state(self, descriptor):
        return None

    def get_state(self, descriptor):
        return None


def scorer() -> tuple[ScoreAndDecide, Broadcast]:
    op = ScoreAndDecide(load_config())
    op.open(Runtime())
    return op, Broadcast()


def publish(op: ScoreAndDecide, state: Broadcast, epoch: int) -> None:
    op.process_broadcast_element((epoch * EPOCH_MS, pickle.dumps(f"version {epoch}")), Context(state))


def test_a_scorer_far_behind_the_learner_keeps_every_version_it_has_yet_to_use():
    op, state = scorer()
    for epoch in range(1, 31):  # five hours of versions before any timer of this scorer fires
        publish(op, state, epoch)

    assert op._version(lambda: state, EPOCH_MS + 5) == "version 1"
    assert op._version(lambda: state, 30 * EPOCH_MS) == "version 30"


def test_a_version_goes_once_timers_a_second_past_its_successor_have_fired():
    op, state = scorer()
    for epoch in range(1, 4):
        publish(op, state, epoch)
    op.fired = 3 * EPOCH_MS + 999  # the end of the first second of epoch 3: the watermark has passed it

    publish(op, state, 4)

    assert op.index == [2 * EPOCH_MS, 3 * EPOCH_MS, 4 * EPOCH_MS]  # version 1: no row before epoch 2 is left
    assert set(state) == {*op.index, -1}  # and the broadcast state holds just those, with the index under -1
    assert op._version(lambda: state, 3 * EPOCH_MS - 1) == "version 2"


# -- rows from SQL: a counted request over a short-window limit reaches the scorer as a JSON array -------------


def test_a_counted_request_from_sql_is_the_row_the_reference_builds_and_none_when_no_rule_hits():
    op, _ = scorer()
    limits = op.limits["ip"]
    counted = ["10.0.0.9", 1767600030000, None, 1767600000000, 61]  # COUNTED, then the 1-minute count

    row = op._row(orjson.dumps(["ip", *counted]).decode())

    assert row == limits.request_row("10.0.0.9", 1767600030000, {"1m": 61}, None, 1767600000000)
    assert [h.reason for h, _ in row.hits] == ["ip_profile_views_1m"]
    assert op._row(orjson.dumps(["ip", *counted[:4], 0]).decode()) is None  # under every limit: no scorer row
    assert op._row(pickle.dumps(row)) == row  # a record pickled by an upstream operator


# -- tombstones: a subject's decisions lapsing in event time, with Flink's keyed state and timers stood in for ---


class Value:
    """Keyed value state of one key."""

    def __init__(self) -> None:
        self.v = None

    def value(self):
        return self.v

    def update(self, v) -> None:
        self.v = pickle.loads(pickle.dumps(v))

    def clear(self) -> None:
        self.v = None


class Timers:
    """An event-time timer service of one key: one timer per timestamp (as Flink's), fired in order."""

    def __init__(self) -> None:
        self.due: set[int] = set()
        self.watermark = -(2**63)

    def register_event_time_timer(self, t: int) -> None:
        self.due.add(t)

    def current_watermark(self) -> int:
        return self.watermark


class KeyedContext(Context):
    def __init__(self, key: str, state: Broadcast, timers: Timers) -> None:
        super().__init__(state)
        self.key, self.timers = key, timers

    def timer_service(self) -> Timers:
        return self.timers

    def get_current_key(self) -> str:
        return self.key


def advance(op: ScoreAndDecide, ctx: KeyedContext, watermark: int) -> list[tuple[str | None, int]]:
    """Move the watermark to `watermark`: fire the due timers in order (also those they register); the
    messages they emit, as (action or None for a tombstone, event time)."""
    ctx.timers.watermark = watermark
    emitted = []
    while ctx.timers.due and min(ctx.timers.due) <= watermark:
        t = min(ctx.timers.due)
        ctx.timers.due.remove(t)
        for key, value, ts in op.on_timer(t, ctx) or []:
            assert key == ctx.key
            emitted.append((None if value is None else orjson.loads(value)["action"], ts))
    return emitted


def test_a_subject_that_lapses_returns_and_lapses_again_gets_a_second_tombstone():
    """account:a1013 on the default scenario (seed 3): challenged at 08:51 for an hour, again at 09:51 (a repeat
    offence: two hours); each lapse ends on a tombstone."""
    op = ScoreAndDecide(load_config(), tombstones=True)
    op.open(Runtime())
    op.pending, op.policy = Broadcast(), Value()
    ctx = KeyedContext("account:a1013", Broadcast(), Timers())
    hit = ((Hit("account_profile_views_1m", "challenge", 1.0, {}), "limits"),)
    at = parse_timestamp

    def row(ts: str) -> Row:
        minute_end = at(ts) - at(ts) % 60_000 + 59_999
        return out(ctx.key, Row(minute_end, LIMITS, "account", "a1013", at(ts), {}, hit))[1]

    op.process_element(row("2026-01-05T08:51:47.313Z"), ctx)
    assert advance(op, ctx, at("2026-01-05T09:51:00Z")) == [("challenge", at("2026-01-05T08:51:47.313Z"))]
    op.process_element(row("2026-01-05T09:51:56.132Z"), ctx)
    assert advance(op, ctx, at("2026-01-05T11:00:00Z")) == [
        (None, at("2026-01-05T09:51:47.313Z")),  # the first decision lapsed
        ("challenge", at("2026-01-05T09:51:56.132Z")),  # back, for two hours
    ]
    assert advance(op, ctx, at("2026-01-06T12:00:00Z")) == [(None, at("2026-01-05T11:51:56.132Z"))]  # lapsed again
    assert op.policy.value().offences == 2  # its offences still count a day on ...
    assert advance(op, ctx, at("2026-01-12T12:00:00Z")) == []
    assert op.policy.value() is None  # ... and are forgotten after the offence memory (7 days)


def test_a_scorer_without_checkpoints_keeps_each_subjects_held_rows_and_policy_apart_in_its_memory():
    """The embedded run takes no checkpoints, so its scorer keeps state in a dict (`InMemory`), under the key of
    each call: two subjects' rows of the same second stay apart, and a taken second leaves nothing behind."""
    op = ScoreAndDecide(load_config(), durable=False)
    op.open(Runtime())
    versions = Broadcast()
    hit = ((Hit("account_profile_views_1m", "challenge", 1.0, {}), "limits"),)
    ts = parse_timestamp("2026-01-05T08:51:47.313Z")
    subjects = {s: KeyedContext(f"account:{s}", versions, Timers()) for s in ("a1", "a2")}
    for subject, ctx in subjects.items():
        op.process_element(
            out(ctx.key, Row(ts - ts % 60_000 + 59_999, LIMITS, "account", subject, ts, {}, hit))[1], ctx
        )

    assert len(op.pending.data) == 2  # one held second per subject
    for ctx in subjects.values():
        assert advance(op, ctx, ts + 60_000) == [("challenge", ts)]  # the row time is the end of its minute
    assert op.pending.data == {}
    assert {k: s.offences for k, s in op.policy.data.items()} == {"account:a1": 1, "account:a2": 1}


# -- learner observations: one crossing per minute without checkpoints -----------------------------------------


class ListState:
    """Keyed list state of one key."""

    def __init__(self) -> None:
        self.items: list[bytes] = []

    def add(self, item: bytes) -> None:
        self.items.append(item)

    def add_all(self, items: list[bytes]) -> None:
        self.items += items

    def get(self) -> list[bytes]:
        return list(self.items)

    def update(self, items: list[bytes]) -> None:
        self.items = list(items)

    def clear(self) -> None:
        self.items = []


class LearnerRuntime(Runtime):
    def get_list_state(self, descriptor):
        return ListState()

    def get_state(self, descriptor):
        return Value()


def minute(subject: str, at: int, views: int) -> AccountMinute:
    return AccountMinute(subject, at, at + 59_000, None, at, views, views, 0, views, 0, 0, views, 1, views, 1, 0,
                         views, "Mozilla/5.0", "10.0.0.0/24")  # fmt: skip


def test_without_checkpoints_a_minutes_learner_observations_of_every_subject_leave_as_one_row_at_its_end():
    """Behave holds the observations of a row time until the watermark passes it: one `LEARN` row for all the
    subjects of that minute, holding what the reference step routes to the learner, in the same order."""
    config = load_config()
    reference = BehaveStep(config, "account")
    op = Behave(config, "account", durable=False)
    op.open(Runtime())
    timers = Timers()
    t0 = parse_timestamp("2026-01-05T08:00:00Z")
    subjects = [f"a{i}" for i in range(8)]
    for at in (t0, t0 + 60_000):
        for s in subjects:
            ctx = KeyedContext(s, Broadcast(), timers)
            emitted = list(op.process_element(minute(s, at, 30), ctx))
            assert not any(e[0] is LEARN for e in emitted)  # held, not sent
    assert timers.due == {t0 + 59_999, t0 + 119_999}  # one timer per row time, not per subject

    states = {s: reference.new_state() for s in subjects}
    expected = []
    for at in (t0, t0 + 60_000):
        expected.append([o for s in subjects for o in reference.step(states[s], minute(s, at, 30)).learn])
    rows = []
    for t in sorted(timers.due):
        rows += list(op.on_timer(t, KeyedContext(subjects[0], Broadcast(), timers)))
    assert [(tag, row[0], row[1][0]) for tag, row in rows] == [
        (LEARN, LEARNER_KEY, t0 + 59_999),
        (LEARN, LEARNER_KEY, t0 + 119_999),
    ]
    assert [unbatch(row[1][1]) for _, row in rows] == expected
    assert all(expected) and op.learn == {}


def test_the_learner_takes_batches_in_canonical_order_and_restores_them_and_single_observations():
    """Learn sorts the due observations of every batch together; what it learned since its last snapshot is
    replayed on restore, from its own batches and from a payload of one observation (written before batching)."""
    config = load_config()
    t0 = parse_timestamp("2026-01-05T08:00:59.999Z")
    sample = [Observation(t0, "sample", "account", s, t0, {"views_1m": 30}, True) for s in ("a2", "a1")]
    verdict = Observation(t0, "verdict", "account", "a1", t0, {}, verdict="confirm")
    op = Learn(config)
    op.open(LearnerRuntime())
    timers = Timers()
    ctx = KeyedContext(LEARNER_KEY, Broadcast(), timers)
    for batch in ([sample[0]], [verdict], [sample[1]]):
        op.process_element(observations(t0, batch)[1], ctx)
    taken = []
    with patch("jobs.operators.learn", lambda learner, o: taken.append(o)):
        list(op.on_timer(t0, ctx))  # the end of the row time's second

        assert taken == sorted([*sample, verdict], key=Observation.order)
        assert op.pending.get() == [] and [unbatch(p) for p in op.learned.get()] == [taken]

        restored = Learn(config)
        restored.open(LearnerRuntime())
        restored.learned.update([*op.learned.get(), pickle.dumps(sample[0])])
        taken.clear()
        restored._learner()
    assert taken == [*sorted([*sample, verdict], key=Observation.order), sample[0]]
