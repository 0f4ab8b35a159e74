"""The JSON API: every endpoint, its refusals (no login, wrong role, bad CSRF token, malformed input: a clear error
and no change), its answers checked against the OpenAPI description, and the verdict flows behind it.

Also run against a real PostgreSQL server by tests/review/test_postgres.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import User
from django.db import DatabaseError, transaction
from django.test import Client
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from review.models import AllowlistRequest, AuditEntry, Case, DecisionRecord, Member
from tests.review.conftest import PASSWORD, VERDICTS_FILE, csrf
from tests.review.scenario import XSS_ACCOUNT, XSS_UA

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "review" / "openapi.yaml").read_text())
REGISTRY = Registry().with_resource("urn:openapi", Resource.from_contents(SPEC, default_specification=DRAFT202012))


def conforms(response, template: str, method: str) -> dict | list:
    """The JSON body, after checking it against the spec's schema for this path, method and status."""
    responses = SPEC["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in responses, f"{method} {template}: {response.status_code} is not documented"
    pointer = "/".join(
        ["urn:openapi#", "paths", template.replace("/", "~1"), method.lower(), "responses", str(response.status_code)]
    )
    answer = responses[str(response.status_code)]
    if "$ref" in answer:
        pointer = "urn:openapi" + answer["$ref"]
    body = response.json()
    schema = {"$ref": pointer + "/content/application~1json/schema"}
    Draft202012Validator(schema, registry=REGISTRY).validate(body)
    return body


@pytest.fixture
def xss_case(world) -> int:
    return Member.objects.get(subject_type="account", subject=XSS_ACCOUNT).case_id


@pytest.fixture
def group_case(world) -> int:
    return Case.objects.filter(kind="coordinated_fleet", status="open").order_by("pk").first().pk


def state() -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        AuditEntry.objects.count(),
        AllowlistRequest.objects.count(),
        DecisionRecord.objects.count(),
        tuple(Case.objects.order_by("pk").values_list("status", flat=True)),
        tuple(Member.objects.order_by("pk").values_list("verdict", flat=True)),
        VERDICTS_FILE.stat().st_size if VERDICTS_FILE.exists() else 0,
    )


def a_decision(subject: str = "api-fed", decision_id: str = "00000000-0000-5000-8000-000000000001") -> dict:
    return {
        "decision_id": decision_id,
        "subject_type": "account",
        "subject": subject,
        "action": "challenge",
        "score": 0.6,
        "reasons": ["account_profile_views_1m"],
        "evidence": {"profile_views_1m": 24},
        "event_time": "2026-01-05T08:40:00.000Z",
        "emitted_at": "2026-01-05T08:40:01.000Z",
        "expires_at": "2026-01-05T09:40:00.000Z",
        "detector_version": "0.1.0+test",
    }


# (method, path template, body, the weakest role allowed)
ENDPOINTS = [
    ("GET", "/api/v1/me", None, "viewer"),
    ("POST", "/api/v1/logout", None, "viewer"),
    ("GET", "/api/v1/cases", None, "viewer"),
    ("GET", "/api/v1/cases/{pk}", None, "viewer"),
    ("GET", "/api/v1/cases/{pk}/requests", None, "viewer"),
    ("POST", "/api/v1/cases/{pk}/verdict", {"verdict": "confirm", "note": "crawls ids in order"}, "analyst"),
    ("GET", "/api/v1/cases/{pk}/report", None, "viewer"),
    ("GET", "/api/v1/audit", None, "admin"),
    ("GET", "/api/v1/allowlist", None, "admin"),
    ("POST", "/api/v1/decisions", [a_decision()], "admin"),
]
OPEN = ["/api/v1/login", "/api/v1/openapi.yaml", "/api/v1/openapi.json"]


def call(c: Client, method: str, path: str, body=None, **headers):
    if method == "GET":
        return c.get(path, **headers)
    return c.post(path, data=json.dumps(body if body is not None else {}), content_type="application/json", **headers)


