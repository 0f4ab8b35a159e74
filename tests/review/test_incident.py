"""The incident report's count of people whose data was accessed is exact: checked against an independent count
over the raw simulated events, for a single crawler, a logged-out enumerator, a fleet, a look-up scraper, and a time
range."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from detectors.routes import RouteTable
from review import incident
from review.models import Case, Member
from tests.review.scenario import XSS_ACCOUNT

# The platform's profile pages and profile API, and its look-ups by phone number or e-mail address, written out here
# rather than taken from detectors.routes.
LOOKUP = re.compile(r"^/(?:api/v\d+/users/)?lookup/?$")
PROFILE = re.compile(r"^/(?:u|users|profile)/([^/]+)/?$|^/api/v\d+/users/([^/]+)/?$")


def person_in(path: str) -> str | None:
    """The person a request names: the profile id, or the looked-up phone number (first) or e-mail address as sent."""
    route, _, query = path.partition("?")
    route = re.sub("/+", "/", route)
    if LOOKUP.match(route):
        params = dict(reversed([p.split("=", 1) for p in query.split("&") if "=" in p]))  # the first of each
        return params.get("phone") or params.get("email") or None
    m = PROFILE.match(route)
    return (m[1] or m[2]) if m else None


def people_in_raw_events(path, members: set[tuple[str, str]], since: str = "", until: str = "~") -> set[str]:
    """Distinct people whose profile, or whose details by look-up, a member was served (status < 400), own profile
    excluded."""
    people = set()
    for line in path.read_text().splitlines():
        e = json.loads(line)
        account = e.get("account_id")
        mine = ("account", account) in members if account else ("ip", e["ip"]) in members
        if not mine or not since <= e["ts"] <= until or e["status"] >= 400:
            continue
        person = person_in(e["path"])
        if person and person != account:
            people.add(person)
    return people


def case_of(label_kind: str, world) -> Case:
    subjects = [k.split(":", 1) for k, v in world.labels.items() if v == label_kind]
    member = Member.objects.filter(subject__in=[s for _, s in subjects]).select_related("case").first()
    assert member is not None, f"no case for a {label_kind}"
    return member.case


@pytest.mark.parametrize(
    "kind",
    [
        "scraper_new_account_crawler",
        "scraper_enumerator_logged_out",
        "scraper_botnet",
        "scraper_search_harvester",
        "scraper_crafted_probe",
    ],
)
def test_people_accessed_is_the_exact_count(kind, world, as_role):
    case = case_of(kind, world)
    members = set(case.members.values_list("subject_type", "subject"))
    expected = people_in_raw_events(world.events, members)
    report = as_role("analyst").get(f"/api/v1/cases/{case.pk}/report").json()
    assert report["people_accessed"] == len(expected) > 0
    assert set(report["people"]) == expected
    if kind == "scraper_botnet":
        assert len(members) >= 3 and case.kind == "coordinated_fleet"
    if kind == "scraper_enumerator_logged_out":  # walks ids that do not exist: asked for, not served
        assert report["people_requested_not_served"] > 0


def test_a_time_range_counts_only_the_people_accessed_in_it(world, as_role):
    case = case_of("scraper_new_account_crawler", world)
    members = set(case.members.values_list("subject_type", "subject"))
    since, until = "2026-01-05T08:10:00.000Z", "2026-01-05T08:20:00.000Z"
    expected = people_in_raw_events(world.events, members, since, until)
    whole = as_role("analyst").get(f"/api/v1/cases/{case.pk}/report").json()
    part = as_role("analyst").get(f"/api/v1/cases/{case.pk}/report?since={since}&until={until}").json()
    assert part["people_accessed"] == len(expected) and 0 < len(expected) < whole["people_accessed"]
    assert since <= part["first_seen"] <= part["last_seen"] <= until


def test_the_exports_and_the_printable_page_agree(world, as_role):
    c = as_role("analyst")
    case = Member.objects.get(subject=XSS_ACCOUNT).case
    data = c.get(f"/api/v1/cases/{case.pk}/report").json()
    assert data["people_accessed"] == 150 and data["requests"] == 151 and data["personal_data_requests"] == 150
    assert data["categories"] == [
        {"category": "personal data: profile (web page)", "requests": 150, "served": 150, "people": 150},
        {"category": "personal data: search results (web page)", "requests": 1, "served": 1, "people": 0},
    ]
    assert data["addresses"][0]["ip"] == "10.250.0.7" and data["networks"][0]["network"] == "10.250.0.0/24"
    rows = list(csv.reader(io.StringIO(c.get(f"/api/v1/cases/{case.pk}/report?format=csv").content.decode())))
    assert ["summary", "people_accessed", "150", ""] in rows
    assert sorted(r[1] for r in rows if r[0] == "person") == sorted(data["people"])
    page = c.get(f"/cases/{case.pk}/report").content.decode()
    assert '<td class="num" id="people-accessed"><strong>150</strong></td>' in page
    assert "personal data: profile (web page)" in page


def test_look_ups_count_the_people_found_and_search_and_contact_import_count_no_one():
    """The simulated hour's look-up scraper draws no decision, so its requests are written out here: a served look-up
    discloses the person behind the number or address (as sent), a miss is asked for and not served, and search
    pages and contact imports disclose people without naming them in the request."""
    routes = RouteTable.default()
    sent = [
        ("/api/v1/users/lookup?phone=%2B4915112345678", 200),
        ("/api/v1/users/lookup?phone=%2B4915112345678", 200),  # the same person twice
        ("/lookup?email=ann%40mail.example&phone=%2B4915100000001", 200),  # phone first
        ("/api/v1/users/lookup?email=nobody%40mail.example", 404),
        ("/api/v1/users/lookup", 400),  # no identifier: names no one
        ("/u/7", 200),
        ("/u/lookup-fan", 200),  # a profile, not a look-up
        ("/search?q=ann", 200),
        ("/api/v1/contacts/import", 200),
    ]
    rows = []
    for i, (path, status) in enumerate(sent):
        action, target = routes.classify(path)
        rows.append(
            incident.Request(1_767_600_000_000 + i, "10.0.0.1", "10.0.0.0/24", "a1", path, status, action, target)
        )
    expected = {person_in(path) for path, status in sent if status < 400} - {None}
    report = incident.build(rows, [("account", "a1")], None, None)
    assert set(report.people) == expected == {"%2B4915112345678", "%2B4915100000001", "7", "lookup-fan"}
    assert report.refused_people == ["nobody%40mail.example"]
    assert report.personal_data_requests == 6 and report.requests == 9
    assert report.categories == {
        "personal data: contact import (API)": {"requests": 1, "served": 1, "people": 0},
        "personal data: look-up by phone or e-mail (API)": {"requests": 4, "served": 2, "people": 1},
        "personal data: look-up by phone or e-mail (web page)": {"requests": 1, "served": 1, "people": 1},
        "personal data: profile (web page)": {"requests": 2, "served": 2, "people": 2},
        "personal data: search results (web page)": {"requests": 1, "served": 1, "people": 0},
    }
