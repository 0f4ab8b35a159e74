"""Configuration (detectors/config.py): defaults, merging a platform's TOML, errors, fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors import __version__
from detectors.config import ConfigError, load_config, parse_duration
from detectors.policy import DecisionPolicy


def write(tmp_path: Path, text: str, name: str = "platform.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_load() -> None:
    config = load_config()
    assert config.section("input", "max_line_bytes") == 65536
    assert config.section("time", "out_of_orderness") == "30s"
    assert config.section("policy", "ttl") == {"throttle": "15m", "challenge": "1h", "block": "24h"}
    assert config.section("policy", "max_ttl_factor") == 16
    assert config.section("rules", "account_profile_rate", "limits") == [
        {"window": "1m", "max_views": 20, "action": "challenge"},
        {"window": "1h", "max_views": 240, "action": "throttle"},
        {"window": "24h", "max_views": 2000, "action": "challenge"},
    ]
    assert config.section("rules", "new_account_profile_views", "limits") == [
        {"within": "1h", "window": "2m", "max_views": 25, "action": "challenge"},
        {"within": "1h", "max_views": 150, "action": "challenge"},
        {"within": "24h", "max_views": 400, "action": "block"},
    ]
    rate_rules = {"account_profile_rate", "new_account_profile_views", "ip_profile_rate"}
    assert set(config.section("rules")) == rate_rules | {"behaviour"}
    assert all(config.section("rules", name, "enabled") for name in rate_rules)


def test_user_file_merges_tables_and_replaces_lists(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[policy.ttl]
block = "48h"

[rules.ip_profile_rate]
limits = [{ window = "5m", max_views = 100, action = "block" }]

[rules.account_profile_rate]
enabled = false
""",
        )
    )
    assert config.section("policy", "ttl") == {"throttle": "15m", "challenge": "1h", "block": "48h"}
    assert config.section("policy", "max_ttl_factor") == 16
    assert config.section("rules", "ip_profile_rate") == {
        "enabled": True,
        "limits": [{"window": "5m", "max_views": 100, "action": "block"}],
    }
    assert config.section("rules", "account_profile_rate", "enabled") is False
    account_limits = ("rules", "account_profile_rate", "limits")
    assert config.section(*account_limits) == load_config().section(*account_limits)  # kept, though disabled
    new_account = ("rules", "new_account_profile_views")
    assert config.section(*new_account) == load_config().section(*new_account)


def test_empty_user_file_is_the_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")).raw == load_config().raw


