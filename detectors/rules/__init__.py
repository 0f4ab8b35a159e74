"""Rules: one module per family, each a `Rule` subclass."""

from __future__ import annotations

from detectors.config import Config
from detectors.rules.base import SHORT_WINDOW_MS, Hit, Request, Rule
from detectors.rules.behaviour import BehaviourRule
from detectors.rules.new_account import NewAccountRule
from detectors.rules.profile_rate import ProfileRateRule

__all__ = [
    "SHORT_WINDOW_MS",
    "BehaviourRule",
    "Hit",
    "NewAccountRule",
    "ProfileRateRule",
    "Request",
    "Rule",
    "build_behaviour_rules",
    "build_rules",
]


def build_rules(config: Config) -> list[Rule]:
    """The enabled rate rules of a configuration."""
    section = config.section("rules")
    rules: list[Rule] = []
    if section["account_profile_rate"]["enabled"]:
        rules.append(ProfileRateRule("account", section["account_profile_rate"]["limits"]))
    if section["new_account_profile_views"]["enabled"]:
        rules.append(NewAccountRule(section["new_account_profile_views"]["limits"]))
    if section["ip_profile_rate"]["enabled"]:
        rules.append(ProfileRateRule("ip", section["ip_profile_rate"]["limits"]))
    return rules


def build_behaviour_rules(config: Config) -> list[BehaviourRule]:
    """The `[[rules.behaviour]]` entries."""
    return [BehaviourRule(entry) for entry in config.section("rules").get("behaviour", [])]
