"""Decision policy with hysteresis and analyst verdicts (detectors/policy.py), and the verdict parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.config import load_config
from detectors.events import BadEvent
from detectors.policy import Decision, DecisionPolicy, PolicyState
from detectors.rules import Hit
from detectors.verdicts import Verdict, parse_verdict

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
M, H, D = 60_000, 3_600_000, 86_400_000
POLICY = DecisionPolicy(load_config())  # ttl throttle 15m, challenge 1h, block 24h; memory 24h; grace 7d


def hit(action: str, reason: str | None = None) -> Hit:
    return Hit(reason or f"r_{action}", action, 0.7, {f"e_{action}": 1})


def decide(state: PolicyState, ts: int, *actions: str) -> Decision | None:
    return POLICY.decide(state, "account", "a1", ts, [hit(a) for a in actions])


# --- one active decision, escalation, TTL ------------------------------------------------------------


def test_hits_no_stronger_than_the_active_decision_are_absorbed() -> None:
    """While a decision is in force, equal or weaker hits emit nothing."""
    state = POLICY.new_state()
    first = decide(state, T0, "challenge")
    assert first is not None and (first.action, first.expires_at) == ("challenge", T0 + H)
    assert decide(state, T0 + M, "challenge") is None
    assert decide(state, T0 + 2 * M, "throttle") is None
    assert (state.action, state.expires_at, state.offences) == ("challenge", T0 + H, 1)


def test_stronger_hit_escalates_and_replaces_the_active_decision() -> None:
    """A stronger action replaces the one in force: one active decision, the new one."""
    state = POLICY.new_state()
    decide(state, T0, "throttle")
    d = decide(state, T0 + M, "block", "throttle")
    assert d is not None and d.action == "block" and d.reasons == ["r_block", "r_throttle"]
    assert (state.action, state.expires_at) == ("block", T0 + M + 2 * 24 * H)  # second offence: TTL doubled


def test_ttl_doubles_per_offence_up_to_the_cap() -> None:
    """Each repeat offence after expiry doubles the TTL, up to max_ttl_factor (16)."""
    state = POLICY.new_state()
    ts, ttls = T0, []
    for _ in range(7):
        d = decide(state, ts, "block")
        assert d is not None
        ttls.append((d.expires_at - ts) // D)
        ts = d.expires_at  # expired exactly now
    assert ttls == [1, 2, 4, 8, 16, 16, 16]


def test_decision_carries_evidence_score_and_top_features() -> None:
    """Evidence of every hit, the best score, sorted reasons and the explanation go into the decision."""
    top = [{"feature": "views_1h", "value": 900, "percentile": 99.5}]
    hits = [Hit("b", "throttle", 0.6, {"x": 1}), Hit("a", "challenge", 0.9, {"y": 2})]
    d = POLICY.decide(POLICY.new_state(), "ip", "10.0.0.1", T0, hits, top)
    assert d is not None
    assert (d.action, d.score, d.reasons) == ("challenge", 0.9, ["a", "b"])
    assert d.evidence == {"y": 2, "x": 1, "top_features": top}
    assert d.key == "ip:10.0.0.1"


# --- hysteresis ---------------------------------------------------------------------------------------


def test_hit_soon_after_expiry_restarts_at_the_expired_action() -> None:
    """Within `memory` of a challenge expiring, a throttle-level hit starts again at challenge."""
    state = POLICY.new_state()
    decide(state, T0, "challenge")  # expires T0 + 1h
    again = decide(state, T0 + H + 10 * M, "throttle")
    assert again is not None and again.action == "challenge"
    assert again.reasons == ["r_throttle"]


def test_hit_soon_after_expiry_can_still_be_stronger() -> None:
    """Hysteresis is a floor: a stronger hit after expiry gets its own, stronger action."""
    state = POLICY.new_state()
    decide(state, T0, "throttle")
    again = decide(state, T0 + 20 * M, "block")
    assert again is not None and again.action == "block"


def test_hit_after_memory_starts_from_its_own_action() -> None:
    """Once `memory` (24h) has passed since expiry, the old action no longer sets a floor."""
    state = POLICY.new_state()
    decide(state, T0, "block")  # expires T0 + 24h
    late = decide(state, T0 + 48 * H, "throttle")
    assert late is not None and late.action == "throttle"
    assert late.expires_at == T0 + 48 * H + 2 * 15 * M  # still a repeat offence


def test_offences_count_for_the_offence_memory_and_then_the_subject_starts_afresh() -> None:
    """The streaming job drops a subject's policy state at `forget_at`; the policy itself starts afresh there too,
    so the reference and the job give the same TTL to a subject that comes back (7 days by default)."""
    for gap, factor in ((7 * D - M, 2), (7 * D, 1)):
        state = POLICY.new_state()
        decide(state, T0, "challenge")  # lapses at T0 + 1 h
        assert POLICY.forget_at(state) == T0 + H + 7 * D
        back = decide(state, T0 + H + gap, "challenge")
        assert back is not None and back.expires_at == T0 + H + gap + factor * H and state.offences == factor


def test_memory_is_configurable(tmp_path: Path) -> None:
    """A shorter `policy.memory` ends the floor sooner."""
    path = tmp_path / "p.toml"
    path.write_text("[policy]\nmemory = '30m'\n", encoding="utf-8")
    policy = DecisionPolicy(load_config(path))
    state = policy.new_state()
    policy.decide(state, "account", "a1", T0, [hit("challenge")])
    inside = policy.decide(state, "account", "a1", T0 + H + 29 * M, [hit("throttle")])
    assert inside is not None and inside.action == "challenge"
    state2 = policy.new_state()
    policy.decide(state2, "account", "a1", T0, [hit("challenge")])
    outside = policy.decide(state2, "account", "a1", T0 + H + 30 * M, [hit("throttle")])
    assert outside is not None and outside.action == "throttle"


# --- analyst verdicts -----------------------------------------------------------------------------------


def test_confirm_blocks_the_subject() -> None:
    """`confirm` emits a block with the analyst's reason, escalating what is in force."""
    state = POLICY.new_state()
    decide(state, T0, "challenge")
    d = POLICY.verdict(state, "account", "a1", T0 + M, "confirm")
    assert d is not None
    assert (d.action, d.reasons, d.evidence, d.score) == ("block", ["analyst_confirmed"], {"verdict": "confirm"}, 1.0)
    assert state.action == "block"


