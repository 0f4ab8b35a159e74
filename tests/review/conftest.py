"""The review console under test: Django set up in this process on a scratch SQLite database (or the PostgreSQL
database in SCRAPEGUARD_REVIEW_DATABASE), the simulated scenario ingested once, each test in a transaction that is
rolled back, and users of every role."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_DATA = Path(tempfile.mkdtemp(prefix="review-test-"))
os.environ["SCRAPEGUARD_REVIEW_DATA"] = str(_DATA)
os.environ["SCRAPEGUARD_REVIEW_VERDICTS_FILE"] = str(_DATA / "verdicts.jsonl")
os.environ["SCRAPEGUARD_REVIEW_CLOCK"] = "event"
os.environ["DJANGO_SETTINGS_MODULE"] = "review.settings"

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402

from tests.review import scenario  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)

PASSWORD = "correct-horse-battery-staple"
VERDICTS_FILE = _DATA / "verdicts.jsonl"


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> scenario.Scenario:
    """The scenario, ingested (committed) once for the session, with one user per role."""
    import orjson

    from detectors.config import load_config
    from review.cli import _lines
    from review.ingest import ingest_decisions, ingest_event_lines

    made = scenario.make(tmp_path_factory.mktemp("review-sim"))
    events = ingest_event_lines(_lines(made.events), load_config().routes)
    assert events.rejected == 0 and events.added > 30_000
    found = ingest_decisions((p, orjson.loads(line)) for p, line in _lines(made.decisions) if line)
    assert found.rejected == 0 and found.added > 10
    for role in ("viewer", "analyst", "admin"):
        user, _ = User.objects.get_or_create(username=role)
        user.set_password(PASSWORD)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
    User.objects.get_or_create(username="norole")
    return made


@pytest.fixture
def db(world):
    """Every change a test makes is rolled back at its end."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def as_role(db):
    """`as_role("analyst")`: a client logged in with that role, checking CSRF as a browser would be checked."""

    def client(role: str | None, csrf: bool = True) -> Client:
        c = Client(enforce_csrf_checks=csrf)
        if role is not None:
            c.force_login(User.objects.get(username=role))
            c.get("/api/v1/me")  # sets the csrftoken cookie
        return c

    return client


def csrf(c: Client) -> dict[str, str]:
    """The header a client sends its CSRF token in."""
    cookie = c.cookies.get("csrftoken")
    return {"HTTP_X_CSRFTOKEN": cookie.value} if cookie else {}
