"""Configuration of the detection layers: behaviour rules, features, models, coordination, allowlist, policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.config import ConfigError, load_config
from detectors.rules import NewAccountRule, build_rules


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "platform.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_layer_sections() -> None:
    """The defaults carry every new section with the documented values."""
    c = load_config()
    assert c.section("features", "night_utc_hours") == [0, 6]
    assert c.section("models", "verdicts", "min_labels") == 3
    assert c.section("models", "anomaly", "action") == "throttle"
    assert c.section("coordination", "min_members") == 3
    assert c.section("policy", "memory") == "24h" and c.section("policy", "dismiss_grace") == "7d"
    assert c.section("policy", "corroborate") is True
    assert [p["account"] for p in c.section("allowlist", "partners")] == ["partner-acme"]
    names = [r["name"] for r in c.section("rules", "behaviour")]
    assert "sequential_targets" in names and "not_found_probing" in names


def test_behaviour_list_replaces_the_defaults(tmp_path: Path) -> None:
    """A platform's `[[rules.behaviour]]` list replaces the default list as a whole."""
    text = "[[rules.behaviour]]\nname = 'x'\nsubject = 'ip'\naction = 'block'\nwhen = { requests_10m = '> 1' }\n"
    c = load_config(write(tmp_path, text))
    assert c.section("rules", "behaviour") == [
        {"name": "x", "subject": "ip", "action": "block", "when": {"requests_10m": "> 1"}}
    ]


def test_new_account_tier_window_is_optional(tmp_path: Path) -> None:
    """A new-account tier may set a trailing `window`; without one it counts since creation."""
    c = load_config(
        write(
            tmp_path,
            "[rules.new_account_profile_views]\n"
            "limits = [{ within = '1h', window = '2m', max_views = 25, action = 'challenge' },\n"
            "          { within = '10m', max_views = 60, action = 'challenge' }]\n",
        )
    )
    (rule,) = [r for r in build_rules(c) if isinstance(r, NewAccountRule)]
    assert rule.windows == {"2m": 120_000, "10m": 600_000}


