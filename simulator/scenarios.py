"""Built-in scenarios (actor mix and behaviour rates) and loading of JSON overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KINDS = (
    "benign_user",
    "benign_new_user",
    "benign_logged_out",
    "scraper_new_account_crawler",
    "scraper_enumerator_logged_out",
    "scraper_low_and_slow",
)

_DEFAULT: dict[str, Any] = {
    # Intended size. generate() takes hours/accounts as arguments; the CLI and the
    # benchmark use these when not told otherwise.
    "hours": 6.0,
    "accounts": 5000,
    # Actor mix, as fractions of `accounts` (each scraper kind at least min_per_scraper_kind).
    "new_user_share": 0.03,
    "crawler_share": 0.002,
    "low_and_slow_share": 0.002,
    "enumerators_per_account": 0.001,
    "logged_out_per_account": 0.6,
    "min_per_scraper_kind": 1,
    # Benign behaviour.
    "sessions_per_hour": 0.5,
    "pages_per_session": 10.0,
    "think_median_s": 20.0,
    "think_sigma": 1.0,
    "profile_share": 0.25,
    "mobile_share": 0.4,
    "app_share_of_mobile": 0.5,
    "diurnal_amplitude": 0.5,
    "diurnal_peak_utc_hour": 19.0,
    "onboarding_profiles": [15, 40],
    # Scrapers.
    "crawler_interval_s": [1.0, 3.0],
    "crawler_script_share": 0.5,
    "enumerator_rate_per_s": 2.0,
    "enumerator_minutes": [20.0, 60.0],
    "low_and_slow_per_hour": 50.0,
    "low_and_slow_hourly_cap": 58,
    # The platform.
    "missing_id_share": 0.3,
    "zipf_exponent": 1.1,
}

SCENARIOS: dict[str, dict[str, Any]] = {
    # ~2 h, 200 accounts, one of each scraper kind: about 20k events, well under a second.
    "small": {
        **_DEFAULT,
        "hours": 2.0,
        "accounts": 200,
        "crawler_share": 0.005,
        "low_and_slow_share": 0.005,
        "enumerators_per_account": 0.005,
    },
    # A working day's morning, 5k accounts: ~650k events.
    "default": dict(_DEFAULT),
    # A full day, 50k accounts: ~28M events (benchmarks cut it with max_events).
    "large": {**_DEFAULT, "hours": 24.0, "accounts": 50_000, "logged_out_per_account": 0.4},
}

_PAIRS = {k for k, v in _DEFAULT.items() if isinstance(v, list)}
_SHARES = {k for k in _DEFAULT if k.endswith("_share")}


def load_scenario(scenario: str | Path) -> dict[str, Any]:
    """Parameters of a built-in scenario, or of a JSON file overriding `default`."""
    if isinstance(scenario, str) and scenario in SCENARIOS:
        return dict(SCENARIOS[scenario])
    path = Path(scenario)
    if not path.is_file():
        raise ValueError(
            f"scenario {str(scenario)!r} is neither a built-in ({', '.join(SCENARIOS)}) "
            "nor an existing JSON file"
        )
    try:
        override = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"scenario file {path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(override, dict):
        raise ValueError(f"scenario file {path}: expected a JSON object of parameters")
    params = {**_DEFAULT, **override}
    check(params, str(path))
    return params


def check(params: dict[str, Any], source: str) -> None:
    """Raise ValueError naming the key when a parameter is unknown or out of range."""
    for key, value in params.items():
        if key not in _DEFAULT:
            raise ValueError(f"scenario {source}: unknown key {key!r}; known keys: {', '.join(_DEFAULT)}")
        if key in _PAIRS:
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(_is_number(v) for v in value)
                and 0 <= value[0] <= value[1]
            )
            if not ok:
                raise ValueError(f"scenario {source}: {key!r} must be [low, high] with 0 <= low <= high, got {value!r}")
        elif not _is_number(value) or value < 0:
            raise ValueError(f"scenario {source}: {key!r} must be a non-negative number, got {value!r}")
        elif key in _SHARES and value > 1:
            raise ValueError(f"scenario {source}: {key!r} is a share and must be in [0, 1], got {value!r}")
    for key in ("think_median_s", "pages_per_session", "enumerator_rate_per_s", "low_and_slow_per_hour"):
        if params[key] <= 0:
            raise ValueError(f"scenario {source}: {key!r} must be positive, got {params[key]!r}")
    if params["crawler_interval_s"][1] <= 0:
        raise ValueError(f"scenario {source}: 'crawler_interval_s' must allow a positive interval")
    if params["low_and_slow_hourly_cap"] < 1:
        raise ValueError(f"scenario {source}: 'low_and_slow_hourly_cap' must be at least 1")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def actor_counts(params: dict[str, Any], accounts: int) -> dict[str, int]:
    """How many actors of each kind a run with `accounts` accounts has.

    >>> actor_counts(SCENARIOS["small"], 200)["scraper_low_and_slow"]
    1
    """
    floor = int(params["min_per_scraper_kind"])
    counts = {
        "benign_new_user": max(1, round(accounts * params["new_user_share"])),
        "scraper_new_account_crawler": max(floor, round(accounts * params["crawler_share"])),
        "scraper_low_and_slow": max(floor, round(accounts * params["low_and_slow_share"])),
    }
    benign = accounts - sum(counts.values())
    if benign < 0:
        raise ValueError(
            f"accounts={accounts} is too few for the scenario's mix (needs at least {sum(counts.values())})"
        )
    counts["benign_user"] = benign
    counts["benign_logged_out"] = round(accounts * params["logged_out_per_account"])
    counts["scraper_enumerator_logged_out"] = max(floor, round(accounts * params["enumerators_per_account"]))
    return {k: counts[k] for k in KINDS}
