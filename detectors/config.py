"""Configuration: built-in defaults (`default_config.toml`) merged with a platform's TOML file.

Every key is checked before any work starts; a mistake raises `ConfigError`
naming the file and the key.

>>> parse_duration("90s"), parse_duration("1h"), parse_duration("250ms")
(90000, 3600000, 250)
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from detectors.routes import RouteError, RouteTable

if TYPE_CHECKING:
    from detectors.logformat import LogFormat

ACTIONS = ("throttle", "challenge", "block")
"""Enforcement actions, weakest first (`unblock` is an analyst's release, not a rule's)."""

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_CONDITION = re.compile(r"^\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_condition(text: Any) -> tuple[str, float]:
    """`">= 0.2"` to `(">=", 0.2)`; ValueError naming the text otherwise."""
    m = _CONDITION.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"{text!r} is not a condition such as '>= 15' or '< 0.3'")
    return m[1], float(m[2])


_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_SHAPE: dict[str, Any] = {
    "input": {"max_line_bytes": int, "log_format": "format", "actor": "format"},
    "time": {"out_of_orderness": "duration", "max_ahead": "duration", "max_clock_skew": "duration"},
    "routes": list,
    "rules": {
        "account_profile_rate": {
            "enabled": bool,
            "limits": [{"window": "duration", "max_views": int, "action": "action"}],
        },
        "new_account_profile_views": {
            "enabled": bool,
            "limits": [{"within": "duration", "window": "duration?", "max_views": int, "action": "action"}],
        },
        "ip_profile_rate": {"enabled": bool, "limits": [{"window": "duration", "max_views": int, "action": "action"}]},
        "behaviour": [{"name": str, "subject": "subject", "action": "action", "when": "conditions"}],
    },
    "tiers": {
        "asserted": "factors",
        "human": {"factor": "factor", "min_age_days": int, "when": "conditions"},
    },
    "features": {"night_utc_hours": "hours"},
    "absence": {"min_rows": "natural", "min_share": "fraction"},
    "models": {
        "sample_every": int,
        "anomaly": {
            "enabled": bool,
            "seed": "natural",
            "n_trees": int,
            "height": int,
            "window_size": int,
            "warmup": int,
            "quantile": "fraction",
            "min_views_1h": int,
            "action": "action",
            "alone": bool,
        },
        "verdicts": {
            "enabled": bool,
            "min_labels": int,
            "learning_rate": "fraction",
            "flag_above": "fraction",
            "clear_below": "fraction",
            "action": "action",
            "alone": bool,
            "background": "natural",
        },
    },
    "coordination": {
        "enabled": bool,
        "min_members": int,
        "min_views_1h": int,
        "min_density": "fraction",
        "action": "action",
        "addresses": {
            "enabled": bool,
            "block": int,
            "min_members": int,
            "window_minutes": int,
            "action": "action",
            "max_per_id": int,
            "ranges": {
                "enabled": bool,
                "prefix_v4": "prefix_v4",
                "prefix_v6": "prefix_v6",
                "min_addresses": int,
                "action": "action",
            },
        },
        "surge": {
            "enabled": bool,
            "min_views_10m": int,
            "factor": "factor",
            "half_life_minutes": int,
            "warmup_minutes": int,
            "max_minutes": int,
            "dismiss_grace": "duration",
            "action": "action",
        },
        "accounts": {
            "enabled": bool,
            "by": "group_keys",
            "min_members": int,
            "min_views_1h": int,
            "window_minutes": int,
            "action": "action",
        },
    },
    "allowlist": {
        "accounts": "strings",
        "cidrs": "cidrs",
        "partners": "entries",
        "crawlers": "entries",
    },
    "policy": {
        "ttl": {a: "duration" for a in ACTIONS},
        "max_ttl_factor": int,
        "memory": "duration",
        "offence_memory": "duration",
        "corroborate": bool,
        "dismiss_grace": "duration",
    },
}
_ENTRY = {
    "partners": {"name": str, "account": str, "cidrs": "cidrs", "max_views_per_hour": int},
    "crawlers": {"name": str, "user_agent": str, "cidrs": "cidrs", "max_views_per_minute": int},
}
SUBJECTS = ("account", "ip")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Config:
    """The merged, checked configuration, and the warm-start model file's hash when there is one."""

    raw: dict[str, Any]
    routes: RouteTable
    model: str | None = None
    """Short hash of the bytes of the model file the River models warm-start from (`--model`), if any."""
    log_format: LogFormat | None = None  # `[input] log_format`, compiled; None: v1 JSON and combined log lines

    @property
    def fingerprint(self) -> str:
        """Short hash of the effective configuration, then `.m<model hash>` with a warm-start model (reported in
        decisions' detector_version: runs that can decide differently never share it)."""
        config = hashlib.sha256(orjson.dumps(self.raw, option=orjson.OPT_SORT_KEYS)).hexdigest()[:8]
        return config if self.model is None else f"{config}.m{self.model}"

    def with_model(self, path: str | Path) -> Config:
        """This configuration for models warm-started from the file at `path` (its bytes are hashed)."""
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return replace(self, model=digest.hexdigest()[:8])

    def section(self, *keys: str) -> Any:
        """The value at a key path, e.g. `section("rules", "ip_profile_rate")`."""
        value: Any = self.raw
        for key in keys:
            value = value[key]
        return value


