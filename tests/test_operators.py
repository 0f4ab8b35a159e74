"""The scorer's learner versions, with stand-ins for Flink's contexts: a version stays until no row can need it."""

from __future__ import annotations

import pickle

from detectors.config import load_config
from detectors.learner import EPOCH_MS
from jobs.operators import ScoreAndDecide


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

    assert op._version(state, EPOCH_MS + 5) == "version 1"
    assert op._version(state, 30 * EPOCH_MS) == "version 30"


def test_a_version_goes_once_timers_a_second_past_its_successor_have_fired():
    op, state = scorer()
    for epoch in range(1, 4):
        publish(op, state, epoch)
    op.fired = 3 * EPOCH_MS + 999  # the end of the first second of epoch 3: the watermark has passed it

    publish(op, state, 4)

    assert op.index == [2 * EPOCH_MS, 3 * EPOCH_MS, 4 * EPOCH_MS]  # version 1: no row before epoch 2 is left
    assert set(state) == {*op.index, -1}  # and the broadcast state holds just those, with the index under -1
    assert op._version(state, 3 * EPOCH_MS - 1) == "version 2"
