"""River's HalfSpaceTrees with its trees laid out flat: the same trees and scores, faster walks, smaller pickles.

River builds each tree from its seed as linked node objects and walks them with nested
generators; the learner walks every tree twice per observation (score, then learn), and a
scorer unpickles the whole forest with every published version. Here River still builds the
trees (`river.anomaly.hst.make_padded_tree`, the same random draws from the same seed), and
they are then kept as four lists in heap order (node `i` has children `2i + 1` and `2i + 2`):
split feature, threshold, and the two window masses. Walks follow River's rules exactly, so
scores are equal to River's, float for float (`tests/test_halfspace.py` holds them equal).

>>> trees = HalfSpaceTrees(n_trees=3, height=4, window_size=5, seed=1)
>>> for v in (0.40, 0.42, 0.41, 0.43, 0.40, 0.42):
...     trees.learn_one({"x": v, "y": 1 - v})
>>> trees.score_one({"x": 0.95, "y": 0.05}) > trees.score_one({"x": 0.41, "y": 0.59})
True
"""

from __future__ import annotations

import random
from typing import Any

from river.anomaly import hst

_PADDING = 0.15  # River's


class HalfSpaceTrees:
    """`river.anomaly.HalfSpaceTrees(n_trees, height, window_size, seed=seed)` with features in [0, 1]."""

    def __init__(self, n_trees: int = 10, height: int = 8, window_size: int = 250, seed: int | None = None) -> None:
        self.n_trees, self.height, self.window_size, self.seed = n_trees, height, window_size, seed
        self.size = (1 << (height + 1)) - 1  # nodes per tree
        self.feature: list[str | None] = []  # None at a leaf
        self.threshold: list[float] = []
        self.l_mass: list[int] = []  # the window being filled
        self.r_mass: list[int] = []  # the last full window: what scores use
        self.counter = 0
        self.first_window = True

    @classmethod
    def from_river(cls, model: hst.HalfSpaceTrees) -> HalfSpaceTrees:
        """The same model, flat (a model file or checkpoint written with River's class)."""
        flat = cls(model.n_trees, model.height, model.window_size, model.seed)
        flat._lay_out(model.trees)
        flat.counter, flat.first_window = model.counter, model._first_window
        return flat

    def _lay_out(self, trees: list[Any]) -> None:
        n = len(trees) * self.size
        self.feature, self.threshold, self.l_mass, self.r_mass = [None] * n, [0.0] * n, [0] * n, [0] * n
        for t, tree in enumerate(trees):
            nodes = [(tree, 0)]
            while nodes:
                node, i = nodes.pop()
                at = t * self.size + i
                self.l_mass[at], self.r_mass[at] = node.l_mass, node.r_mass
                if isinstance(node, hst.HSTBranch):
                    self.feature[at], self.threshold[at] = node.feature, node.threshold
                    nodes += [(node.children[0], 2 * i + 1), (node.children[1], 2 * i + 2)]

    def learn_one(self, x: dict[str, float]) -> None:
        if not self.feature:  # River builds the trees at the first row, over its features
            rng = random.Random(self.seed)
            limits = [{name: (0.0, 1.0) for name in sorted(x)} for _ in range(self.n_trees)]
            self._lay_out([hst.make_padded_tree(lim, self.height, _PADDING, rng, r_mass=0, l_mass=0) for lim in limits])
        feature, threshold, mass = self.feature, self.threshold, self.l_mass
        for base in range(0, len(feature), self.size):
            i = 0
            while True:
                at = base + i
                mass[at] += 1
                name = feature[at]
                if name is None:
                    break
                i = _child(x, name, threshold[at], mass, base, i)
        self.counter += 1
        if self.counter == self.window_size:
            self.r_mass, self.l_mass = self.l_mass, [0] * len(self.l_mass)
            self.first_window, self.counter = False, 0

    def score_one(self, x: dict[str, float]) -> float:
        if self.first_window:
            return 0
        feature, threshold, mass, limit = self.feature, self.threshold, self.r_mass, 0.1 * self.window_size
        score = 0.0
        for base in range(0, len(feature), self.size):
            i, weight = 0, 1  # 2 ** depth
            while True:
                at = base + i
                score += mass[at] * weight
                name = feature[at]
                if mass[at] < limit or name is None:
                    break
                i = _child(x, name, threshold[at], self.l_mass, base, i)
                weight *= 2
        return 1 - score / (self.n_trees * self.window_size * self.size)


def _child(x: dict[str, float], name: str, threshold: float, l_mass: list[int], base: int, i: int) -> int:
    """River's `HSTBranch.next`: by the split, or without the feature down the child filled more in this window."""
    left = 2 * i + 1
    try:
        value = x[name]
    except KeyError:
        return left + 1 if l_mass[base + left] < l_mass[base + left + 1] else left
    return left if value < threshold else left + 1