def test_the_description_is_valid_openapi_and_covers_every_api_route():
    from openapi_spec_validator import validate

    from review.urls import urlpatterns

    validate(SPEC)
    routes = {"/" + re.sub(r"<int:(\w+)>", r"{\1}", str(p.pattern)) for p in urlpatterns}
    api_routes = {r for r in routes if r.startswith("/api/")}
    assert api_routes == set(SPEC["paths"]) == {e[1] for e in ENDPOINTS} | set(OPEN)


def test_the_description_is_served_without_login(db):
    c = Client()
    assert yaml.safe_load(c.get("/api/v1/openapi.yaml").content) == SPEC
    assert c.get("/api/v1/openapi.json").json() == SPEC


@pytest.mark.parametrize("method, template, body, role", ENDPOINTS)
def test_without_login_every_endpoint_answers_401_and_changes_nothing(method, template, body, role, db, xss_case):
    before = state()
    response = call(Client(), method, template.format(pk=xss_case), body)
    assert response.status_code == 401
    assert "not logged in" in conforms(response, template, method)["error"]
    assert state() == before


WEAKER = {"analyst": "viewer", "admin": "analyst"}


@pytest.mark.parametrize("method, template, body, role", [e for e in ENDPOINTS if e[3] != "viewer"])
def test_a_weaker_role_is_refused_with_403_and_changes_nothing(method, template, body, role, as_role, xss_case):
    c = as_role(WEAKER[role])
    before = state()
    response = call(c, method, template.format(pk=xss_case), body, **csrf(c))
    assert response.status_code == 403
    assert f"needs the {role} role" in conforms(response, template, method)["error"]
    assert state() == before


@pytest.mark.parametrize("method, template, body, role", ENDPOINTS)
def test_a_user_without_a_role_or_disabled_is_refused(method, template, body, role, as_role, xss_case):
    c = as_role("norole")
    before = state()
    response = call(c, method, template.format(pk=xss_case), body, **csrf(c))
    assert response.status_code == 403 and "no role" in response.json()["error"]
    admin = as_role("admin")
    User.objects.filter(username="admin").update(is_active=False)
    response = call(admin, method, template.format(pk=xss_case), body, **csrf(admin))
    assert response.status_code in (401, 403)
    assert state() == before


@pytest.mark.parametrize("method, template, body, role", [e for e in ENDPOINTS if e[0] == "POST"])
@pytest.mark.parametrize("token", [None, "wrong-token-wrong-token-wrong-token-wrong-token-wrong-token-1234"])
def test_a_post_without_the_right_csrf_token_is_refused(method, template, body, role, token, as_role, xss_case):
    c = as_role(role)
    before = state()
    headers = {} if token is None else {"HTTP_X_CSRFTOKEN": token}
    response = call(c, method, template.format(pk=xss_case), body, **headers)
    assert response.status_code == 403
    assert "CSRF check failed" in conforms(response, template, method)["error"]
    assert state() == before
    assert call(c, "GET", "/api/v1/me").status_code == 200  # still logged in: the POST did not happen


