"""Assessment: every layer's findings on one subject row, fused into hits with an explanation.

Rows come in event-time order (the Flink job sorts them at the watermark) and are of
three sources: `limits` rows from the per-request rate limits, `behaviour` rows (one
subject-minute of behavioural features) and analyst `verdict`s. For each row the
`Assessor`:

1. adds behaviour rows to the population histograms (for percentiles);
2. collects hits: rate limits or behaviour rules, the anomaly model (accounts), the
   verdict model once it counts, the coordination detector (accounts);
3. applies the allowlist: an allowlisted subject keeps only a quota throttle;
4. fuses: hits from two or more layers escalate the strongest action one step
   (`corroborated`); a verdict model that is confident the subject is benign drops
   hits that only the anomaly model made;
5. explains: the top features behind the hits, with value and population percentile.

All of it is plain state (River models included) that pickles, so the job keeps it in
Flink state, and `save` / `load` move it to and from a file (warm start).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detectors.allowlist import Allowlist, Match
from detectors.config import ACTIONS, Config
from detectors.coordination import Coordination
from detectors.models.anomaly import AnomalyModel, scale
from detectors.models.supervised import VerdictModel
from detectors.population import Population
from detectors.rules import build_behaviour_rules
from detectors.rules.base import Hit
from detectors.verdicts import LABELS

_RANK = {a: i for i, a in enumerate(ACTIONS)}
LAYERS = {"limits", "behaviour", "anomaly", "verdicts", "coordination"}
TOP_FEATURES = 5
MEMORY_MS = 7 * 86_400_000
"""How long the features of an assessed subject are kept for learning from a later verdict."""
_RATE_NAMES = {
    "account": {"profile_views_1m": "views_1m", "profile_views_10m": "views_10m", "profile_views_1h": "views_1h",
                "profile_views_24h": "views_24h"},
    "ip": {"profile_views_1m": "logged_out_views_1m", "profile_views_10m": "logged_out_views_10m",
           "profile_views_1h": "logged_out_views_1h"},
}  # fmt: skip
"""Rate-limit counts under the name of the behaviour feature with the same meaning (for percentiles)."""


@dataclass
class Assessment:
    """What the policy gets: the fused hits on one subject at one event time, or an analyst verdict."""

    subject_type: str
    subject: str
    ts: int
    hits: list[Hit] = field(default_factory=list)
    top_features: list[dict[str, Any]] = field(default_factory=list)
    verdict: str | None = None


class Assessor:
    """All learning, population-wide state; one instance sees every row (see module docstring)."""

    def __init__(self, config: Config) -> None:
        self.rules = {t: [r for r in build_behaviour_rules(config) if r.subject_type == t] for t in ("account", "ip")}
        self.allow = Allowlist(config)
        self.population = Population()
        models = config.section("models")
        a, v = models["anomaly"], models["verdicts"]
        self.anomaly = (
            AnomalyModel(a["seed"], a["n_trees"], a["height"], a["window_size"], a["warmup"], a["quantile"],
                         a["min_views_1h"])
            if a["enabled"] else None
        )  # fmt: skip
        self.anomaly_action = a["action"]
        self.verdicts = VerdictModel(v["min_labels"], v["learning_rate"]) if v["enabled"] else None
        self.verdict_conf = v
        c = config.section("coordination")
        self.coordination = (
            Coordination(c["min_members"], c["min_views_1h"], c["min_density"], c["action"]) if c["enabled"] else None
        )
        self.corroborate = config.section("policy")["corroborate"]
        self.last_features: dict[tuple[str, str], tuple[int, dict[str, Any] | None]] = {}
        self.rows = 0

    # -- the three sources -------------------------------------------------------------
    def limits(
        self, subject_type: str, subject: str, ts: int, features: dict[str, Any], hits: list[Hit]
    ) -> Assessment | None:
        """A rate-limit candidate row and the rate rules' hits on it."""
        tagged = [(h, "limits") for h in hits]
        match = self.allow.match(subject_type, subject)
        return self._fuse(subject_type, subject, ts, features, tagged, match, _RATE_NAMES.get(subject_type, {}))

    def behaviour(self, subject_type: str, subject: str, ts: int, features: dict[str, Any]) -> Assessment | None:
        """One subject-minute of behavioural features (`subject_type` account, ip or network)."""
        self.population.add(subject_type, features)
        self.rows += 1
        if self.rows % 10_000 == 0:
            self._forget(ts)
        if subject_type == "network":
            return None
        match = self.allow.match(subject_type, subject)
        tagged = [(h, "behaviour") for r in self.rules[subject_type] for h in r.evaluate(features)]
        if (subject_type, subject) in self.last_features:  # flagged before: keep its latest features for a verdict
            self.last_features[(subject_type, subject)] = (ts, features)
        if subject_type == "account":
            if self.coordination is not None:
                hit = self.coordination.observe(subject, ts, features)
                if hit is not None:
                    tagged.append((hit, "coordination"))
            if self.anomaly is not None:
                allowed = match is not None
                score, threshold, flagged = self.anomaly.observe(features, learn=not tagged and not allowed)
                if flagged:
                    evidence = {"anomaly_score": score, "anomaly_threshold": threshold}
                    tagged.append((Hit("anomaly_score", self.anomaly_action, min(1.0, score), evidence), "anomaly"))
            if self.verdicts is not None:
                p = self.verdicts.predict(features)
                if p is not None and p >= self.verdict_conf["flag_above"]:
                    hit = Hit("verdict_model", self.verdict_conf["action"], p, {"verdict_model_probability": p})
                    tagged.append((hit, "verdicts"))
                elif p is not None and p <= self.verdict_conf["clear_below"]:
                    tagged = [(h, layer) for h, layer in tagged if layer != "anomaly"]
        return self._fuse(subject_type, subject, ts, features, tagged, match)

    def verdict(self, subject_type: str, subject: str, ts: int, verdict: str) -> Assessment | None:
        """An analyst's `confirm` or `dismiss`: the verdict model learns it with the subject's last features.
        An `escalate` is no label and asks for nothing: None."""
        if verdict not in LABELS:
            return None
        seen = self.last_features.get((subject_type, subject))
        if self.verdicts is not None and seen is not None and seen[1] is not None and subject_type == "account":
            self.verdicts.learn(seen[1], verdict == "confirm")
        return Assessment(subject_type, subject, ts, verdict=verdict)

    # -- fusion and explanation ----------------------------------------------------------
    def _fuse(
        self,
        subject_type: str,
        subject: str,
        ts: int,
        features: dict[str, Any],
        tagged: list[tuple[Hit, str]],
        match: Match | None,
        aliases: dict[str, str] | None = None,
    ) -> Assessment | None:
        if match is not None:
            quota = self.allow.quota_hit(match, features)
            tagged = [] if quota is None else [(quota, "limits")]
        if not tagged:
            return None
        hits = [h for h, _ in tagged]
        layers = sorted({layer for _, layer in tagged})
        if self.corroborate and len(layers) >= 2 and match is None:
            strongest = max((h.action for h in hits), key=_RANK.__getitem__)
            stronger = ACTIONS[min(len(ACTIONS) - 1, _RANK[strongest] + 1)]
            hits.append(Hit("corroborated", stronger, max(h.score for h in hits), {"layers": layers}))
        if aliases is None:
            self.last_features[(subject_type, subject)] = (ts, features)
        else:  # window counts are not what the models read: remember the subject's next behaviour row instead
            self.last_features.setdefault((subject_type, subject), (ts, None))
        return Assessment(subject_type, subject, ts, hits, self.explain(subject_type, features, hits, aliases or {}))

    def explain(
        self, subject_type: str, features: dict[str, Any], hits: list[Hit], aliases: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The features behind the hits (those their evidence names; for the anomaly model, the most unusual
        scaled features), each with its value and population percentile (of the behaviour feature that `aliases`
        names, for a rate-limit count)."""
        aliases = aliases or {}
        names: list[str] = []
        for hit in hits:
            if hit.reason == "anomaly_score":
                ranked = sorted(scale(features), key=lambda n: -abs(self._midrank(subject_type, n, features[n]) - 50))
                names += ranked[:3]
            names += [k for k, v in hit.evidence.items() if k in features and isinstance(v, (int, float))]
        top: list[dict[str, Any]] = []
        for name in dict.fromkeys(names):
            if len(top) == TOP_FEATURES:
                break
            value = features[name]
            percentile = self.population.percentile(subject_type, aliases.get(name, name), value)
            top.append({"feature": name, "value": value, "percentile": percentile})
        return top

    def _midrank(self, subject_type: str, name: str, value: Any) -> float:
        p = self.population.midrank(subject_type, name, value)
        return 50.0 if p is None else p

    def _forget(self, now: int) -> None:
        self.last_features = {k: v for k, v in self.last_features.items() if v[0] >= now - MEMORY_MS}
        if self.coordination is not None:
            self.coordination.evict(now)

    # -- warm start ----------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the learned state (River models, population histograms) to a file; fleets are short-lived
        (an hour) and are not carried over."""
        Path(path).write_bytes(pickle.dumps(self.learned_state()))

    def learned_state(self) -> dict[str, Any]:
        """What a warm start carries over."""
        return {"population": self.population, "anomaly": self.anomaly, "verdicts": self.verdicts, "rows": self.rows}

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
        if not isinstance(state, dict) or set(state) != {"population", "anomaly", "verdicts", "rows"}:
            raise ValueError(f"model file {path}: not a scrapeguard model (unexpected content)")
        self.population, self.rows = state["population"], state["rows"]
        self.anomaly = state["anomaly"] if self.anomaly is not None else None
        self.verdicts = state["verdicts"] if self.verdicts is not None else None
