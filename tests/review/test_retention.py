"""The console keeps browsing no longer than told: `purge` deletes old events but the evidence of held cases, and
`erase` deletes one subject's events now; checked against counts made here from the events' fields."""

from __future__ import annotations

import ipaddress

import pytest

from review.cli import UsageError, _parser
from review.models import Case, Event, Member
from review.retention import erase, purge
from review.verdicts import console_now
from tests.review.scenario import XSS_ACCOUNT

MINUTE = 60_000


def run(*argv: str) -> str:
    """`scrapeguard review ...` in this process, on the test database; the UsageError's text if refused."""
    import contextlib
    import io

    args = _parser().parse_args(list(argv))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            args.handler(args)
    except UsageError as exc:
        return f"refused: {exc}"
    return out.getvalue()


def held(event: Event, accounts: set[str], ips: set[str], networks: list) -> bool:
    """Whether a held case's member made this request, written out from the members' kinds."""
    if event.account_id is not None:
        return event.account_id in accounts
    address = ipaddress.ip_address(event.ip)
    return event.ip in ips or any(address in n for n in networks)


def test_purge_deletes_old_events_but_the_evidence_of_open_and_confirmed_cases(db):
    assert not Case.objects.filter(subject_type="path").exists()  # the path layer is off by default
    person = Event.objects.exclude(account_id__in=Member.objects.values("subject")).exclude(account_id=None)
    person = person.order_by("ts").first().account_id
    confirmed = Case.objects.get(members__subject=XSS_ACCOUNT)
    confirmed.status = "confirmed"
    confirmed.save()
    dismissed = Case.objects.filter(status="open", subject_type="account").exclude(pk=confirmed.pk).first()
    dismissed.status = "dismissed"
    dismissed.save()
    released = dismissed.subject
    members = Member.objects.filter(case__status__in=("open", "escalated", "confirmed"))
    accounts = set(members.filter(subject_type="account").values_list("subject", flat=True))
    ips = set(members.filter(subject_type="ip").values_list("subject", flat=True))
    ranges = members.filter(subject_type="network").values_list("subject", flat=True)
    networks = [ipaddress.ip_network(n) for n in ranges]
    assert XSS_ACCOUNT in accounts and released not in accounts and person not in accounts
    cutoff = console_now() - 30 * MINUTE
    old = list(Event.objects.filter(ts__lt=cutoff))
    evidence = {e.pk for e in old if held(e, accounts, ips, networks)}
    newer = Event.objects.filter(ts__gte=cutoff).count()
    assert 0 < len(evidence) < len(old)

    assert run("purge", "--keep", "30m") == (
        f"scrapeguard review purge: events older than 30m: {len(old) - len(evidence)} events deleted; "
        f"{len(evidence)} kept as evidence of open and confirmed cases\n"
    )
    assert set(Event.objects.filter(ts__lt=cutoff).values_list("pk", flat=True)) == evidence
    assert Event.objects.filter(ts__gte=cutoff).count() == newer  # nothing newer is touched
    assert Event.objects.filter(account_id=XSS_ACCOUNT, ts__lt=cutoff).exists()  # a confirmed scraper's evidence
    assert not Event.objects.filter(account_id__in=[released, person], ts__lt=cutoff).exists()
    assert purge(30 * MINUTE).deleted == 0  # the same again deletes nothing


def test_erase_deletes_a_persons_requests_and_keeps_a_held_cases_evidence_naming_the_case(db):
    person = Event.objects.exclude(account_id__in=Member.objects.values("subject")).exclude(account_id=None)
    person = person.first().account_id
    theirs = Event.objects.filter(account_id=person).count()
    others = Event.objects.exclude(account_id=person).count()
    assert run("erase", f"account:{person}") == (
        f"scrapeguard review erase: account:{person}: {theirs} event{'s' if theirs != 1 else ''} deleted\n"
    )
    assert not Event.objects.filter(account_id=person).exists() and Event.objects.count() == others

    case = Case.objects.get(members__subject=XSS_ACCOUNT)
    probe = Event.objects.filter(account_id=XSS_ACCOUNT).count()
    assert probe > 100
    done = erase("account", XSS_ACCOUNT)
    assert (done.deleted, done.kept, done.cases) == (0, probe, (case.pk,))
    assert done.line("account:z") == f"account:z: 0 events deleted; {probe} kept as evidence of case {case.pk}"
    case.status = "dismissed"  # released: nothing holds its requests any more
    case.save()
    assert erase("account", XSS_ACCOUNT) == type(done)(probe, 0)
    assert not Event.objects.filter(account_id=XSS_ACCOUNT).exists()


