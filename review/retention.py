"""How long the console keeps people's browsing: the stored access events, and their erasure.

The console stores every access event it reads, so it holds the browsing history of everyone on the platform, not
only of the subjects flagged. Two commands bound that:

- `purge(keep)`: every stored event older than `keep` before the console's clock (`console_now`) goes, except the
  evidence that a case still needs: the requests of the members of cases in the queue (open, escalated) and of
  confirmed ones (the incident report, a breach notification, legal pursuit). A path case holds only its surge.
  A dismissed case holds nothing: the person was released.
- `erase(subject)`: one account's stored requests, or one address's logged-out ones, go now (a person's request
  for erasure), except what a case still needs, which is counted and named.

Decisions, cases, and the append-only audit log of verdicts stay: they are the record of what was decided and
why, and name the subject, not what it browsed.

On SQLite the deleted rows are overwritten with zeros (`secure_delete`) and the write-ahead log is folded into the
database, so their bytes leave the disk too. On PostgreSQL they are gone for every query at once, and their bytes
stay in the table's files until a vacuum reuses them (`VACUUM FULL review_event` rewrites the table).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q

from review.cases import surge_range
from review.evidence import requests_q
from review.models import IN_QUEUE, Case, Event, Member
from review.verdicts import console_now

HELD = (*IN_QUEUE, "confirmed")
"""The statuses of the cases whose evidence is kept."""


@dataclass(frozen=True)
class Erased:
    """What an erasure or a purge did: events deleted, events kept as evidence, and the cases that keep them."""

    deleted: int
    kept: int
    cases: tuple[int, ...] = ()

    def line(self, what: str) -> str:
        cases = f"case {', '.join(map(str, self.cases))}" if self.cases else "open and confirmed cases"
        held = f"; {self.kept} kept as evidence of {cases}" if self.kept else ""
        return f"{what}: {self.deleted} event{'s' if self.deleted != 1 else ''} deleted{held}"


def held_q() -> Q:
    """The stored events that a held case needs (see module docstring): `evidence.requests_q` of every held
    member, with the accounts and addresses as subqueries, however many cases are held."""
    held = Member.objects.filter(case__status__in=HELD)
    accounts = held.filter(subject_type="account").values("subject")
    ips = held.filter(subject_type="ip").values("subject")
    networks = list(held.filter(subject_type="network").values_list("subject_type", "subject").distinct())
    q = Q(account_id__in=accounts) | Q(ip__in=ips, account_id__isnull=True) | requests_q(networks)
    for case in Case.objects.filter(status__in=HELD, subject_type="path"):
        q |= requests_q([("path", case.subject)], *surge_range(case))
    return q


def purge(keep_ms: int) -> Erased:
    """Delete the stored events older than `keep_ms` before the console's clock that no held case needs."""
    old, held = Event.objects.filter(ts__lt=console_now() - keep_ms), held_q()
    kept = old.filter(held).count()
    with _overwritten():
        deleted, _ = old.exclude(held).delete()
    return Erased(deleted, kept)


def erasable(name: str) -> tuple[str, str]:
    """`account:ID` or `ip:ADDRESS` as (subject type, subject as stored); ValueError naming it otherwise."""
    subject_type, _, subject = name.partition(":")
    if not subject or subject_type not in ("account", "ip"):
        raise ValueError(f"{name!r} is not account:ID or ip:ADDRESS")
    if subject_type == "ip":
        try:
            subject = str(ipaddress.ip_address(subject))
        except ValueError:
            raise ValueError(f"{name!r}: not an IP address") from None
    return subject_type, subject


def erase(subject_type: str, subject: str) -> Erased:
    """Delete the stored requests of one account (`account`) or of one address's logged-out visits (`ip`), but
    what a held case needs."""
    subject_type, subject = erasable(f"{subject_type}:{subject}")
    mine, held = Event.objects.filter(requests_q([(subject_type, subject)])), held_q()
    kept = mine.filter(held).count()
    with _overwritten():
        deleted, _ = mine.exclude(held).delete()
    return Erased(deleted, kept, _holding(subject_type, subject) if kept else ())


@contextlib.contextmanager
def _overwritten() -> Iterator[None]:
    """On SQLite: deleted rows overwritten with zeros, and the write-ahead log folded in afterwards (see module
    docstring), whatever the library's build defaults to."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete = ON")
    yield
    if not connection.in_atomic_block:  # a checkpoint inside a transaction would find its own tables locked
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _holding(subject_type: str, subject: str) -> tuple[int, ...]:
    """The held cases that hold the subject's requests: as a member, or through its network or the access path."""
    held = Member.objects.filter(case__status__in=HELD)
    cases = set(held.filter(subject_type=subject_type, subject=subject).values_list("case_id", flat=True))
    if subject_type == "ip":
        address = ipaddress.ip_address(subject)
        for case, network in held.filter(subject_type="network").values_list("case_id", "subject"):
            if address in ipaddress.ip_network(network):
                cases.add(case)
        for case in Case.objects.filter(status__in=HELD, subject_type="path"):
            surge = requests_q([("path", case.subject)], *surge_range(case))
            if Event.objects.filter(requests_q([("ip", subject)]), surge).exists():
                cases.add(case.pk)
    return tuple(sorted(cases))
