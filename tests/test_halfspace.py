"""The flat HalfSpaceTrees score exactly as River's, and convert from it."""

import pickle
import random

from river import anomaly

from detectors.models.halfspace import HalfSpaceTrees

FEATURES = ("views_10m", "views_1h", "nav_share_1h", "static_share_1h", "minute_cv_1h")


def rows(seed: int, n: int) -> list[dict[str, float]]:
    """Clustered rows in [0, 1], some far out, some with features missing (River then follows the fuller child)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        centre = 0.9 if rng.random() < 0.05 else 0.3
        row = {f: min(1.0, max(0.0, rng.gauss(centre, 0.1))) for f in FEATURES if rng.random() > 0.1}
        out.append(row or {"views_1h": 0.5})
    return out


def test_scores_equal_rivers_through_window_changes() -> None:
    river = anomaly.HalfSpaceTrees(n_trees=5, height=6, window_size=40, seed=3)
    flat = HalfSpaceTrees(n_trees=5, height=6, window_size=40, seed=3)
    data = rows(1, 400)
    scores = []
    for x in data:
        scores.append(flat.score_one(x))
        assert scores[-1] == river.score_one(x)
        river.learn_one(x)
        flat.learn_one(x)
    assert len(set(scores)) > 20  # the scores moved: the comparison covered real walks, not the first window's 0


def test_converts_a_river_model_mid_window() -> None:
    river = anomaly.HalfSpaceTrees(n_trees=4, height=5, window_size=30, seed=9)
    for x in rows(2, 75):  # two full windows and part of a third
        river.learn_one(x)
    flat = HalfSpaceTrees.from_river(river)
    for x in rows(3, 100):
        assert flat.score_one(x) == river.score_one(x)
        river.learn_one(x)
        flat.learn_one(x)


def test_pickles_smaller_than_river_and_scores_the_same() -> None:
    river = anomaly.HalfSpaceTrees(seed=42)
    flat = HalfSpaceTrees(seed=42)
    for x in rows(4, 600):
        river.learn_one(x)
        flat.learn_one(x)
    restored = pickle.loads(pickle.dumps(flat))
    probe = rows(5, 50)
    assert [restored.score_one(x) for x in probe] == [river.score_one(x) for x in probe]
    assert len(pickle.dumps(flat)) < 0.6 * len(pickle.dumps(river))


def test_an_anomaly_model_pickled_with_rivers_trees_restores_flat() -> None:
    from detectors.models.anomaly import AnomalyModel

    old = AnomalyModel(seed=7, warmup=50)
    old.model = anomaly.HalfSpaceTrees(n_trees=10, height=8, window_size=250, seed=7)  # as model files were written
    new = AnomalyModel(seed=7, warmup=50)
    for x in rows(6, 300):
        old.observe("a", 0, x)
        new.observe("a", 0, x)
    restored = pickle.loads(pickle.dumps(old))
    assert isinstance(restored.model, HalfSpaceTrees)
    probe = rows(7, 30)
    assert [restored.score("a", 0, x) for x in probe] == [new.score("a", 0, x) for x in probe]