def test_an_address_is_erased_by_its_logged_out_requests_and_a_held_case_through_its_network_is_named(db):
    ip, network = Event.objects.filter(account_id=None).values_list("ip", "network").first()
    logged_out = Event.objects.filter(ip=ip, account_id=None).count()
    logged_in = Event.objects.filter(ip=ip).exclude(account_id=None).count()
    case = Case.objects.create(
        kind="subject", key=f"network:{network}", label="", subject_type="network", subject=network,
        action="block", first_seen="2026-01-05T00:00:00Z", last_seen="2026-01-05T00:00:00Z",
    )  # fmt: skip
    Member.objects.create(case=case, subject_type="network", subject=network)
    done = erase("ip", ip)
    assert (done.deleted, done.kept, done.cases) == (0, logged_out, (case.pk,))
    case.status = "dismissed"
    case.save()
    assert erase("ip", ip).deleted == logged_out
    assert Event.objects.filter(ip=ip).count() == logged_in  # an account's requests are the account's to erase


@pytest.mark.parametrize(
    "argv, message",
    [
        (("erase", "a7"), "'a7' is not account:ID or ip:ADDRESS"),
        (("erase", "network:10.0.0.0/24"), "'network:10.0.0.0/24' is not account:ID or ip:ADDRESS"),
        (("erase", "account:a1", "ip:10.0.0.300"), "'ip:10.0.0.300': not an IP address"),
        (("purge", "--keep", "a month"), "--keep: 'a month' is not a duration"),
    ],
)
def test_retention_commands_refuse_bad_input_before_deleting_anything(db, argv, message):
    before = Event.objects.count()
    assert run(*argv).startswith(f"refused: {message}")
    assert Event.objects.count() == before


def test_an_erased_accounts_requests_leave_the_sqlite_files_not_only_the_queries(tmp_path):
    """The commands as users run them, on a fresh SQLite database: after `erase`, no byte of the erased account's
    id or paths is left in the database or its write-ahead log, while another connection holds it open; the other
    account's are still there."""
    import json
    import os
    import sqlite3
    import subprocess
    import sys

    lines = [
        json.dumps({"ts": f"2026-01-05T08:00:0{i}Z", "ip": f"10.0.0.{i + 1}", "method": "GET", "status": 200,
                    "path": f"/u/{who}-friend-{i}", "account_id": who, "user_agent": "Mozilla/5.0"})
        for i in range(5) for who in ("erase-me-7f3a", "keep-me-9b2c")
    ]  # fmt: skip
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "decisions.jsonl").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "SCRAPEGUARD_REVIEW_DATABASE"}  # SQLite, whatever the run

    def review(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "jobs.cli", "review", *args, "--data", str(tmp_path / "data")],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    review("ingest", "--decisions", str(tmp_path / "decisions.jsonl"), "--events", str(tmp_path / "events.jsonl"))
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("review.sqlite3*"))
    assert on_disk.count(b"erase-me-7f3a") >= 10 and b"keep-me-9b2c" in on_disk
    console = sqlite3.connect(tmp_path / "data" / "review.sqlite3")  # open, as a running console's would be
    assert console.execute("SELECT count(*) FROM review_event").fetchone() == (10,)
    assert review("erase", "account:erase-me-7f3a") == (
        "scrapeguard review erase: account:erase-me-7f3a: 5 events deleted\n"
    )
    assert console.execute("SELECT count(*) FROM review_event").fetchone() == (5,)
    console.close()
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("review.sqlite3*"))
    assert b"erase-me-7f3a" not in on_disk and on_disk.count(b"keep-me-9b2c") >= 10
