"""The surge layer (`detectors.surge`): the access path acted on when the platform's logged-out profile views rise
far above their usual level, and not otherwise; the reference and the job's path summaries and configuration."""

from __future__ import annotations

import random

import pytest

from detectors.allowlist import Allowlist
from detectors.config import ConfigError, load_config
from detectors.events import parse_line
from detectors.features.minutes import PATH, summarise
from detectors.features.request import facts
from detectors.pipeline import declares, detect, groupings, kinds
from detectors.surge import Surge

M = 60_000


def feed(surge: Surge, per_minute: list[int], start: int = 0) -> list[bool]:
    """Minutes of logged-out views (0: a minute with none, which the job never reports) through the layer;
    whether each reported minute surged."""
    out, last_ten = [], []
    for i, views in enumerate(per_minute, start):
        last_ten = [*last_ten[-9:], views]
        if views:
            surge.observe(PATH, i * M + 59_000, {"logged_out_views_1m": views, "logged_out_views_10m": sum(last_ten)})
            out.append(bool(surge.hits(PATH, i * M + 59_000, {})))
    return out


def noisy(rng: random.Random, mean: int, minutes: int) -> list[int]:
    return [max(0, round(rng.gauss(mean, mean**0.5 * 1.5))) for _ in range(minutes)]


def test_steady_traffic_with_its_noise_never_surges():
    rng = random.Random(3)
    surge = Surge(min_views_10m=600, factor=3.0, half_life_minutes=60, warmup_minutes=60)
    assert not any(feed(surge, noisy(rng, 200, 600)))
    assert surge.usual() == pytest.approx(200, rel=0.1)


def test_a_surge_is_acted_on_in_its_first_minute_and_kept_out_of_the_usual_level():
    rng = random.Random(4)
    surge = Surge(min_views_10m=600, factor=3.0, half_life_minutes=60, warmup_minutes=60)
    before = noisy(rng, 100, 90)
    flags = feed(surge, before)
    usual = surge.usual()
    flags += feed(surge, [700] * 30, start=90)
    assert flags[:90] == [False] * 90 and flags[90:] == [True] * 30
    hit = surge.hits(PATH, 0, {})[0]
    assert (hit.reason, hit.action) == ("logged_out_surge", "challenge")
    assert hit.evidence["logged_out_views_1m"] == 700 and hit.evidence["surge_factor"] == pytest.approx(7, rel=0.15)
    assert surge.usual() == usual  # thirty minutes of surge taught it nothing
    assert not any(feed(surge, noisy(rng, 100, 60), start=120))  # back to usual: over at once


def test_a_surge_that_lasts_becomes_the_usual_level():
    surge = Surge(min_views_10m=600, factor=3.0, half_life_minutes=60, warmup_minutes=60, max_minutes=120)
    flags = feed(surge, [100] * 90 + [700] * 400)
    assert flags[90:210] == [True] * 120  # acted on for max_minutes
    assert not any(flags[210:])  # then learned: the platform's new level
    assert surge.usual() == pytest.approx(700, rel=0.05)
    assert feed(surge, [2200] * 3, start=490) == [True] * 3  # a surge above the new level is one again


def test_nothing_before_warmup_and_nothing_under_the_floor():
    early = Surge(min_views_10m=600, factor=3.0, half_life_minutes=60, warmup_minutes=60)
    assert not any(feed(early, [50] * 30 + [900] * 10))  # a surge in the first half hour: still learning
    small = Surge(min_views_10m=600, factor=3.0, half_life_minutes=60, warmup_minutes=60)
    assert not any(feed(small, [5] * 90 + [50] * 10))  # ten times the usual, but 500 views in ten minutes


def test_quiet_minutes_count_as_minutes_without_views():
    surge = Surge(min_views_10m=10, factor=3.0, half_life_minutes=30, warmup_minutes=30)
    feed(surge, [100] * 600)
    assert surge.usual() == pytest.approx(100, rel=0.01)
    feed(surge, [0] * 29 + [100], start=600)  # half an hour quiet, one half-life: half the level, plus a minute
    assert surge.usual() == pytest.approx(50 * 1 + 100 * (1 - 0.5 ** (1 / 30)), rel=0.01)


