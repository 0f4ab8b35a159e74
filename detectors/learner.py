"""The learner: everything learned from the whole population, learned in one place and published in versions.

The anomaly model, its threshold, the population histograms behind the explanations and the
verdict model describe the population, not one subject. One learner learns them from:

- a deterministic sample of account and address rows (`sampled`: one subject in
  `[models] sample_every`, by a hash of its id, so the learner keeps up with any number of
  parallel scorers); rows that a rule hit or that are allowlisted are not learned by the
  anomaly model;
- the account rows that may be acted on (`remember`: the scorer or a fleet sees them), whose
  features a later analyst verdict is learned with (`verdict`); the verdict model also keeps
  the sampled rows it would score (through the models' volume gate) that nothing flagged, as
  the population it has to tell scrapers from.

At every epoch boundary (`EPOCH_MS` of event time) it publishes a `Version`: a copy of what
it learned from rows before the boundary. Scorers score a row with the newest version whose
boundary is not after the row, so every run, at any parallelism, scores each row with the
same model.
"""

from __future__ import annotations

import logging
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detectors.config import Config
from detectors.models.anomaly import AnomalyModel
from detectors.models.supervised import VerdictModel
from detectors.population import Population
from detectors.verdicts import LABELS

EPOCH_MS = 10 * 60_000
"""How often (in event time) the learner publishes a version."""
FIRST = -(2**63)
"""The effective time of the first version (the learner as it starts, warm-started or not)."""
log = logging.getLogger(__name__)
MEMORY_MS = 7 * 86_400_000
"""How long the features of an assessed subject are kept for learning from a later verdict."""


def in_sample(subject: str, every: int) -> bool:
    """Whether a subject is in the learner's sample of one in `every` (by a hash of its id).

    >>> sum(in_sample(f"a{i}", 4) for i in range(1000))  # about a quarter
    249
    """
    return zlib.crc32(subject.encode()) % every == 0


def epoch_end(ts: int) -> int:
    """The first epoch boundary after `ts`.

    >>> epoch_end(0), epoch_end(599_999), epoch_end(600_000)
    (600000, 600000, 1200000)
    """
    return ts - ts % EPOCH_MS + EPOCH_MS


@dataclass
class Version:
    """What the scorers use: the learner's state as of `effective` (event time, ms)."""

    effective: int
    population: Population
    anomaly: AnomalyModel | None
    verdicts: VerdictModel | None


class Learner:
    """Population-wide learning (see module docstring)."""

    unlearned = 0
    """Verdicts the verdict model could not learn (`verdict`); a class default, so learners pickled before it
    existed restore."""
    gate = 20
    """`[models.anomaly] min_views_1h`, the models' volume gate (the default's for learners pickled before it)."""

    def __init__(self, config: Config) -> None:
        models = config.section("models")
        a, v = models["anomaly"], models["verdicts"]
        self.population = Population()
        self.anomaly = (
            AnomalyModel(a["seed"], a["n_trees"], a["height"], a["window_size"], a["warmup"], a["quantile"],
                         a["min_views_1h"], a["action"])
            if a["enabled"] else None
        )  # fmt: skip
        self.verdicts = (
            VerdictModel(v["min_labels"], v["learning_rate"], v["flag_above"], v["action"], v["background"])
            if v["enabled"] else None
        )  # fmt: skip
        self.gate = a["min_views_1h"]
        self.memory: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.rows = 0

    def learn(self, subject_type: str, subject: str, ts: int, features: dict[str, Any], learnable: bool) -> None:
        """One sampled row: it joins the population histograms; a learnable account row trains the anomaly model
        and, through the volume gate, joins the verdict model's population."""
        self.population.add(subject_type, features)
        if subject_type != "account":
            return
        if self.anomaly is not None:
            if learnable:
                self.anomaly.observe(subject, ts, features)
            else:
                self.anomaly.calibrate(features)
        if learnable and self.verdicts is not None and (features.get("views_1h") or 0) >= self.gate:
            self.verdicts.observe(subject, ts, features)

    def remember(self, subject_type: str, subject: str, ts: int, features: dict[str, Any]) -> None:
        """Keep the features of an account's row that may be acted on, for a later verdict on the account."""
        self.memory[(subject_type, subject)] = (ts, features)
        self.rows += 1
        if self.rows % 10_000 == 0:
            self.memory = {k: v for k, v in self.memory.items() if v[0] >= ts - MEMORY_MS}

    def verdict(self, subject_type: str, subject: str, verdict: str) -> None:
        """An analyst's `confirm` or `dismiss`: the verdict model learns it with the subject's remembered features.

        One on an account with no features remembered (no minute of it reached the scorer or a fleet in the
        last `MEMORY_MS`: only a per-request limit acted on it, say) cannot be learned. It still acts through
        the decision policy; here it is counted in `unlearned` and logged, without the subject's id."""
        if self.verdicts is None or subject_type != "account" or verdict not in LABELS:
            return
        seen = self.memory.get((subject_type, subject))
        if seen is None:
            self.unlearned += 1
            log.warning(
                "a %s verdict on an account with no remembered features was not learned by the verdict model "
                "(%d so far); it still applies to the account's decisions",
                verdict,
                self.unlearned,
            )
            return
        self.verdicts.learn(seen[1], verdict == "confirm")

    def version(self, effective: int) -> Version:
        """A copy of what was learned so far, effective from `effective`."""
        return pickle.loads(self.published(effective))  # type: ignore[no-any-return]

    def published(self, effective: int) -> bytes:
        """`version(effective)` pickled, as the job publishes it: the copy is made once, by pickling (after the
        verdict model is fitted to any new verdicts, so no scorer fits it)."""
        if self.verdicts is not None:
            self.verdicts.fit()
        return pickle.dumps(Version(effective, self.population, self.anomaly, self.verdicts))

    # -- warm start ----------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the learned state (River models, population histograms) to a file."""
        Path(path).write_bytes(pickle.dumps(self.learned_state()))

    def learned_state(self) -> dict[str, Any]:
        """What a warm start carries over."""
        return {"population": self.population, "anomaly": self.anomaly, "verdicts": self.verdicts}

    def load(self, path: str | Path) -> None:
        """Warm-start from a file written by `save` (the configuration's rules and allowlists stay)."""
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise ValueError(f"model file {path}: not found") from None
        except OSError as exc:
            raise ValueError(f"model file {path}: cannot be read ({exc.strerror})") from None
        try:
            state = pickle.loads(data)  # a model file is a trusted artefact of `--model-out`, like a checkpoint
        except Exception as exc:
            raise ValueError(f"model file {path}: not a scrapeguard model ({type(exc).__name__}: {exc})") from None
        if not isinstance(state, dict) or set(state) != {"population", "anomaly", "verdicts"}:
            raise ValueError(f"model file {path}: not a scrapeguard model (unexpected content)")
        self.population = state["population"]
        self.anomaly = state["anomaly"] if self.anomaly is not None else None
        self.verdicts = state["verdicts"] if self.verdicts is not None else None