@pytest.mark.parametrize(
    "text, needles",
    [
        # rules.behaviour
        ("[[rules.behaviour]]\nname = 'x'\nsubject = 'ip'\naction = 'block'\n", ["rules.behaviour[0] is missing when"]),
        (
            "[[rules.behaviour]]\nname = 'x'\nsubject = 'network'\naction = 'block'\nwhen = { a = '> 1' }\n",
            ["rules.behaviour[0].subject", "'network' is not one of account, ip"],
        ),
        (
            "[[rules.behaviour]]\nname = 'x'\nsubject = 'ip'\naction = 'unblock'\nwhen = { a = '> 1' }\n",
            ["rules.behaviour[0].action", "'unblock' is not one of throttle, challenge, block"],
        ),
        (
            "[[rules.behaviour]]\nname = 'x'\nsubject = 'ip'\naction = 'block'\nwhen = { views_1h = 'lots' }\n",
            ["rules.behaviour[0].when.views_1h", "'lots' is not a condition"],
        ),
        (
            "[[rules.behaviour]]\nname = 'x'\nsubject = 'ip'\naction = 'block'\nwhen = { views_1h = 40 }\n",
            ["rules.behaviour[0].when.views_1h", "40 is not a condition"],
        ),
        (
            "[[rules.behaviour]]\nname = 'x'\nsubject = 'ip'\naction = 'block'\nwhen = {}\n",
            ["rules.behaviour[0].when must be a table of feature = 'condition'"],
        ),
        (
            "[[rules.behaviour]]\nname = 'x'\nsubject = 'ip'\naction = 'block'\nwhen = { a = '> 1' }\nlevel = 2\n",
            ["rules.behaviour[0]", "unknown key 'level'"],
        ),
        ("[rules]\nbehaviour = {}\n", ["rules.behaviour must be a list"]),
        (  # a typo in a feature name: the rule would never fire
            "[[rules.behaviour]]\nname = 'typo'\nsubject = 'account'\naction = 'challenge'\n"
            "when = { views_10m = '>= 5', views_1hh = '>= 10' }\n",
            [
                "rules.behaviour[0] ('typo'): when.views_1hh is not an account feature (known: views_1m, views_10m, "
                "views_1h, views_24h, views_total, account_age_s, profile_share_1h,",
                "views_per_search_1h)",
            ],
        ),
        (  # an account feature in an address rule
            "[[rules.behaviour]]\nname = 'a'\nsubject = 'account'\naction = 'block'\nwhen = { views_1h = '> 1' }\n"
            "[[rules.behaviour]]\nname = 'b'\nsubject = 'ip'\naction = 'block'\nwhen = { views_1h = '> 1' }\n",
            ["rules.behaviour[1] ('b'): when.views_1h is not an ip feature (known: logged_out_views_1m,"],
        ),
        (  # context fields are not features a condition can compare
            "[[rules.behaviour]]\nname = 'ua'\nsubject = 'account'\naction = 'block'\nwhen = { user_agent = '> 1' }\n",
            ["rules.behaviour[0] ('ua'): when.user_agent is not an account feature"],
        ),
        (  # features v2 removed: a platform rule naming one fails at load instead of never firing
            "[[rules.behaviour]]\nname = 'young'\nsubject = 'ip'\naction = 'block'\n"
            "when = { young_account_share_1h = '>= 0.5' }\n",
            ["rules.behaviour[0] ('young'): when.young_account_share_1h is not an ip feature"],
        ),
        (
            "[[rules.behaviour]]\nname = 'first'\nsubject = 'account'\naction = 'block'\n"
            "when = { views_first_hour = '>= 100' }\n",
            ["rules.behaviour[0] ('first'): when.views_first_hour is not an account feature"],
        ),
        # new-account tiers
        (
            "[rules.new_account_profile_views]\nlimits = [{ within = '1h', window = '2 minutes', max_views = 5, "
            "action = 'block' }]\n",
            ["rules.new_account_profile_views.limits[0].window", "'2 minutes' is not a duration"],
        ),
        (
            "[rules.new_account_profile_views]\nlimits = [{ window = '2m', max_views = 5, action = 'block' }]\n",
            ["rules.new_account_profile_views.limits[0] is missing within"],
        ),
        # features
        ("[features]\nnight_utc_hours = [6, 0]\n", ["features.night_utc_hours", "[6, 0] is not [first, last)"]),
        ("[features]\nnight_utc_hours = [0, 25]\n", ["features.night_utc_hours", "[0, 25]"]),
        ("[features]\nnight_utc_hours = [0]\n", ["features.night_utc_hours", "[0]"]),
        ("[features]\nnight_utc_hours = [0.5, 6]\n", ["features.night_utc_hours", "[0.5, 6]"]),
        ("[features]\nnight_utc_hours = 'night'\n", ["features.night_utc_hours", "'night'"]),
        ("[features]\nday = [6, 20]\n", ["features", "unknown key 'day'"]),
        # models
        ("[models.anomaly]\nquantile = 1.5\n", ["models.anomaly.quantile", "1.5 is not a number in (0, 1]"]),
        ("[models.anomaly]\nquantile = 0\n", ["models.anomaly.quantile", "0 is not a number in (0, 1]"]),
        ("[models.anomaly]\nn_trees = 0\n", ["models.anomaly.n_trees", "0 is not a positive integer"]),
        ("[models.anomaly]\nseed = 'abc'\n", ["models.anomaly.seed", "'abc' is not a non-negative integer"]),
        ("[models.anomaly]\nenabled = 1\n", ["models.anomaly.enabled", "1 is not a bool"]),
        ("[models.anomaly]\naction = 'ban'\n", ["models.anomaly.action", "'ban' is not one of"]),
        ("[models.verdicts]\nflag_above = 'high'\n", ["models.verdicts.flag_above", "'high' is not a number"]),
        ("[models.verdicts]\nlearning_rate = true\n", ["models.verdicts.learning_rate", "True is not a number"]),
        ("[models.verdicts]\nmin_labels = 2.5\n", ["models.verdicts.min_labels", "2.5 is not a positive integer"]),
        ("[models.forest]\nenabled = true\n", ["models", "unknown key 'forest'"]),
        # coordination
        ("[coordination]\nmin_density = 2\n", ["coordination.min_density", "2 is not a number in (0, 1]"]),
        ("[coordination]\nmin_members = -1\n", ["coordination.min_members", "-1 is not a positive integer"]),
        ("[coordination]\nenabled = 'yes'\n", ["coordination.enabled", "'yes' is not a bool"]),
        ("[coordination]\naction = 'unblock'\n", ["coordination.action", "'unblock'"]),
        # allowlist
        ("[allowlist]\naccounts = 'a1'\n", ["allowlist.accounts must be a list of non-empty strings"]),
        ("[allowlist]\naccounts = ['']\n", ["allowlist.accounts must be a list of non-empty strings"]),
        ("[allowlist]\ncidrs = ['10.0.0.0/33']\n", ["allowlist.cidrs", "'10.0.0.0/33' is not an IP network"]),
        ("[allowlist]\ncidrs = '10.0.0.0/8'\n", ["allowlist.cidrs must be a list of CIDR strings"]),
        (
            "[allowlist]\npartners = [{ name = 'p', cidrs = [], max_views_per_hour = 5 }]\n",
            ["allowlist.partners[0] is missing account"],
        ),
        (
            "[allowlist]\npartners = [{ name = 'p', account = 'a', cidrs = ['nope'], max_views_per_hour = 5 }]\n",
            ["allowlist.partners[0].cidrs", "'nope' is not an IP network"],
        ),
        (
            "[allowlist]\npartners = [{ name = 'p', account = 'a', cidrs = [], max_views_per_hour = 0 }]\n",
            ["allowlist.partners[0].max_views_per_hour", "0 is not a positive integer"],
        ),
        (
            "[allowlist]\ncrawlers = [{ name = 'g', user_agent = 'G', cidrs = [], max_views_per_minute = 5, "
            "ua = 'x' }]\n",
            ["allowlist.crawlers[0]", "unknown key 'ua'"],
        ),
        ("[allowlist]\ncrawlers = { name = 'g' }\n", ["allowlist.crawlers must be a list of tables"]),
        ("[allowlist]\ncrawlers = ['googlebot']\n", ["allowlist.crawlers[0] must be a table"]),
        # policy
        ("[policy]\nmemory = '1 day'\n", ["policy.memory", "'1 day' is not a duration"]),
        ("[policy]\ndismiss_grace = '0d'\n", ["policy.dismiss_grace", "'0d' is not a duration"]),
        ("[policy]\ncorroborate = 'yes'\n", ["policy.corroborate", "'yes' is not a bool"]),
    ],
)
def test_layer_config_errors_name_file_and_key(tmp_path: Path, text: str, needles: list[str]) -> None:
    """Every bad value in the new sections is a ConfigError naming the file, the key and what is wrong."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert message.startswith(f"config {path}: ") and "\n" not in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize("rule", ["account_profile_rate", "ip_profile_rate"])
def test_rate_limit_without_window_is_a_config_error(tmp_path: Path, rule: str) -> None:
    """A rate limit must name its window; leaving it out is caught at load time, not as a KeyError later.

    BUG (detectors/config.py:113 and :197): `window` was made optional for new-account tiers through a global
    `_OPTIONAL = {"window"}`, so it became optional in every limits list; the config loads and
    `build_rules` then fails with KeyError: 'window'.
    """
    path = write(tmp_path, f"[rules.{rule}]\nlimits = [{{ max_views = 5, action = 'block' }}]\n")
    with pytest.raises(ConfigError, match=rf"rules\.{rule}\.limits\[0\] is missing window"):
        load_config(path)


def test_an_empty_behaviour_list_turns_the_behaviour_rules_off(tmp_path: Path) -> None:
    """`behaviour = []` is how a platform runs without behaviour rules."""
    path = tmp_path / "platform.toml"
    path.write_text("[rules]\nbehaviour = []\n")
    assert load_config(path).section("rules", "behaviour") == []