MALFORMED = [
    ("GET", "/api/v1/cases?action=ban", None, "'action' must be one of"),
    ("GET", "/api/v1/cases?reason=<b>", None, "'reason' is not a reason code"),
    ("GET", "/api/v1/cases?age_max=soon", None, "'age_max' is not a duration"),
    ("GET", "/api/v1/cases?since=yesterday", None, "'since' is not a date"),
    ("GET", "/api/v1/cases?page=0", None, "'page' must be a positive integer"),
    ("GET", "/api/v1/cases?colour=red", None, "unknown parameter(s): colour"),
    ("GET", "/api/v1/cases/{pk}/requests?size=100000", None, "'size' must be an integer from 1 to 500"),
    ("GET", "/api/v1/cases/{pk}/report?format=pdf", None, "'format' must be json or csv"),
    ("GET", "/api/v1/cases/{pk}/report?since=2026-01-05T09:00&until=2026-01-05T08:00", None, "'since' is after"),
    ("POST", "/api/v1/cases/{pk}/verdict", {"verdict": "ban", "note": "x"}, "'verdict' must be one of"),
    ("POST", "/api/v1/cases/{pk}/verdict", {"verdict": "confirm"}, "'note' is required"),
    ("POST", "/api/v1/cases/{pk}/verdict", {"verdict": "confirm", "note": " "}, "'note' is required"),
    ("POST", "/api/v1/cases/{pk}/verdict", {"verdict": "confirm", "note": "x" * 2001}, "over the limit of 2000"),
    (
        "POST",
        "/api/v1/cases/{pk}/verdict",
        {"verdict": "confirm", "note": "x", "allowlist": True},
        "only for a dismiss",
    ),
    ("POST", "/api/v1/cases/{pk}/verdict", {"verdict": "dismiss", "note": "x", "members": []}, "non-empty list"),
    (
        "POST",
        "/api/v1/cases/{pk}/verdict",
        {"verdict": "dismiss", "note": "x", "members": ["account:nobody"]},
        "not in case",
    ),
    (
        "POST",
        "/api/v1/cases/{pk}/verdict",
        {"verdict": "dismiss", "note": "x", "members": ["user:a1"]},
        "is not 'account:<id>'",
    ),
    ("POST", "/api/v1/cases/{pk}/verdict", {"verdict": "dismiss", "note": "x", "why": "y"}, "unknown field(s): why"),
    ("POST", "/api/v1/cases/{pk}/verdict", ["confirm"], "must be a JSON object"),
    ("POST", "/api/v1/cases/{pk}/verdict", "{not json", "not valid JSON"),
    ("POST", "/api/v1/decisions", {"decision_id": "x"}, "non-empty JSON array"),
    (
        "POST",
        "/api/v1/decisions",
        [a_decision(), {**a_decision("b", "x"), "action": "ban"}],
        "decision 1: field 'action'",
    ),
    ("POST", "/api/v1/decisions", [{**a_decision(), "score": 7}], "decision 0: field 'score' is not in [0, 1]"),
    ("POST", "/api/v1/decisions", [{**a_decision(), "event_time": "soon"}], "decision 0: field 'event_time'"),
]


@pytest.mark.parametrize("method, path, body, message", MALFORMED)
def test_malformed_input_gets_400_naming_the_problem_and_changes_nothing(
    method, path, body, message, as_role, xss_case
):
    c = as_role("admin")
    before = state()
    if isinstance(body, str):
        response = c.post(path.format(pk=xss_case), data=body, content_type="application/json", **csrf(c))
    else:
        response = call(c, method, path.format(pk=xss_case), body, **csrf(c))
    template = path.split("?")[0]
    assert response.status_code == 400, response.content
    assert message in conforms(response, template, method)["error"]
    assert state() == before


def test_other_refusals_say_what_is_wrong(as_role, xss_case):
    c = as_role("analyst")
    before = state()
    response = c.get("/api/v1/cases/999999")
    assert response.status_code == 404 and "case 999999 does not exist" in response.json()["error"]
    response = c.post(f"/api/v1/cases/{xss_case}/verdict", data="verdict=confirm", content_type="text/plain", **csrf(c))
    assert response.status_code == 400 and "must be JSON" in response.json()["error"]
    response = c.delete(f"/api/v1/cases/{xss_case}", **csrf(c))
    assert response.status_code == 405 and "not allowed" in response.json()["error"]
    assert c.get("/api/v1/nothing").status_code == 404
    assert state() == before


# --- answers ----------------------------------------------------------------------------------------------


