"""Assessment: every layer's findings on one subject at one row time, fused into hits with an explanation.

The scorer sees a subject's rows in canonical order (`detectors.pipeline.Row.order`). Rows of
one subject with the same row time and source are assessed together:

- `limits`: the rate limits' hits (per request, or per minute for long windows);
- `behaviour`: one subject-minute, with the behaviour rules' hits (from the subject's rolling
  state) and the coordination detector's, to which the scorer adds the models' hits
  (anomaly, verdicts) when the row passed their volume gate;
- an analyst `verdict`.

Fusion: an allowlisted subject keeps only a quota throttle; hits from two or more layers
escalate the strongest action one step (`corroborated`); a model's hit (anomaly, verdicts) acts only
beside a hit of a layer that is not a model (unless the model's `alone`), and a verdict model
that is confident the subject is benign drops the anomaly model's. The explanation lists
the features behind the hits, each with its value and population percentile. The models
and the population come from the learner's `Version` in force at the row time, so the
assessor itself keeps no state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from detectors.allowlist import Allowlist, Match
from detectors.config import ACTIONS, Config
from detectors.layers import Hit
from detectors.learner import Version
from detectors.models.anomaly import scale

_RANK = {a: i for i, a in enumerate(ACTIONS)}
TOP_FEATURES = 5
RATE_NAMES = {
    "account": {"profile_views_1m": "views_1m", "profile_views_10m": "views_10m", "profile_views_1h": "views_1h",
                "profile_views_24h": "views_24h"},
    "ip": {"profile_views_1m": "logged_out_views_1m", "profile_views_10m": "logged_out_views_10m",
           "profile_views_1h": "logged_out_views_1h"},
}  # fmt: skip
"""Rate-limit counts under the name of the behaviour feature with the same meaning (for percentiles)."""

Tagged = tuple[Hit, str]
"""A hit and the layer that raised it."""


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
    """Fusion and explanation (see module docstring); stateless between rows."""

    def __init__(self, config: Config) -> None:
        self.allow = Allowlist(config)
        self.corroborate = config.section("policy")["corroborate"]
        self.clear_below = config.section("models", "verdicts")["clear_below"]
        models = config.section("models")
        self.alone = {"anomaly": models["anomaly"]["alone"], "verdicts": models["verdicts"]["alone"]}

    def limits(
        self, version: Version, subject_type: str, subject: str, ts: int, features: dict[str, Any], tagged: list[Tagged]
    ) -> Assessment | None:
        """The rate limits' hits on one row."""
        return self._fuse(version, subject_type, subject, ts, features, tagged, RATE_NAMES.get(subject_type, {}))

    def behaviour(
        self,
        version: Version,
        subject_type: str,
        subject: str,
        ts: int,
        features: dict[str, Any],
        tagged: list[Tagged],
        gated: bool,
    ) -> Assessment | None:
        """One subject-minute: the rules' and coordination's hits, plus the models' when the row is `gated`."""
        tagged = list(tagged)
        if gated and subject_type == "account":
            if version.anomaly is not None:
                tagged += [(h, "anomaly") for h in version.anomaly.hits(subject, ts, features)]
            if version.verdicts is not None:
                p = version.verdicts.predict(features)
                if p is not None and p <= self.clear_below:
                    tagged = [(h, layer) for h, layer in tagged if layer != "anomaly"]
                tagged += [(h, "verdicts") for h in version.verdicts.hits(subject, ts, features)]
            if all(self.alone.get(layer) is False for _, layer in tagged):
                tagged = []  # only models that may not act alone
        return self._fuse(version, subject_type, subject, ts, features, tagged, {})

    def _fuse(
        self,
        version: Version,
        subject_type: str,
        subject: str,
        ts: int,
        features: dict[str, Any],
        tagged: list[Tagged],
        aliases: dict[str, str],
    ) -> Assessment | None:
        match: Match | None = self.allow.match(subject_type, subject)
        if match is not None:
            quota = self.allow.quota_hit(match, features)
            tagged = [] if quota is None else [(quota, "limits")]
        if not tagged:
            return None
        by_reason: dict[str, Hit] = {}  # one hit per reason (two limits on one window share it): the strongest
        for h, _ in tagged:
            kept = by_reason.get(h.reason)
            if kept is None or (_RANK[h.action], h.score) > (_RANK[kept.action], kept.score):
                by_reason[h.reason] = h
        hits = list(by_reason.values())
        layers = sorted({layer for _, layer in tagged})
        if self.corroborate and len(layers) >= 2 and match is None:
            strongest = max((h.action for h in hits), key=_RANK.__getitem__)
            stronger = ACTIONS[min(len(ACTIONS) - 1, _RANK[strongest] + 1)]
            hits.append(Hit("corroborated", stronger, max(h.score for h in hits), {"layers": layers}))
        return Assessment(subject_type, subject, ts, hits, explain(version, subject_type, features, hits, aliases))


def explain(
    version: Version, subject_type: str, features: dict[str, Any], hits: list[Hit], aliases: dict[str, str]
) -> list[dict[str, Any]]:
    """The features behind the hits (those their evidence names; for the anomaly model, the most unusual
    scaled features; for a group's hit that names none, such as a fleet's, its own numbers), each with its
    value and population percentile (of the behaviour feature that `aliases` names, for a rate-limit count;
    null for a number no behaviour row has)."""
    population = version.population
    names: list[str] = []
    values = dict(features)
    for hit in hits:
        if hit.reason == "anomaly_score":
            ranked = sorted(scale(features), key=lambda n: -abs(_midrank(version, subject_type, n, features[n]) - 50))
            names += ranked[:3]
        numbers = {k: v for k, v in hit.evidence.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        named = [k for k in numbers if k in features]
        if not named and hit.reason != "anomaly_score":
            named = list(numbers)
            values = {**numbers, **values}
        names += named
    top: list[dict[str, Any]] = []
    for name in dict.fromkeys(names):
        if len(top) == TOP_FEATURES:
            break
        value = values[name]
        top.append({"feature": name, "value": value, "percentile": population.percentile(subject_type,
                                                                                          aliases.get(name, name),
                                                                                          value)})  # fmt: skip
    return top


def _midrank(version: Version, subject_type: str, name: str, value: Any) -> float:
    p = version.population.midrank(subject_type, name, value)
    return 50.0 if p is None else p