def test_the_path_summaries_count_every_logged_out_request_of_undeclared_clients_as_one_subject():
    """A logged-in request is the account's; one from Googlebot's published range (allowlisted by default) is a
    declared client's, not a visitor's. The reference as here, the job in the golden case `logged_out_surge`."""
    lines = [
        '{"ts": 1767600001000, "ip": "10.0.0.1", "method": "GET", "path": "/u/7", "status": 200}',
        '{"ts": 1767600002000, "ip": "10.0.0.2", "method": "GET", "path": "/u/8", "status": 200}',
        '{"ts": 1767600003000, "ip": "10.0.0.2", "method": "GET", "path": "/static/a.png", "status": 200}',
        '{"ts": 1767600004000, "ip": "10.0.0.3", "method": "GET", "path": "/u/9", "status": 200, "account_id": "a1"}',
        '{"ts": 1767600005000, "ip": "66.249.64.9", "method": "GET", "path": "/u/10", "status": 200}',
    ]
    config = load_config()
    requests = [facts(parse_line(x), config.routes, Allowlist(config).declares) for x in lines]
    assert [f.declared for f in requests] == [False, False, False, False, True]
    [minute] = summarise(requests, "path")
    assert (minute.subject, minute.requests, minute.views, minute.statics, minute.ips) == (PATH, 3, 2, 1, 2)
    assert [(m.subject, m.views) for m in summarise(requests, "ip")][-1] == ("66.249.64.9", 1)  # its own keeps it


def test_the_surge_runs_only_where_configured(tmp_path):
    assert "path" not in kinds(load_config()) and groupings(load_config(), "path") == {}
    assert declares(load_config()) is None  # no allowlist look-up per request where no path is summarised
    on = tmp_path / "surge.toml"
    on.write_text("[coordination.surge]\nenabled = true\n")
    assert "path" in kinds(load_config(on)) and isinstance(groupings(load_config(on), "path")["surge"], Surge)
    off = tmp_path / "off.toml"
    off.write_text("[coordination]\nenabled = false\n[coordination.surge]\nenabled = true\n")
    assert "path" not in kinds(load_config(off))
    bad = tmp_path / "bad.toml"
    bad.write_text("[coordination.surge]\nfactor = 0.5\n")
    with pytest.raises(ConfigError, match=r"coordination\.surge\.factor: 0\.5 is not a number of at least 1"):
        load_config(bad)


def test_an_analysts_dismiss_lifts_the_paths_challenge_and_holds_the_surge_off():
    """The golden `logged_out_surge` input and config, with a `dismiss` on the path at 08:45 while the surge goes on
    (to 08:55): the challenge of 08:40:59 is lifted, and no challenge follows it in the grace period."""
    from pathlib import Path

    from benchmarks.reference import read_events
    from detectors.verdicts import parse_verdict

    case = Path(__file__).parent / "golden" / "logged_out_surge"
    config = load_config(case / "config.toml")
    dismiss = parse_verdict(
        '{"ts": "2026-01-05T08:45:00Z", "subject_type": "path", "subject": "logged-out:profile_view", '
        '"verdict": "dismiss"}'
    )
    decisions = detect(read_events(case / "input.jsonl", config), config, verdicts=[dismiss])
    assert [(d.subject_type, d.subject, d.action, d.reasons) for d in decisions] == [
        ("path", PATH, "challenge", ["logged_out_surge"]),
        ("path", PATH, "unblock", ["analyst_dismissed"]),
    ]
    assert decisions[1].event_time == dismiss.ts


def test_after_the_grace_the_next_surge_is_challenged_again():
    """The golden hour, then the same hour again 8 hours later (as if the crawl came back the same evening), with the
    first surge dismissed at 08:45: the second is challenged, since the path's grace is the surge layer's 6 hours."""
    from pathlib import Path

    from benchmarks.reference import read_events
    from detectors.verdicts import parse_verdict

    case = Path(__file__).parent / "golden" / "logged_out_surge"
    config = load_config(case / "config.toml")
    hour = read_events(case / "input.jsonl", config)
    dismiss = parse_verdict(
        '{"ts": "2026-01-05T08:45:00Z", "subject_type": "path", "subject": "logged-out:profile_view", '
        '"verdict": "dismiss"}'
    )
    evening = [e._replace(ts=e.ts + 8 * 60 * M) for e in hour]
    decisions = detect(hour + evening, config, verdicts=[dismiss])
    assert [(d.action, d.event_time - hour[0].ts >= 8 * 60 * M) for d in decisions] == [
        ("challenge", False),
        ("unblock", False),
        ("challenge", True),
    ]


def test_the_default_configuration_never_acts_on_the_path():
    """The golden `logged_out_surge` input, without its config: no decision at all."""
    from pathlib import Path

    from benchmarks.reference import read_events

    case = Path(__file__).parent / "golden" / "logged_out_surge"
    assert detect(read_events(case / "input.jsonl", load_config()), load_config()) == []