def test_every_endpoint_answers_as_described(as_role, xss_case, group_case):
    admin = as_role("admin")
    me = conforms(admin.get("/api/v1/me"), "/api/v1/me", "GET")
    assert me["role"] == "admin"
    queue = conforms(admin.get("/api/v1/cases"), "/api/v1/cases", "GET")
    assert queue["counts"]["total"] == len(queue["cases"]) > 5
    for pk in (xss_case, group_case):
        detail = conforms(admin.get(f"/api/v1/cases/{pk}"), "/api/v1/cases/{pk}", "GET")
        assert detail["case"]["id"] == pk and detail["decisions"] and detail["explanations"]
        sample = conforms(admin.get(f"/api/v1/cases/{pk}/requests?size=10"), "/api/v1/cases/{pk}/requests", "GET")
        assert len(sample["requests"]) == 10
        report = conforms(admin.get(f"/api/v1/cases/{pk}/report"), "/api/v1/cases/{pk}/report", "GET")
        assert report["people_accessed"] > 0
    csv = admin.get(f"/api/v1/cases/{xss_case}/report?format=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert "summary,people_accessed,150," in csv.content.decode()
    verdict = admin.post(
        f"/api/v1/cases/{xss_case}/verdict",
        data={"verdict": "dismiss", "note": "a test probe", "allowlist": True},
        content_type="application/json",
        **csrf(admin),
    )
    result = conforms(verdict, "/api/v1/cases/{pk}/verdict", "POST")
    assert result["case"]["status"] == "dismissed" and result["verdicts"][0]["subject"] == XSS_ACCOUNT
    entries = conforms(admin.get("/api/v1/audit"), "/api/v1/audit", "GET")["entries"]
    assert [e["verdict_id"] for e in entries] == [result["verdicts"][0]["verdict_id"]]
    allow = conforms(admin.get("/api/v1/allowlist"), "/api/v1/allowlist", "GET")
    assert allow["requests"][0]["subject"] == XSS_ACCOUNT and f'"{XSS_ACCOUNT}"' in allow["toml"]
    fed = admin.post("/api/v1/decisions", data=[a_decision()], content_type="application/json", **csrf(admin))
    assert conforms(fed, "/api/v1/decisions", "POST") == {"read": 1, "added": 1, "already_there": 0}
    again = admin.post("/api/v1/decisions", data=[a_decision()], content_type="application/json", **csrf(admin))
    assert again.json() == {"read": 1, "added": 0, "already_there": 1}
    assert conforms(admin.post("/api/v1/logout", **csrf(admin)), "/api/v1/logout", "POST") == {"logged_out": True}
    assert admin.get("/api/v1/me").status_code == 401


def test_login_checks_the_password_and_limits_failed_attempts(db):
    c = Client()
    ok = c.post("/api/v1/login", data={"username": "analyst", "password": PASSWORD}, content_type="application/json")
    body = conforms(ok, "/api/v1/login", "POST")
    assert body["role"] == "analyst" and c.get("/api/v1/me").status_code == 200
    assert User.objects.get(username="analyst").password.startswith("pbkdf2_sha256$")  # Django's hasher
    other = Client()
    for _ in range(5):
        wrong = other.post(
            "/api/v1/login",
            data={"username": "viewer", "password": "guess-guess-guess"},
            content_type="application/json",
        )
        assert (
            wrong.status_code == 401
            and "wrong user name or password" in conforms(wrong, "/api/v1/login", "POST")["error"]
        )
    blocked = other.post(
        "/api/v1/login", data={"username": "viewer", "password": PASSWORD}, content_type="application/json"
    )
    assert (
        blocked.status_code == 429 and "too many failed logins" in conforms(blocked, "/api/v1/login", "POST")["error"]
    )
    assert other.get("/api/v1/me").status_code == 401
    bad = other.post("/api/v1/login", data="[]", content_type="application/json")
    assert bad.status_code == 400 and "username" in bad.json()["error"]
    norole = Client().post(
        "/api/v1/login", data={"username": "norole", "password": "x"}, content_type="application/json"
    )
    assert norole.status_code == 401


def test_failed_logins_from_one_address_are_limited_across_user_names(db):
    c = Client(REMOTE_ADDR="192.0.2.50")
    for i in range(20):
        c.post("/api/v1/login", data={"username": f"u{i}", "password": "x"}, content_type="application/json")
    refused = c.post("/api/v1/login", data={"username": "admin", "password": PASSWORD}, content_type="application/json")
    assert refused.status_code == 429 and "from this address" in refused.json()["error"]
    assert (
        Client(REMOTE_ADDR="192.0.2.51")
        .post("/api/v1/login", data={"username": "admin", "password": PASSWORD}, content_type="application/json")
        .status_code
        == 200
    )


# --- identifiers -------------------------------------------------------------------------------------------


def test_viewers_see_pseudonyms_and_analysts_can_export_them(as_role, xss_case):
    from django.conf import settings

    from review.pseudonyms import pseudonym

    viewer, analyst = as_role("viewer"), as_role("analyst")
    alias = pseudonym(settings.PSEUDONYM_KEY, "account", XSS_ACCOUNT)
    for path in (
        "/api/v1/cases",
        f"/api/v1/cases/{xss_case}",
        f"/api/v1/cases/{xss_case}/requests",
        f"/api/v1/cases/{xss_case}/report",
        f"/cases/{xss_case}",
        f"/cases/{xss_case}/report",
        "/",
    ):
        shown = viewer.get(path).content.decode()
        assert alias in shown and XSS_ACCOUNT not in shown and "10.250.0.7" not in shown, path
        assert XSS_ACCOUNT in analyst.get(path).content.decode(), path
    report = analyst.get(f"/api/v1/cases/{xss_case}/report?pseudonymise=1").json()
    assert report["pseudonymised"] and report["subjects"][0]["subject"] == alias
    assert report["people"][0] == pseudonym(settings.PSEUDONYM_KEY, "account", "9000")
    assert report["addresses"][0]["ip"] == pseudonym(settings.PSEUDONYM_KEY, "ip", "10.250.0.7")
    sample = viewer.get(f"/api/v1/cases/{xss_case}/requests?size=500").json()["requests"]
    assert all(r["referer"] is None and not re.search(r"/u/9\d{3}", r["path"]) for r in sample)


# --- verdicts ----------------------------------------------------------------------------------------------


def new_verdicts(before: int) -> list[dict]:
    with open(VERDICTS_FILE, "rb") as f:
        f.seek(before)
        return [json.loads(line) for line in f.read().splitlines()]


def verdict(c: Client, pk: int, **body):
    return c.post(f"/api/v1/cases/{pk}/verdict", data=body, content_type="application/json", **csrf(c))


def test_a_verdict_goes_to_the_verdicts_file_and_the_audit_log(as_role, xss_case):
    from detectors.verdicts import parse_verdict

    c = as_role("analyst")
    size = VERDICTS_FILE.stat().st_size if VERDICTS_FILE.exists() else 0
    response = verdict(c, xss_case, verdict="confirm", note="walks /u/9000.. every 2 s")
    assert response.status_code == 200
    [sent] = new_verdicts(size)
    assert parse_verdict(json.dumps(sent)).verdict == "confirm"  # the detector reads it
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "verdict.v1.json").read_text())
    Draft202012Validator(schema).validate(sent)
    assert (sent["subject_type"], sent["subject"], sent["analyst"], sent["note"]) == (
        "account",
        XSS_ACCOUNT,
        "analyst",
        "walks /u/9000.. every 2 s",
    )
    latest = DecisionRecord.objects.filter(subject=XSS_ACCOUNT).order_by("-event_time").first()
    assert sent["decision_id"] == latest.decision_id
    assert sent["ts"] == max(sent["ts"], int(latest.event_time.timestamp() * 1000))  # the console's event time
    entry = AuditEntry.objects.get(verdict_id=sent["verdict_id"])
    assert (entry.analyst, entry.role, entry.verdict, entry.note) == ("analyst", "analyst", "confirm", sent["note"])
    assert Case.objects.get(pk=xss_case).status == "confirmed"
    again = verdict(c, xss_case, verdict="dismiss", note="changed my mind")
    assert again.status_code == 409 and "is confirmed" in again.json()["error"]