def test_dismiss_unblocks_only_what_is_in_force() -> None:
    """`dismiss` emits `unblock` (expiring at once) when a decision is active, and nothing otherwise."""
    state = POLICY.new_state()
    decide(state, T0, "block")
    d = POLICY.verdict(state, "account", "a1", T0 + M, "dismiss")
    assert d is not None
    assert (d.action, d.reasons, d.expires_at, d.event_time) == ("unblock", ["analyst_dismissed"], T0 + M, T0 + M)
    assert POLICY.verdict(POLICY.new_state(), "account", "a2", T0, "dismiss") is None
    expired = POLICY.new_state()
    decide(expired, T0, "throttle")
    assert POLICY.verdict(expired, "account", "a1", T0 + H, "dismiss") is None


def test_after_dismiss_only_block_level_hits_act_during_grace() -> None:
    """Within `dismiss_grace` (7d) challenges and throttles are ignored, a block still acts."""
    state = POLICY.new_state()
    decide(state, T0, "block")
    POLICY.verdict(state, "account", "a1", T0 + M, "dismiss")
    assert decide(state, T0 + 2 * M, "challenge", "throttle") is None
    assert decide(state, T0 + 6 * D, "challenge") is None
    blocked = decide(state, T0 + 6 * D, "block", "challenge")
    assert blocked is not None and blocked.action == "block" and blocked.reasons == ["r_block"]


def test_a_dismissed_surge_holds_the_path_off_for_the_surge_layers_own_grace() -> None:
    """On the access path the grace is `[coordination.surge] dismiss_grace` (6h), not the policy's 7 days: a
    legitimate rise is dismissed, and a surge the next morning is challenged again. Accounts keep the 7 days."""
    path, account = POLICY.new_state(), POLICY.new_state()
    for state, subject_type in ((path, "path"), (account, "account")):
        decide(state, T0, "challenge")
        assert POLICY.verdict(state, subject_type, "s", T0 + M, "dismiss").action == "unblock"
        assert decide(state, T0 + 6 * H, "challenge") is None  # within 6 h of the dismiss: both held off
    assert decide(path, T0 + M + 6 * H, "challenge").action == "challenge"
    assert decide(account, T0 + M + 6 * H, "challenge") is None


def test_dismiss_resets_offences_and_hysteresis() -> None:
    """After the grace, a hit starts from scratch: its own action, the base TTL."""
    state = POLICY.new_state()
    for i in range(3):
        decide(state, T0 + i * 2 * D, "block")
    POLICY.verdict(state, "account", "a1", T0 + 4 * D + M, "dismiss")
    after = decide(state, T0 + 4 * D + M + 7 * D, "throttle")
    assert after is not None and after.action == "throttle" and after.expires_at - after.event_time == 15 * M


def test_confirm_after_dismiss_ends_the_grace() -> None:
    """A later `confirm` blocks and ends the grace, so ordinary hits act again once the block expires."""
    state = POLICY.new_state()
    POLICY.verdict(state, "account", "a1", T0, "dismiss")
    d = POLICY.verdict(state, "account", "a1", T0 + H, "confirm")
    assert d is not None and d.action == "block" and state.grace_until == 0
    again = decide(state, T0 + H + 5 * D, "throttle")
    assert again is not None and again.action == "throttle"


