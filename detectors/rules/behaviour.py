"""Behaviour rules: named conjunctions of conditions on an account's or address's behavioural features.

Each rule is configuration (`[[rules.behaviour]]`), so trust and safety can add or tune
one without code. A rule hits when every condition holds; the hit's evidence is each
feature's value beside its condition.

>>> rule = BehaviourRule({"name": "sequential_targets", "subject": "account", "action": "challenge",
...                       "when": {"views_1h": ">= 15", "target_density_1h": ">= 0.2"}})
>>> hit = rule.evaluate({"views_1h": 30, "target_density_1h": 0.7})[0]
>>> hit.reason, hit.evidence["target_density_1h"], hit.evidence["limit_target_density_1h"]
('sequential_targets', 0.7, '>= 0.2')
>>> rule.evaluate({"views_1h": 30, "target_density_1h": 0.01})
[]
"""

from __future__ import annotations

from typing import Any

from detectors.config import OPERATORS, parse_condition
from detectors.rules.base import Hit, Rule

SCORE = 0.75
"""Score of a behaviour rule hit (rate limits score by how far over the limit they are)."""


class BehaviourRule(Rule):
    """One `[[rules.behaviour]]` entry."""

    layer = "behaviour"

    def __init__(self, entry: dict[str, Any]) -> None:
        self.name = entry["name"]
        self.subject_type = entry["subject"]
        self.action = entry["action"]
        self.conditions = [(feature, text, *parse_condition(text)) for feature, text in entry["when"].items()]

    def evaluate(self, features: dict[str, Any]) -> list[Hit]:
        evidence: dict[str, Any] = {}
        for feature, text, op, value in self.conditions:
            actual = features.get(feature)
            if actual is None or not OPERATORS[op](actual, value):
                return []
            evidence[feature] = actual
            evidence[f"limit_{feature}"] = text
        return [Hit(self.name, self.action, SCORE, evidence)]

    @property
    def features(self) -> list[str]:
        """The features the rule reads."""
        return [c[0] for c in self.conditions]