def parse_duration(text: Any, where: str = "duration") -> int:
    """`"30s"`, `"10m"`, `"1h"`, `"7d"`, `"500ms"` to milliseconds."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if m is None or int(m[1]) == 0:
        raise ConfigError(f"{where}: {text!r} is not a duration such as '30s', '10m', '1h' or '7d'")
    return int(m[1]) * _UNITS[m[2]]


def load_config(path: str | Path | None = None) -> Config:
    """Defaults merged with the TOML file at `path` (if given), checked."""
    raw = tomllib.loads(resources.files("detectors").joinpath("default_config.toml").read_text())
    name = "default config"
    if path is not None:
        name = str(path)
        try:
            user = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config {name}: file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"config {name}: is a directory, not a TOML file") from None
        except PermissionError:
            raise ConfigError(f"config {name}: cannot be read (permission denied)") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config {name}: not valid TOML ({exc})") from None
        raw = _merge(raw, user)
    _check(raw, _SHAPE, name, "")
    _check_rule_features(raw["rules"].get("behaviour", []), name)
    try:
        routes = RouteTable.from_config(raw["routes"]) if "routes" in raw else RouteTable.default()
    except RouteError as exc:
        raise ConfigError(f"config {name}: {exc}") from None
    return Config(raw=raw, routes=routes, log_format=_log_format(raw["input"], name))


def _log_format(section: dict[str, Any], name: str) -> LogFormat | None:
    """The compiled `[input] log_format`, if set."""
    from detectors.logformat import LogFormat, LogFormatError

    if "log_format" not in section:
        if "actor" in section:
            raise ConfigError(f"config {name}: input.actor needs input.log_format (the format it is a field of)")
        return None
    try:
        return LogFormat(section["log_format"], section.get("actor"))
    except LogFormatError as exc:
        raise ConfigError(f"config {name}: input.log_format {section['log_format']!r}: {exc}") from None


def _check_rule_features(rules: list[dict[str, Any]], name: str) -> None:
    """Every feature a behaviour rule names is one its subject's feature family computes (a typo would never fire)."""
    from detectors.features.behaviour import RULE_FEATURES  # here: the features package imports this module

    for i, rule in enumerate(rules):
        known = RULE_FEATURES[rule["subject"]]
        for feature in rule["when"]:
            if feature not in known:
                raise ConfigError(
                    f"config {name}: rules.behaviour[{i}] ({rule['name']!r}): when.{feature} is not an "
                    f"{rule['subject']} feature (known: {', '.join(known)})"
                )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _check(value: Any, shape: Any, name: str, where: str) -> None:
    place = f"config {name}: {where or 'top level'}"
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{place} must be a table")
        for key in value:
            if key not in shape:
                raise ConfigError(f"{place}: unknown key '{key}' (expected one of {', '.join(shape)})")
            _check(value[key], shape[key], name, f"{where}.{key}".lstrip("."))
    elif isinstance(shape, list):
        if not isinstance(value, list) or (not value and not where.endswith("behaviour")):
            raise ConfigError(f"{place} must be a " + ("list" if where.endswith("behaviour") else "non-empty list"))
        for i, item in enumerate(value):
            _check(item, shape[0], name, f"{where}[{i}]")
            missing = {k for k, v in shape[0].items() if not str(v).endswith("?")} - set(item)
            if missing:
                raise ConfigError(f"{place}[{i}] is missing {', '.join(sorted(missing))}")
    elif shape in ("duration", "duration?"):
        parse_duration(value, place)
    elif shape == "entries":
        key = where.rsplit(".", 1)[-1]
        if not isinstance(value, list):
            raise ConfigError(f"{place} must be a list of tables")
        for i, item in enumerate(value):
            _check(item, _ENTRY[key], name, f"{where}[{i}]")
            missing = set(_ENTRY[key]) - set(item)
            if missing:
                raise ConfigError(f"{place}[{i}] is missing {', '.join(sorted(missing))}")
    elif shape == "strings":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{place} must be a list of non-empty strings")
    elif shape == "cidrs":
        if not isinstance(value, list):
            raise ConfigError(f"{place} must be a list of CIDR strings such as '198.51.100.0/28'")
        for v in value:
            try:
                ipaddress.ip_network(v, strict=False)
            except (TypeError, ValueError):
                raise ConfigError(f"{place}: {v!r} is not an IP network such as '198.51.100.0/28'") from None
    elif shape == "conditions":
        if not isinstance(value, dict) or not value:
            raise ConfigError(f"{place} must be a table of feature = 'condition', e.g. views_1h = '>= 40'")
        for feature, text in value.items():
            try:
                parse_condition(text)
            except ValueError as exc:
                raise ConfigError(f"{place}.{feature}: {exc}") from None
    elif shape == "format":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{place} must be a non-empty string")
    elif shape == "natural":
        if type(value) is not int or value < 0:
            raise ConfigError(f"{place}: {value!r} is not a non-negative integer")
    elif shape == "subject":
        if value not in SUBJECTS:
            raise ConfigError(f"{place}: {value!r} is not one of {', '.join(SUBJECTS)}")
    elif shape == "group_keys":
        if not isinstance(value, list) or not value or not set(value) <= {"user_agent", "network"}:
            raise ConfigError(f"{place} must be a non-empty list of 'user_agent' and/or 'network'")
    elif shape == "factor":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
            raise ConfigError(f"{place}: {value!r} is not a number of at least 1")
    elif shape == "factors":
        if not isinstance(value, dict):
            raise ConfigError(f"{place} must be a table of tier = factor, e.g. verified = 2.5")
        for tier, factor in value.items():
            _check(factor, "factor", name, f"{where}.{tier}")
    elif shape == "fraction":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ConfigError(f"{place}: {value!r} is not a number in (0, 1]")
    elif shape == "hours":
        ok = isinstance(value, list) and len(value) == 2 and all(type(v) is int and 0 <= v <= 24 for v in value)
        if not ok or value[0] >= value[1]:
            raise ConfigError(f"{place}: {value!r} is not [first, last) UTC hours such as [0, 6]")
    elif shape in ("prefix_v4", "prefix_v6"):
        low, high = (8, 24) if shape == "prefix_v4" else (16, 48)  # a range is at least one /24 (/48)
        if type(value) is not int or not low <= value <= high:
            raise ConfigError(f"{place}: {value!r} is not a prefix length from {low} to {high}")
    elif shape == "action":
        if value not in ACTIONS:
            raise ConfigError(f"{place}: {value!r} is not one of {', '.join(ACTIONS)}")
    elif shape is int:
        if type(value) is not int or value <= 0:
            raise ConfigError(f"{place}: {value!r} is not a positive integer")
    elif not isinstance(value, shape):
        raise ConfigError(f"{place}: {value!r} is not a {shape.__name__}")
