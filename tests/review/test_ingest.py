"""Decisions become cases: one open case per subject, fleets as one group case, verdict follow-ups, idempotency,
a new kind of group as one function; and the `scrapeguard review` commands that feed and administer the console."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from review import grouping
from review.ingest import ingest_decisions
from review.models import Case, DecisionRecord


def decision(subject: str, minute: int, action: str = "challenge", reasons=("account_profile_views_1m",), **evidence):
    return {
        "decision_id": f"00000000-0000-5000-8000-{subject.encode().hex()[:8]:0>8}{minute:04d}",
        "subject_type": "account",
        "subject": subject,
        "action": action,
        "score": 0.6,
        "reasons": list(reasons),
        "evidence": evidence,
        "event_time": f"2026-01-06T10:{minute:02d}:00.000Z",
        "emitted_at": "2026-01-06T11:00:00.000Z",
        "expires_at": "2026-01-06T12:00:00.000Z",
        "detector_version": "0.1.0+test",
    }


def feed(*decisions):
    return ingest_decisions((f"test {i}", d) for i, d in enumerate(decisions))


def open_cases(subject: str) -> list[Case]:
    return list(Case.objects.filter(status__in=("open", "escalated"), members__subject=subject))


FLEET = {"fleet_user_agent": "crawler-ua", "fleet_created_hour": "2026-01-01T07:00Z"}


def test_a_member_flagged_alone_first_moves_into_its_fleet_case(db):
    feed(decision("f1", 1))
    [alone] = open_cases("f1")
    feed(*(decision(m, 5, "block", ["coordinated_fleet"], **FLEET) for m in ("f1", "f2", "f3")))
    [group] = open_cases("f1")
    assert group.kind == "coordinated_fleet" and group.member_count == 3 and group.decision_count == 4
    assert group.action == "block" and group.reason_list == ["account_profile_views_1m", "coordinated_fleet"]
    alone.refresh_from_db()
    assert alone.status == "merged" and alone.merged_into_id == group.pk
    feed(decision("f2", 9))  # a later individual hit of a member stays with the group
    assert open_cases("f2") == [group] and Case.objects.get(pk=group.pk).decision_count == 5


def test_one_open_case_per_subject_and_decisions_are_kept_once(db):
    first = feed(decision("s1", 1), decision("s1", 2, "block"))
    again = feed(decision("s1", 1), decision("s1", 2, "block"))
    assert (first.added, again.added, again.duplicates) == (2, 0, 2)
    [case] = open_cases("s1")
    assert case.decision_count == 2 and case.action == "block" and case.risk == pytest.approx(2.6)


def test_the_detectors_follow_up_joins_the_judged_case_and_a_new_offence_opens_a_new_one(db):
    feed(decision("s2", 1))
    [case] = open_cases("s2")
    case.status = "dismissed"
    case.save()
    feed(decision("s2", 3, "unblock", ["analyst_dismissed"]))
    assert open_cases("s2") == [] and DecisionRecord.objects.get(subject="s2", action="unblock").case_id == case.pk
    feed(decision("s2", 30, "block"))
    [new] = open_cases("s2")
    assert new.pk != case.pk and new.action == "block"


def test_a_new_kind_of_group_is_one_function(db, monkeypatch):
    def fleet(d):
        gid = d["evidence"].get("fleet_id")
        return ("fleet", gid, f"fleet {gid}") if gid else None

    monkeypatch.setattr(grouping, "GROUPERS", [*grouping.GROUPERS, fleet])
    feed(*(decision(a, 4, reasons=["fleet_addresses"], fleet_id="g-7") for a in ("n1", "n2")))
    [case] = open_cases("n1")
    assert case.kind == "fleet" and case.label == "fleet g-7" and open_cases("n2") == [case]


def test_invalid_decisions_are_counted_with_the_reason(db):
    summary = ingest_decisions([("file.jsonl:3", {**decision("x", 1), "reasons": "many"}), ("file.jsonl:4", [1])])
    assert summary.rejected == 2 and summary.added == 0
    assert summary.reasons == [
        "file.jsonl:3: field 'reasons' has the wrong type (str)",
        "file.jsonl:4: not a JSON object",
    ]


# --- the commands -------------------------------------------------------------------------------------------


def review(*args, stdin: str = "", data=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", "review", *args, *(["--data", str(data)] if data else [])],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def user(*argv: str, stdin: str = "") -> str:
    """`scrapeguard review user ...` in this process (on the test database); the UsageError's text if refused."""
    import contextlib
    import io

    from review.cli import UsageError, _parser

    args = _parser().parse_args(["user", *argv])
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), pytest.MonkeyPatch.context() as mp:
            mp.setattr(sys, "stdin", io.StringIO(stdin))
            args.handler(args)
    except UsageError as exc:
        return f"refused: {exc}"
    return out.getvalue()