@pytest.mark.parametrize(
    "text, needles",
    [
        (
            "[rules.ip_profile_rate]\nmax = 3\n",
            ["rules.ip_profile_rate", "unknown key 'max'", "expected one of enabled, limits"],
        ),
        ("colour = 'blue'\n", ["top level", "unknown key 'colour'"]),
        ("[policy.ttl]\nunblock = '1h'\n", ["policy.ttl", "unknown key 'unblock'"]),
        ("[time]\nout_of_orderness = '30 seconds'\n", ["time.out_of_orderness", "'30 seconds'", "not a duration"]),
        ("[time]\nout_of_orderness = '0s'\n", ["time.out_of_orderness", "'0s'"]),
        ("[time]\nout_of_orderness = 30\n", ["time.out_of_orderness", "30"]),
        ("[policy.ttl]\nblock = '1.5h'\n", ["policy.ttl.block", "'1.5h'"]),
        ("[policy]\nmax_ttl_factor = 0\n", ["policy.max_ttl_factor", "0 is not a positive integer"]),
        ("[policy]\nmax_ttl_factor = -2\n", ["policy.max_ttl_factor", "-2 is not a positive integer"]),
        ("[policy]\nmax_ttl_factor = true\n", ["policy.max_ttl_factor", "True is not a positive integer"]),
        ("[input]\nmax_line_bytes = 1.5\n", ["input.max_line_bytes", "1.5 is not a positive integer"]),
        ("[rules.ip_profile_rate]\nenabled = 'yes'\n", ["rules.ip_profile_rate.enabled", "'yes' is not a bool"]),
        (
            "[rules.ip_profile_rate]\nlimits = [{ window = '1m', max_views = 0, action = 'block' }]\n",
            ["rules.ip_profile_rate.limits[0].max_views", "0 is not a positive integer"],
        ),
        (
            "[rules.ip_profile_rate]\nlimits = [{ window = '1m', max_views = 5, action = 'ban' }]\n",
            ["rules.ip_profile_rate.limits[0].action", "'ban' is not one of throttle, challenge, block"],
        ),
        (
            "[rules.ip_profile_rate]\nlimits = [{ window = '1m', max_views = 5, action = 'unblock' }]\n",
            ["rules.ip_profile_rate.limits[0].action", "'unblock'"],
        ),
        (
            "[rules.ip_profile_rate]\nlimits = [{ window = '1m', action = 'block' }]\n",
            ["rules.ip_profile_rate.limits[0] is missing max_views"],
        ),
        ("[rules.ip_profile_rate]\nlimits = []\n", ["rules.ip_profile_rate.limits must be a non-empty list"]),
        (
            "[rules.new_account_profile_views]\n"
            "limits = [{ within = '1h', windw = '2m', max_views = 5, action = 'block' }]\n",
            [
                "rules.new_account_profile_views.limits[0]",
                "unknown key 'windw'",
                "expected one of within, window, max_views, action",
            ],
        ),
        ("policy = 3\n", ["policy must be a table"]),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert message.startswith(f"config {path}: ")
    for needle in needles:
        assert needle in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"config {tmp_path / 'nope.toml'}: file not found"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize("text", ["[policy\nmax_ttl_factor = 2\n", "a = = 1\n"])
def test_invalid_toml(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="not valid TOML") as exc:
        load_config(path)
    assert str(exc.value).startswith(f"config {path}: not valid TOML (") and "line 1" in str(exc.value)


def test_non_utf8_file_is_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=f"config {path}: not valid TOML"):
        load_config(path)


def test_directory_instead_of_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path)


@pytest.mark.parametrize(
    "text, ms",
    [
        ("1ms", 1),
        ("250ms", 250),
        ("30s", 30_000),
        ("10m", 600_000),
        ("1h", 3_600_000),
        ("7d", 604_800_000),
        ("01m", 60_000),
    ],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["0s", "0ms", "", "1", "1.5h", "1h30m", " 1h", "1h ", "1H", "-1s", "1w", 60, None])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ConfigError, match=f"where: {text!r} is not a duration"):
        parse_duration(text, "where")


@given(
    st.integers(1, 10**9), st.sampled_from([("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)])
)
def test_parse_duration_is_number_times_unit(n: int, unit: tuple[str, int]) -> None:
    assert parse_duration(f"{n}{unit[0]}") == n * unit[1]


# --- fingerprint -------------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_reported_in_decisions() -> None:
    a, b = load_config(), load_config()
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 8
    assert DecisionPolicy(a).version == f"{__version__}+{a.fingerprint}"


def test_fingerprint_depends_on_the_effective_config_only(tmp_path: Path) -> None:
    restated = write(tmp_path, "[policy]\nmax_ttl_factor = 16\n[time]\nout_of_orderness = '30s'\n", "same.toml")
    assert load_config(restated).fingerprint == load_config().fingerprint
    one = write(tmp_path, "[policy.ttl]\nblock = '48h'\nthrottle = '15m'\n", "one.toml")
    other = write(tmp_path, "[policy.ttl]\nthrottle = '15m'\nblock = '48h'\n", "other.toml")
    assert load_config(one).fingerprint == load_config(other).fingerprint


@pytest.mark.parametrize(
    "text",
    [
        "[policy]\nmax_ttl_factor = 8\n",
        "[policy.ttl]\nblock = '48h'\n",
        "[time]\nout_of_orderness = '1m'\n",
        "[rules.ip_profile_rate]\nenabled = false\n",
        "[rules.ip_profile_rate]\nlimits = [{ window = '1m', max_views = 61, action = 'challenge' }]\n",
        "[[routes]]\naction = 'profile_view'\npattern = '^/people/(?P<target>[^/]+)$'\n",
    ],
)
def test_fingerprint_changes_when_config_changes(tmp_path: Path, text: str) -> None:
    assert load_config(write(tmp_path, text)).fingerprint != load_config().fingerprint