def test_decision_ids_are_deterministic() -> None:
    """The same subject, action and event time give the same decision id; another time another."""
    one = decide(POLICY.new_state(), T0, "challenge")
    two = decide(POLICY.new_state(), T0, "challenge")
    three = decide(POLICY.new_state(), T0 + 1, "challenge")
    assert one is not None and two is not None and three is not None
    assert one.decision_id == two.decision_id != three.decision_id


# --- verdict parser -------------------------------------------------------------------------------------


def test_parse_verdict_accepts_rfc3339_and_epoch_ms_and_ignores_unknown_fields() -> None:
    """Both timestamp forms parse; extra fields such as the analyst's note are ignored."""
    line = b'{"ts": 1767600000000, "subject_type": "ip", "subject": "10.0.0.1", "verdict": "confirm", "note": "x"}'
    assert parse_verdict(line) == Verdict(T0, "ip", "10.0.0.1", "confirm")
    text = '{"ts": "2026-01-05T09:00:00+01:00", "subject_type": "account", "subject": "a7", "verdict": "dismiss"}'
    assert parse_verdict(text) == Verdict(T0, "account", "a7", "dismiss")
    text = '{"ts": 1767600000000, "subject_type": "network", "subject": "10.9.1.0/24", "verdict": "dismiss"}'
    assert parse_verdict(text) == Verdict(T0, "network", "10.9.1.0/24", "dismiss")


GOOD = '"ts": "2026-01-05T08:00:00Z", "subject_type": "account", "subject": "a7", "verdict": "confirm"'


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"subject_type": "account", "subject": "a7", "verdict": "confirm"}', "missing required field 'ts'"),
        ("{" + GOOD.replace('"a7"', "null") + "}", "missing required field 'subject'"),
        ("{" + GOOD.replace('"verdict": "confirm"', '"x": 1') + "}", "missing required field 'verdict'"),
        (
            "{" + GOOD.replace('"account"', '"user"') + "}",
            "'subject_type' is not one of account, ip, network, path ('user')",
        ),
        (
            "{" + GOOD.replace('"account"', '"network"') + "}",
            "field 'subject' is not a network range in canonical CIDR form ('a7')",
        ),
        (
            "{" + GOOD.replace('"account"', '"path"') + "}",
            "field 'subject' is not the access path 'logged-out:profile_view' ('a7')",
        ),
        ("{" + GOOD.replace('"a7"', '""') + "}", "field 'subject' is not a non-empty string ('')"),
        ("{" + GOOD.replace('"a7"', "7") + "}", "field 'subject' is not a non-empty string (7)"),
        (
            "{" + GOOD.replace('"confirm"', '"unblock"') + "}",
            "'verdict' is not one of confirm, dismiss, escalate ('unblock')",
        ),
        ("{" + GOOD.replace('"2026-01-05T08:00:00Z"', '"yesterday"') + "}", "field 'ts'"),
        ("{" + GOOD.replace('"2026-01-05T08:00:00Z"', "true") + "}", "field 'ts' is not a timestamp (True)"),
    ],
)
def test_parse_verdict_errors_say_what_is_wrong(line: str, message: str) -> None:
    """Every malformed verdict is a BadEvent whose message names the field and the offending value."""
    with pytest.raises(BadEvent) as exc:
        parse_verdict(line)
    assert message in str(exc.value)


# --- provenance --------------------------------------------------------------------------------------


def test_detector_version_names_the_warm_start_model(tmp_path: Path) -> None:
    """Models warm-started from different files can decide differently, so their decisions never share a
    detector_version; the same bytes under another name give the same version, and no model keeps the old one."""
    cold = DecisionPolicy(load_config()).version
    assert cold == "0.1.0+4310d22a"  # as in the golden files: without --model nothing changes
    one, same, other = tmp_path / "one.pkl", tmp_path / "copy.pkl", tmp_path / "other.pkl"
    one.write_bytes(b"model one")
    same.write_bytes(b"model one")
    other.write_bytes(b"model two")
    versions = {name: DecisionPolicy(load_config().with_model(path)).version for name, path in
                (("one", one), ("same", same), ("other", other))}  # fmt: skip
    assert versions["one"] == versions["same"] != versions["other"]
    assert versions["one"].startswith("0.1.0+4310d22a.m") and len(versions["one"]) == len(cold) + 10
    assert cold not in versions.values()
    warm = DecisionPolicy(load_config().with_model(one))
    decision = warm.decide(warm.new_state(), "ip", "10.0.0.1", T0, [hit("block")])
    assert decision is not None and decision.to_json(0)["detector_version"] == versions["one"]
