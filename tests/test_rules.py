"""Rules, decision policy, window features and the reference run (`detectors.pipeline.detect`)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import Config, load_config
from detectors.events import AccessEvent, format_ms
from detectors.features.profile_views import SubjectFeatures, account_age
from detectors.pipeline import detect
from detectors.policy import DecisionPolicy
from detectors.rules import Hit, NewAccountRule, ProfileRateRule

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
S, M, H = 1_000, 60_000, 3_600_000
CONFIG = load_config()
ACCOUNT_LIMITS = [
    {"window": "1h", "max_views": 120, "action": "throttle"},
    {"window": "24h", "max_views": 1000, "action": "challenge"},
]
TIERS = [  # the default tiers (detectors/default_config.toml)
    {"within": "1h", "window": "2m", "max_views": 25, "action": "challenge"},
    {"within": "1h", "max_views": 150, "action": "challenge"},
    {"within": "24h", "max_views": 400, "action": "block"},
]


# --- ProfileRateRule ---------------------------------------------------------------------------------


@pytest.mark.parametrize("subject_type", ["account", "ip"])
def test_profile_rate_fires_only_over_the_limit(subject_type: str) -> None:
    rule = ProfileRateRule(subject_type, ACCOUNT_LIMITS)
    assert rule.windows == {"1h": H, "24h": 24 * H} and rule.subject_type == subject_type
    assert rule.evaluate({"profile_views_1h": 120, "profile_views_24h": 1000}) == []
    (hit,) = rule.evaluate({"profile_views_1h": 121, "profile_views_24h": 121})
    assert hit == Hit(
        f"{subject_type}_profile_views_1h", "throttle", 0.504, {"profile_views_1h": 121, "limit_profile_views_1h": 120}
    )


def test_profile_rate_every_window_over_its_limit_hits() -> None:
    hits = ProfileRateRule("ip", ACCOUNT_LIMITS).evaluate({"profile_views_1h": 240, "profile_views_24h": 1500})
    assert [(h.reason, h.action, h.score) for h in hits] == [
        ("ip_profile_views_1h", "throttle", 1.0),
        ("ip_profile_views_24h", "challenge", 0.75),
    ]


# --- NewAccountRule ----------------------------------------------------------------------------------


def young(age_s: float, **views: int) -> dict[str, object]:
    counts = {"profile_views_2m": 0, "profile_views_1h": 0, "profile_views_24h": 0}
    counts.update({f"profile_views_{k}": v for k, v in views.items()})
    return {
        **counts,
        "account_age_s": age_s,
        "account_created_at": "2026-01-05T08:00:00.000Z",
        "account_created_at_source": "account_created_at",
    }


@pytest.mark.parametrize(
    "age_s, views, reasons",
    [
        (300, {"2m": 26, "1h": 26, "24h": 26}, ["new_account_profile_views_2m"]),
        (300, {"2m": 25, "1h": 25, "24h": 25}, []),
        (3600, {"2m": 26, "1h": 26}, ["new_account_profile_views_2m"]),  # exactly `within` old: still in the tier
        (3600.001, {"2m": 26, "1h": 26}, []),  # the trailing window only counts while the account is young
        (1800, {"2m": 10, "1h": 151}, ["new_account_profile_views_1h"]),  # slow, but many since creation
        (
            3600,
            {"2m": 26, "1h": 151, "24h": 401},
            ["new_account_profile_views_2m", "new_account_profile_views_1h", "new_account_profile_views_24h"],
        ),
        (86_400, {"24h": 401}, ["new_account_profile_views_24h"]),
        (86_400.001, {"24h": 401}, []),
        (0, {"2m": 26}, ["new_account_profile_views_2m"]),
        (-0.001, {"2m": 500, "1h": 500, "24h": 500}, []),  # created after the event: ignored
        (-3600, {"2m": 500, "1h": 500, "24h": 500}, []),
    ],
)
def test_new_account_tiers(age_s: float, views: dict[str, int], reasons: list[str]) -> None:
    assert [h.reason for h in NewAccountRule(TIERS).evaluate(young(age_s, **views))] == reasons


def test_new_account_hit_action_score_and_evidence() -> None:
    (hit,) = NewAccountRule(TIERS).evaluate({**young(120, **{"24h": 800}), "account_created_at_source": "first_view"})
    assert (hit.action, hit.score) == ("block", 1.0)
    assert hit.evidence == {
        "profile_views_24h": 800,
        "limit_profile_views_first_24h": 400,
        "account_age_s": 120,
        "account_created_at": "2026-01-05T08:00:00.000Z",
        "account_created_at_source": "first_view",
    }


def test_new_account_windowed_tier_evidence_names_the_window_and_the_age_bound() -> None:
    (hit,) = NewAccountRule(TIERS).evaluate(young(100, **{"2m": 30, "1h": 30, "24h": 30}))
    assert (hit.reason, hit.action) == ("new_account_profile_views_2m", "challenge")
    assert hit.evidence == {
        "profile_views_2m": 30,
        "limit_profile_views_2m_younger_than_1h": 25,
        "account_age_s": 100,
        "account_created_at": "2026-01-05T08:00:00.000Z",
        "account_created_at_source": "account_created_at",
    }


def test_account_age_source() -> None:
    assert account_age(T0 + 90 * S, T0, T0 + 30 * S) == {
        "account_age_s": 90.0,
        "account_created_at": format_ms(T0),
        "account_created_at_source": "account_created_at",
    }
    assert account_age(T0 + 90 * S, None, T0 + 30 * S) == {  # no created_at: from the first profile view
        "account_age_s": 60.0,
        "account_created_at": format_ms(T0 + 30 * S),
        "account_created_at_source": "first_view",
    }


# --- DecisionPolicy ----------------------------------------------------------------------------------


def hit(action: str, reason: str = "ip_profile_views_1m", score: float = 0.5, **evidence: int) -> Hit:
    return Hit(reason, action, score, evidence)


@pytest.fixture
def policy() -> DecisionPolicy:
    return DecisionPolicy(CONFIG)


def test_no_hits_no_decision(policy: DecisionPolicy) -> None:
    state = policy.new_state()
    assert policy.decide(state, "ip", "10.0.0.1", T0, []) is None
    assert state == policy.new_state()


def test_first_hit_decides(policy: DecisionPolicy) -> None:
    state = policy.new_state()
    d = policy.decide(state, "ip", "10.0.0.1", T0, [hit("challenge", score=0.6, profile_views_1m=61)])
    assert d is not None
    assert (d.subject_type, d.subject, d.action, d.score, d.reasons) == (
        "ip",
        "10.0.0.1",
        "challenge",
        0.6,
        ["ip_profile_views_1m"],
    )
    assert (d.event_time, d.expires_at, d.evidence, d.key) == (T0, T0 + H, {"profile_views_1m": 61}, "ip:10.0.0.1")
    assert d.detector_version == f"0.1.0+{CONFIG.fingerprint}"
    assert (state.action, state.expires_at, state.offences) == ("challenge", T0 + H, 1)


def test_active_decision_absorbs_equal_and_weaker_actions(policy: DecisionPolicy) -> None:
    state = policy.new_state()
    assert policy.decide(state, "ip", "a", T0, [hit("challenge")])
    assert policy.decide(state, "ip", "a", T0 + 1, [hit("challenge")]) is None
    assert policy.decide(state, "ip", "a", T0 + H - 1, [hit("throttle")]) is None
    assert (state.action, state.expires_at, state.offences) == ("challenge", T0 + H, 1)


def test_stronger_action_escalates_with_doubled_ttl(policy: DecisionPolicy) -> None:
    state = policy.new_state()
    policy.decide(state, "account", "acct-1", T0, [hit("throttle")])
    d = policy.decide(state, "account", "acct-1", T0 + M, [hit("block"), hit("challenge", "other_reason", 0.9)])
    assert d is not None and d.action == "block"
    assert d.expires_at == T0 + M + 2 * 24 * H  # second offence
    assert d.reasons == ["ip_profile_views_1m", "other_reason"] and d.score == 0.9


def test_expiry_is_exclusive_and_starts_a_new_decision(policy: DecisionPolicy) -> None:
    state = policy.new_state()
    first = policy.decide(state, "ip", "a", T0, [hit("throttle")])
    assert first is not None and policy.decide(state, "ip", "a", first.expires_at - 1, [hit("throttle")]) is None
    second = policy.decide(state, "ip", "a", first.expires_at, [hit("throttle")])
    assert second is not None and second.decision_id != first.decision_id
    assert second.expires_at == first.expires_at + 2 * 15 * M


def test_ttl_doubles_per_offence_up_to_max_factor(policy: DecisionPolicy) -> None:
    state, ts, ttls = policy.new_state(), T0, []
    for _ in range(7):
        d = policy.decide(state, "ip", "a", ts, [hit("challenge")])
        assert d is not None
        ttls.append((d.expires_at - ts) // H)
        ts = d.expires_at
    assert ttls == [1, 2, 4, 8, 16, 16, 16]


def test_decision_id_is_deterministic_and_keyed_by_subject_action_and_time(policy: DecisionPolicy) -> None:
    def decision_id(
        subject_type: str = "ip", subject: str = "a", action: str = "challenge", ts: int = T0, score: float = 0.5
    ) -> str:
        d = DecisionPolicy(CONFIG).decide(policy.new_state(), subject_type, subject, ts, [hit(action, score=score)])
        assert d is not None
        return d.decision_id

    base = decision_id()
    assert uuid.UUID(base).version == 5 and base == str(uuid.UUID(base))
    assert decision_id(score=0.9) == base  # the same subject, action and time
    assert (
        len(
            {
                base,
                decision_id(subject="b"),
                decision_id(subject_type="account"),
                decision_id(action="block"),
                decision_id(ts=T0 + 1),
            }
        )
        == 5
    )


def test_evidence_merges_all_hits(policy: DecisionPolicy) -> None:
    d = policy.decide(
        policy.new_state(),
        "ip",
        "a",
        T0,
        [hit("block", "b_reason", views_b=2), hit("challenge", "a_reason", views_a=1)],
    )
    assert d is not None and d.evidence == {"views_a": 1, "views_b": 2}


# --- window features ---------------------------------------------------------------------------------


def test_window_is_closed_and_counts_peers_at_the_same_time() -> None:
    f = SubjectFeatures([T0, T0 + M, T0 + M, T0 + M, T0 + 2 * M], {"1m": M, "10s": 10 * S})
    assert f.at(T0 + M) == {"profile_views_1m": 4, "profile_views_10s": 3}  # T0 is exactly 1m back: included
    assert f.at(T0 + M + 1) == {"profile_views_1m": 3, "profile_views_10s": 3}
    assert f.at(T0 + 2 * M) == {"profile_views_1m": 4, "profile_views_10s": 1}
    assert f.at(T0 - 1) == {"profile_views_1m": 0, "profile_views_10s": 0}


@settings(max_examples=300)
@given(
    st.lists(st.integers(0, 50), max_size=40),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 30), min_size=1),
    st.integers(-5, 60),
)
def test_window_counts_match_brute_force(stamps: list[int], windows: dict[str, int], probe: int) -> None:
    f = SubjectFeatures(list(stamps), windows)
    for t in [probe, *stamps]:
        assert f.at(t) == {f"profile_views_{k}": sum(t - w <= x <= t for x in stamps) for k, w in windows.items()}


# --- the reference run -------------------------------------------------------------------------------

N_NEW = TIERS[0]["max_views"]  # views in the trailing 2 minutes an account younger than an hour may make
NEW_STEP = 4 * S  # N_NEW + 1 views this far apart fit in 2 minutes (and stay under the 20-a-minute account limit)
IP = "203.0.113.4"  # not in an allowlisted network (the partner's 198.51.100.0/28 is)


@pytest.fixture
def rate_limits_only(tmp_path: Path) -> Config:
    """The default rate limits with every other layer off (behaviour rules, anomaly model, coordination)."""
    path = tmp_path / "rate_limits_only.toml"
    path.write_text(
        "[rules]\nbehaviour = []\n[models.anomaly]\nenabled = false\n[coordination]\nenabled = false\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.section("rules", "new_account_profile_views") == CONFIG.section("rules", "new_account_profile_views")
    return config


def views(
    n: int,
    *,
    account: str | None = None,
    ip: str = IP,
    step: int = 5 * S,
    start: int = T0,
    created: int | None = None,
    targets: str = "p{i}",
) -> list[AccessEvent]:
    return [
        AccessEvent(
            start + i * step,
            ip,
            "GET",
            "/u/" + targets.format(i=i),
            200,
            account_id=account,
            account_created_at=created,
        )
        for i in range(n)
    ]


def test_new_account_crawler_is_challenged_after_exactly_n_plus_one_views() -> None:
    assert detect(views(N_NEW, account="acct-new", created=T0, step=NEW_STEP), CONFIG) == []
    # the same N + 1 views spread over more than 2 minutes: never N + 1 in the trailing window
    assert detect(views(N_NEW + 1, account="acct-new", created=T0, step=5 * S), CONFIG) == []
    events = views(N_NEW + 1, account="acct-new", created=T0, step=NEW_STEP)
    (d,) = detect(events, CONFIG)
    assert (d.subject_type, d.subject, d.action, d.reasons) == (
        "account",
        "acct-new",
        "challenge",
        ["new_account_profile_views_2m"],
    )
    assert d.event_time == events[N_NEW].ts
    assert d.evidence["account_created_at_source"] == "account_created_at"
    assert d.evidence["account_age_s"] == N_NEW * NEW_STEP / S


def test_without_created_at_the_first_profile_view_of_the_account_stands_in() -> None:
    """The account's age counts from its first view of another profile: not from an earlier request of another
    kind (the login) nor from a view of its own profile."""
    login = AccessEvent(T0 - 2 * M, IP, "POST", "/login", 200, account_id="acct-new")
    own = AccessEvent(T0 - M, IP, "GET", "/u/acct-new", 200, account_id="acct-new")
    (d,) = detect([login, own, *views(N_NEW + 1, account="acct-new", step=NEW_STEP)], CONFIG)
    assert d.reasons == ["new_account_profile_views_2m"]
    assert d.evidence["account_created_at_source"] == "first_view"
    assert d.evidence["account_created_at"] == format_ms(T0)
    assert d.evidence["account_age_s"] == N_NEW * NEW_STEP / S


def test_an_old_account_is_not_new(rate_limits_only: Config) -> None:
    # Isolated from the behaviour rules: `profiles_only` rightly challenges an old account viewing only profiles.
    young_account = views(N_NEW + 1, account="acct-new", created=T0, step=NEW_STEP)
    assert [d.reasons for d in detect(young_account, rate_limits_only)] == [["new_account_profile_views_2m"]]
    old_account = views(N_NEW + 1, account="acct-old", created=T0 - 30 * 24 * H, step=NEW_STEP)
    assert detect(old_account, rate_limits_only) == []


def test_views_of_ones_own_profile_are_not_counted() -> None:
    own = views(300, account="alice", step=S, targets="alice")  # 60 a minute: over any limit if they counted
    foreign = views(N_NEW, account="alice", created=T0, start=T0 + 500, step=NEW_STEP)
    assert detect(own + foreign, CONFIG) == []
    (d,) = detect(own + foreign + views(1, account="alice", start=T0 + 100 * S), CONFIG)
    assert d.reasons == ["new_account_profile_views_2m"] and d.event_time == T0 + 100 * S
    assert d.evidence["profile_views_2m"] == N_NEW + 1


def test_logged_in_views_do_not_count_against_the_ip() -> None:
    accounts = [f"acct-{k}" for k in range(10)]
    logged_in = [e._replace(account_id=accounts[i % 10]) for i, e in enumerate(views(100, step=500))]
    assert detect(logged_in, CONFIG) == []
    logged_out = views(100, step=500)
    decisions = detect(logged_out, CONFIG)
    assert [(d.subject_type, d.subject, d.action, d.event_time) for d in decisions] == [
        ("ip", IP, "challenge", logged_out[60].ts)
    ]
    assert detect(logged_in[:40] + logged_out[40:], CONFIG) == []  # 60 logged-out views: at the limit


def test_an_allowlisted_partner_network_is_not_rate_limited() -> None:
    assert [d.reasons for d in detect(views(100, step=500), CONFIG)] == [["ip_profile_views_1m"]]
    assert detect(views(100, step=500, ip="198.51.100.4"), CONFIG) == []  # partner acme's 198.51.100.0/28


def mixed_input() -> list[AccessEvent]:
    events = views(N_NEW + 5, account="acct-new", created=T0, step=2 * S)
    events += views(70, ip="203.0.113.9", step=S // 2)
    events += views(70, ip="203.0.113.10", step=0)  # all at one instant: peers
    events += views(3, ip="203.0.113.9", step=0, start=T0 + 10 * S, targets="x{i}")  # ties with the crawler
    return events


@settings(max_examples=25, deadline=None)
@given(st.permutations(mixed_input()))
def test_detect_is_independent_of_input_order(events: list[AccessEvent]) -> None:
    expected = [d.to_json(0) for d in detect(mixed_input(), CONFIG)]
    assert len(expected) == 3
    assert [d.to_json(0) for d in detect(events, CONFIG)] == expected


def test_decision_order_is_event_time_then_subject() -> None:
    decisions = detect(mixed_input(), CONFIG)
    assert [(d.event_time, d.subject_type, d.subject) for d in decisions] == sorted(
        (d.event_time, d.subject_type, d.subject) for d in decisions
    )


def test_config_limits_are_respected(tmp_path: Path) -> None:
    path = tmp_path / "strict.toml"
    path.write_text("[rules.ip_profile_rate]\nlimits = [{ window = '1m', max_views = 5, action = 'block' }]\n")
    (d,) = detect(views(6, step=S), load_config(path))
    top = d.evidence.pop("top_features")
    assert (d.action, d.reasons, d.evidence) == (
        "block",
        ["ip_profile_views_1m"],
        {"profile_views_1m": 6, "limit_profile_views_1m": 5},
    )
    # the address's first minute has not closed yet, so there is no population to place it in
    assert top == [{"feature": "profile_views_1m", "value": 6, "percentile": None}]


def ip_limits(tmp_path: Path, *limits: tuple[int, str]) -> Config:
    """The default configuration with these 1-minute address limits (max views, action), in this order."""
    path = tmp_path / "limits.toml"
    entries = ", ".join(f"{{ window = '1m', max_views = {n}, action = '{a}' }}" for n, a in limits)
    path.write_text(f"[rules.ip_profile_rate]\nlimits = [{entries}]\n", encoding="utf-8")
    return load_config(path)


def test_a_limit_hit_counts_up_to_the_highest_limit_passed(tmp_path: Path) -> None:
    """Short-window evidence is the count at which the highest crossed limit was passed (that limit + 1), even
    when more views fall in the window at that moment (here 9 at one instant)."""
    (d,) = detect(views(9, step=0), ip_limits(tmp_path, (5, "block")))
    assert (d.action, d.event_time) == ("block", T0)
    assert {k: v for k, v in d.evidence.items() if k != "top_features"} == {
        "profile_views_1m": 6,
        "limit_profile_views_1m": 5,
    }
    assert d.score == 0.6  # over_limit_score(6, 5): the score follows the reported count
    (d,) = detect(views(9, step=0), ip_limits(tmp_path, (7, "block"), (5, "throttle")))
    assert (d.action, d.evidence["profile_views_1m"], d.evidence["limit_profile_views_1m"]) == ("block", 8, 7)


def test_a_stronger_limit_on_the_same_window_decides_whatever_the_order_of_the_limits(tmp_path: Path) -> None:
    config = ip_limits(tmp_path, (5, "throttle"), (7, "block"))
    (d,) = detect(views(9, step=0), config)
    assert (d.action, d.evidence["profile_views_1m"]) == ("block", 8)
    assert [(x.action, x.event_time) for x in detect(views(9, step=S), config)] == [
        ("throttle", T0 + 5 * S),
        ("block", T0 + 7 * S),
    ]


def test_a_long_window_limit_is_counted_per_minute(tmp_path: Path) -> None:
    """Windows of 10 minutes or more are counted per minute, in the subject's rolling state: the limit is found
    when the minute in which it was passed closes, with that minute's last event time and its whole count (a
    short window decides at the crossing request, see
    test_a_limit_hit_counts_up_to_the_highest_limit_passed)."""
    path = tmp_path / "hourly.toml"
    path.write_text("[rules.ip_profile_rate]\nlimits = [{ window = '1h', max_views = 10, action = 'block' }]\n")
    events = views(12, step=20 * S)  # 3 a minute; the 11th, at 3:20, passes the limit
    (d,) = detect(events, load_config(path))
    assert (d.action, d.reasons, d.event_time) == ("block", ["ip_profile_views_1h"], events[-1].ts)
    assert (d.evidence["profile_views_1h"], d.evidence["limit_profile_views_1h"]) == (12, 10)
    assert detect(events[:-2], load_config(path)) == []