def test_escalate_keeps_the_case_in_the_queue_until_a_final_verdict(as_role, xss_case):
    c = as_role("analyst")
    assert verdict(c, xss_case, verdict="escalate", note="legal should look").json()["case"]["status"] == "escalated"
    assert verdict(c, xss_case, verdict="escalate", note="again").status_code == 409
    queue = c.get("/api/v1/cases?status=escalated").json()
    assert [x["id"] for x in queue["cases"]] == [xss_case] and queue["counts"]["escalated"] == 1
    assert verdict(c, xss_case, verdict="dismiss", note="a partner's test").json()["case"]["status"] == "dismissed"
    assert list(AuditEntry.objects.filter(case_id=xss_case).values_list("verdict", flat=True)) == [
        "escalate",
        "dismiss",
    ]


def test_a_bulk_verdict_covers_the_chosen_members_of_a_group(as_role, group_case):
    c = as_role("analyst")
    members = [f"{t}:{s}" for t, s in Case.objects.get(pk=group_case).members.values_list("subject_type", "subject")]
    assert len(members) >= 3
    size = VERDICTS_FILE.stat().st_size if VERDICTS_FILE.exists() else 0
    first = verdict(c, group_case, verdict="confirm", note="one fleet", members=members[:-1]).json()
    assert first["case"]["status"] == "open" and len(first["verdicts"]) == len(members) - 1
    rest = verdict(c, group_case, verdict="dismiss", note="not part of it", members=members[-1:]).json()
    assert rest["case"]["status"] == "confirmed"
    sent = new_verdicts(size)
    assert [f"{v['subject_type']}:{v['subject']}" for v in sent] == members
    assert [v["verdict"] for v in sent] == ["confirm"] * (len(members) - 1) + ["dismiss"]
    assert all(v["group"].startswith("coordinated_fleet:") for v in sent)