def test_user_commands_add_change_and_disable_accounts(db):
    from django.contrib.auth.models import User
    from django.test import Client

    from review.access import role_of

    assert "added ana (viewer)" in user(
        "add", "ana", "--role", "viewer", "--password-stdin", stdin="a long passphrase\n"
    )
    ana = User.objects.get(username="ana")
    assert (
        role_of(ana) == "viewer"
        and ana.password.startswith("pbkdf2_sha256$")
        and ana.check_password("a long passphrase")
    )
    assert "ana is now admin" in user("set-role", "ana", "admin")
    assert role_of(User.objects.get(username="ana")) == "admin"
    browser = Client()
    browser.force_login(ana)
    assert browser.get("/api/v1/me").status_code == 200
    assert "ana disabled (1 session ended)" in user("disable", "ana")
    assert browser.get("/api/v1/me").status_code == 401 and not User.objects.get(username="ana").is_active
    for argv, stdin, message in [
        (("add", "ana", "--role", "viewer", "--password-stdin"), "another passphrase\n", "user 'ana' exists"),
        (("add", "bo", "--role", "viewer", "--password-stdin"), "short\n", "too short"),
        (("add", "bo", "--role", "viewer", "--password-stdin"), "12345678901234\n", "entirely numeric"),
        (("add", "bo", "--role", "viewer"), "", "pipe it in with --password-stdin"),
        (("set-role", "nobody", "analyst"), "", "no user 'nobody'"),
    ]:
        assert message in user(*argv, stdin=stdin)
    assert not User.objects.filter(username="bo").exists()


def test_usage_errors_name_the_input_in_one_line_and_exit_2(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"decision_id": 1}\nnot json\n')
    for args, message in [
        (("ingest", "--decisions", str(tmp_path / "none.jsonl")), "none.jsonl: file not found"),
        (("serve", "--port", "8999"), "give --bootstrap-servers"),
        (("serve", "--verdicts", "v.jsonl", "--database", "mysql://x/y"), "the scheme must be sqlite or postgresql"),
        (("user", "add", "bo", "--role", "viewer", "--password-stdin"), "too short"),
    ]:
        refused = review(*args, stdin="short\n", data=tmp_path)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and refused.stderr.startswith("scrapeguard review ")
    bad = review("ingest", "--decisions", str(tmp_path / "bad.jsonl"), data=tmp_path)
    assert bad.returncode == 0 and "rejected 2; first rejected:" in bad.stdout and "bad.jsonl:1:" in bad.stdout


def test_the_cli_help_stays_fast_and_lists_the_console():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "jobs.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "review" in out.stdout and "django" not in out.stderr  # stderr: every module -X importtime saw


@pytest.mark.parametrize(
    "command", [["serve"], ["ingest"], ["feed"], ["user", "add"], ["user", "set-role"], ["purge"], ["erase"]]
)
def test_the_console_commands_help_shows_the_defaults_and_no_empty_ones(command, capsys):
    from review.cli import main

    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith(f"usage: scrapeguard review {' '.join(command)} ")
    assert "(default: None)" not in text and "(default: False)" not in text and "(default: )" not in text
    assert "SQLite database and generated keys (default: " in text
    if command == ["serve"]:
        assert "(default: 127.0.0.1)" in text and "(default: 8000)" in text and "(default: 8)" in text
        assert "or the wall clock (default: event)" in text


def test_a_network_range_joins_its_fleets_case_and_its_evidence_is_the_ranges_logged_out_requests(db, as_role):
    """The golden case `address_fleet_range`: the range decision is reviewed with the fleet's addresses."""
    import orjson

    from detectors.config import load_config
    from review.evidence import requests_of
    from review.ingest import ingest_event_lines

    case = Path(__file__).resolve().parents[1] / "golden" / "address_fleet_range"
    lines = (case / "input.jsonl").read_text().splitlines()
    assert ingest_event_lines(((f"input:{i}", x) for i, x in enumerate(lines)), load_config().routes).rejected == 0
    decisions = [orjson.loads(x) for x in (case / "expected.jsonl").read_text().splitlines()]
    assert feed(*({**d, "emitted_at": d["event_time"]} for d in decisions)).added == len(decisions)
    [group] = open_cases("100.80.1.0/24")
    assert group.kind == "address_fleet" and group.member_count == len(decisions)
    range_requests = requests_of([("network", "100.80.1.0/24")])
    assert {e.ip for e in range_requests} == {f"100.80.1.{i}" for i in (*range(10, 22), 200, 201)}
    page = as_role("viewer").get(f"/cases/{group.pk}")
    assert page.status_code == 200 and b"<td>network net-" in page.content  # pseudonymised, as addresses are
    assert as_role("viewer").get("/?subject_type=network").status_code == 200


def test_a_range_that_is_not_in_canonical_form_is_rejected(db):
    bad = {**decision("x", 1), "subject_type": "network", "subject": "100.80.1.7/24"}
    summary = feed(bad)
    assert summary.rejected == 1
    assert summary.reasons == [
        "test 0: field 'subject' is not a network range in canonical CIDR form ('100.80.1.7/24')"
    ]


def test_a_decision_on_the_access_path_opens_a_case_of_its_own(db):
    """The golden case `logged_out_surge`: the platform's decision is a case on the path, beside a person's."""
    import orjson

    case = Path(__file__).resolve().parents[1] / "golden" / "logged_out_surge"
    [path] = [orjson.loads(x) for x in (case / "expected.jsonl").read_text().splitlines()]
    path["emitted_at"] = path["event_time"]
    summary = feed(path, decision("p1", 1))
    assert (summary.read, summary.added, summary.rejected) == (2, 2, 0)
    [surge] = Case.objects.filter(subject_type="path")
    assert (surge.kind, surge.subject, surge.action, surge.reason_list) == (
        "subject", "logged-out:profile_view", "challenge", ["logged_out_surge"]
    )  # fmt: skip
    other = feed({**path, "decision_id": "00000000-0000-5000-8000-000000000009", "subject": "logged-in:profile_view"})
    assert other.rejected == 1 and "is not the access path 'logged-out:profile_view'" in other.reasons[0]