def test_the_audit_log_refuses_changes_in_the_database(as_role, xss_case):
    c = as_role("analyst")
    verdict(c, xss_case, verdict="confirm", note="scraper")
    for change in (lambda: AuditEntry.objects.update(note="rewritten"), lambda: AuditEntry.objects.all().delete()):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            change()
    assert list(AuditEntry.objects.values_list("note", flat=True)) == ["scraper"]


def test_when_the_verdict_cannot_be_written_nothing_is_recorded(as_role, xss_case, monkeypatch):
    from review import verdicts

    class Broken:
        destination = "kafka:verdicts"

        def send(self, messages):
            raise verdicts.SinkError("verdicts topic verdicts at 127.0.0.1:9: broker not available")

    monkeypatch.setattr(verdicts, "_sink", Broken())
    c = as_role("analyst")
    before = state()
    response = verdict(c, xss_case, verdict="confirm", note="scraper")
    assert response.status_code == 502 and "not recorded: verdicts topic" in response.json()["error"]
    assert state() == before


# --- queue ------------------------------------------------------------------------------------------------


def test_the_queue_sorts_by_risk_filters_and_counts(as_role, world):
    c = as_role("analyst")
    everything = c.get("/api/v1/cases").json()
    risks = [x["risk"] for x in everything["cases"]]
    assert risks == sorted(risks, reverse=True)
    counts = everything["counts"]
    assert counts["block"] + counts["challenge"] + counts["throttle"] == counts["total"]
    assert counts["accounts"] + counts["ips"] == counts["total"]
    for params, check in [
        ("action=block", lambda x: x["action"] == "block"),
        ("reason=coordinated_fleet", lambda x: "coordinated_fleet" in x["reasons"]),
        ("subject_type=ip", lambda x: x["subject_type"] == "ip"),
        (
            "kind=group",
            lambda x: x["kind"] in ("coordinated_fleet", "address_fleet", "bare_fleet") and x["members"] >= 1,
        ),
        ("age_max=1d", lambda x: x["account_age_s"] is not None and x["account_age_s"] <= 86400),
        ("age_min=30d", lambda x: x["account_age_s"] is not None and x["account_age_s"] >= 30 * 86400),
        ("since=2026-01-05T08:30", lambda x: x["last_seen"] >= "2026-01-05T08:30"),
        ("until=2026-01-05T08:10:00Z", lambda x: x["first_seen"] <= "2026-01-05T08:10"),
    ]:
        found = c.get(f"/api/v1/cases?{params}").json()
        assert found["cases"] and all(check(x) for x in found["cases"]), params
        assert found["counts"]["total"] == len(found["cases"]) < counts["total"], params
        assert len([x for x in everything["cases"] if check(x)]) == len(found["cases"]), params


def test_the_members_of_a_fleet_are_one_case_and_no_member_has_another_open_case(world):
    fleet = {k.split(":", 1)[1] for k, v in world.labels.items() if v == "scraper_botnet"}
    flagged = {d.subject for d in DecisionRecord.objects.all() if "coordinated_fleet" in d.reasons}
    assert flagged and flagged <= fleet
    # a member a bare-accounts fleet flagged first stays in that group case (one open case per subject)
    groups = Case.objects.filter(kind__in=("coordinated_fleet", "bare_fleet"))
    assert flagged <= {m for g in groups for m in g.members.values_list("subject", flat=True)}
    assert Case.objects.filter(kind="coordinated_fleet").exists()
    for subject in flagged:
        assert Case.objects.filter(status__in=("open", "escalated"), members__subject=subject).count() == 1


def test_html_from_the_logs_is_escaped_in_the_pages(as_role, xss_case):
    page = as_role("analyst").get(f"/cases/{xss_case}").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and XSS_UA not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "<script" not in page


def test_a_surge_on_the_access_path_is_a_case_an_analyst_can_lift(as_role):
    """A `path` decision (the golden surge, moved into the scenario's hours) is a case: its requests are every
    logged-out profile view, its subject is no one's (shown as it is, even to viewers), its incident report covers
    the surge unless given a range, and a dismiss sends the detector a verdict on the path."""
    from detectors.events import format_ms
    from detectors.features.minutes import PATH
    from detectors.verdicts import parse_verdict
    from review.ingest import ingest_decisions
    from review.models import Event

    golden = Path(__file__).resolve().parents[1] / "golden" / "logged_out_surge" / "expected.jsonl"
    surge = json.loads(golden.read_text())
    views = Event.objects.filter(action="profile_view", account_id__isnull=True)
    at = views.order_by("ts").values_list("ts", flat=True)[views.count() // 2] // 60_000 * 60_000 + 30_000
    surge.update(event_time=format_ms(at), expires_at=format_ms(at + 3_600_000), emitted_at=format_ms(at))
    ingest_decisions([("golden", surge)])
    pk = Case.objects.get(subject_type="path").pk

    shown = conforms(as_role("viewer").get(f"/api/v1/cases/{pk}"), "/api/v1/cases/{pk}", "get")
    assert [(m["subject_type"], m["subject"]) for m in shown["members"]] == [("path", PATH)]
    logged_out_views = Event.objects.filter(action="profile_view", account_id__isnull=True).count()
    assert shown["summary"]["profile_views"] == shown["summary"]["requests"] == logged_out_views > 1000
    assert shown["population"]["rows"] == [] and shown["linked"] == {"addresses": [], "networks": [], "user_agents": []}
    report = conforms(as_role("viewer").get(f"/api/v1/cases/{pk}/report"), "/api/v1/cases/{pk}/report", "get")
    served = views.filter(status__lt=400)
    during = served.filter(ts__gte=at - 30_000, ts__lte=at + 3_600_000)
    assert (report["since"], report["until"]) == (format_ms(at - 30_000), format_ms(at + 3_600_000))
    assert report["people_accessed"] == during.values("target").distinct().count() > 10  # whose data the surge served
    everyone = served.values("target").distinct().count()
    assert report["people_accessed"] < everyone  # not everyone any logged-out visitor ever saw
    since = format_ms(views.order_by("ts").values_list("ts", flat=True)[0])
    given = as_role("viewer").get(f"/api/v1/cases/{pk}/report", {"since": since, "until": "2100-01-01T00:00:00Z"})
    assert given.json()["people_accessed"] == everyone
    c = as_role("analyst")
    page = c.get(f"/cases/{pk}").content.decode()
    assert "blocks every logged-out profile view" in page and 'id="allowlist"' not in page
    assert conforms(c.get("/api/v1/cases?subject_type=path"), "/api/v1/cases", "get")["counts"]["total"] == 1

    before = state()
    refused = verdict(c, pk, verdict="dismiss", note="a campaign", allowlist=True)
    assert refused.status_code == 400 and "cannot be allowlisted" in refused.json()["error"]
    assert state() == before
    size = VERDICTS_FILE.stat().st_size if VERDICTS_FILE.exists() else 0
    assert verdict(c, pk, verdict="dismiss", note="a TV mention, not a crawl").json()["case"]["status"] == "dismissed"
    [sent] = new_verdicts(size)
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "verdict.v1.json").read_text())
    Draft202012Validator(schema).validate(sent)
    assert parse_verdict(json.dumps(sent))[1:] == ("path", PATH, "dismiss")
    assert sent["decision_id"] == surge["decision_id"]
