"""The JSON API (`/api/v1/...`, described by `review/openapi.yaml`): the same operations as the pages.

Sessions and CSRF are Django's: log in with POST /api/v1/login, then send the session cookie, and the
`csrftoken` cookie's value as the X-CSRFToken header on every POST. Errors are `{"error": "..."}`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from review import cases, queue
from review.access import attempt_login, error, requires, role_of
from review.ingest import InputError, check_decision, ingest_decisions
from review.models import AllowlistRequest, AuditEntry, Case
from review.verdicts import VerdictError, judge, parse_request

SPEC = Path(__file__).with_name("openapi.yaml")
MAX_BODY = 5_000_000


def _json_body(request: HttpRequest) -> Any:
    if request.content_type != "application/json":
        raise VerdictError(f"the body must be JSON (Content-Type: application/json, not {request.content_type!r})")
    if len(request.body) > MAX_BODY:
        raise VerdictError(f"the body is over {MAX_BODY} bytes", 413)
    try:
        return json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VerdictError(f"the body is not valid JSON ({exc})") from None


def _case(pk: int) -> Case | None:
    return Case.objects.filter(pk=pk).first()


@csrf_exempt  # JSON only: a cross-site form cannot send application/json without a CORS preflight
@require_http_methods(["POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    try:
        body = _json_body(request)
    except VerdictError as exc:
        return error(request, exc.status, str(exc))
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("username"), str)
        or not isinstance(body.get("password"), str)
    ):
        return error(request, 400, 'the body must be {"username": "...", "password": "..."}')
    status, message = attempt_login(request, body["username"], body["password"])
    if status != 200:
        return error(request, status, message)
    return JsonResponse(
        {"username": request.user.get_username(), "role": role_of(request.user), "csrf_token": get_token(request)}
    )


@require_http_methods(["POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return JsonResponse({"logged_out": True})


@ensure_csrf_cookie
@require_http_methods(["GET"])
def me(request: HttpRequest) -> HttpResponse:
    return JsonResponse(
        {"username": request.user.get_username(), "role": role_of(request.user), "csrf_token": get_token(request)}
    )


@require_http_methods(["GET"])
def case_list(request: HttpRequest) -> HttpResponse:
    try:
        filters = queue.parse_filters(request.GET)
        result = queue.page(filters)
    except queue.FilterError as exc:
        return error(request, 400, str(exc))
    ids = cases.identifiers(request.user)
    return JsonResponse(
        {
            "counts": result["counts"],
            "page": result["page"],
            "pages": result["pages"],
            "cases": [cases.case_summary(c, ids) for c in result["cases"]],
        }
    )


@require_http_methods(["GET"])
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    if case is None:
        return error(request, 404, f"case {pk} does not exist")
    return JsonResponse(cases.detail(case, cases.identifiers(request.user)))


@require_http_methods(["GET"])
def case_requests(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    if case is None:
        return error(request, 404, f"case {pk} does not exist")
    size = request.GET.get("size", "40")
    if not size.isdigit() or not 1 <= int(size) <= 500:
        return error(request, 400, f"parameter 'size' must be an integer from 1 to 500, not {size!r}")
    return JsonResponse({"requests": cases.sample_json(case, cases.identifiers(request.user), int(size))})


@requires("analyst")
@require_http_methods(["POST"])
def case_verdict(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        entries = judge(pk, parse_request(_json_body(request)), request.user)
    except VerdictError as exc:
        return error(request, exc.status, str(exc))
    ids = cases.identifiers(request.user)
    case = Case.objects.get(pk=pk)
    return JsonResponse(
        {"case": cases.case_summary(case, ids), "verdicts": [cases.audit_json(e, ids) for e in entries]}
    )


@require_http_methods(["GET"])
def case_report(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(pk)
    if case is None:
        return error(request, 404, f"case {pk} does not exist")
    unknown = set(request.GET) - {"since", "until", "format", "pseudonymise"}
    if unknown:
        return error(request, 400, f"unknown parameter(s): {', '.join(sorted(unknown))}")
    fmt, pseudo = request.GET.get("format", "json"), request.GET.get("pseudonymise", "0")
    if fmt not in ("json", "csv") or pseudo not in ("0", "1"):
        return error(request, 400, "parameter 'format' must be json or csv, and 'pseudonymise' 0 or 1")
    try:
        since, until = cases.report_range(request.GET)
    except queue.FilterError as exc:
        return error(request, 400, str(exc))
    data = cases.report(case, cases.identifiers(request.user, pseudo == "1"), since, until)
    if fmt == "csv":
        response = HttpResponse(cases.report_csv(data), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="incident-case-{pk}.csv"'
        return response
    return JsonResponse(data)


@requires("admin")
@require_http_methods(["GET"])
def audit(request: HttpRequest) -> HttpResponse:
    ids = cases.identifiers(request.user)
    rows = AuditEntry.objects.order_by("-at", "-pk")[:1000]
    return JsonResponse({"entries": [cases.audit_json(a, ids) for a in rows]})


@requires("admin")
@require_http_methods(["GET"])
def allowlist(request: HttpRequest) -> HttpResponse:
    rows = AllowlistRequest.objects.order_by("-created_at", "-pk")
    return JsonResponse(
        {
            "requests": [
                {
                    "subject_type": r.subject_type,
                    "subject": r.subject,
                    "analyst": r.analyst,
                    "case": r.case_id,
                    "note": r.note,
                    "verdict_id": r.verdict_id,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
            ],
            "toml": allowlist_toml(),
        }
    )


def allowlist_toml() -> str:
    """The `[allowlist]` accounts and CIDRs of the detector's config plus every dismissal's request, as TOML."""
    from django.conf import settings

    from detectors.config import load_config

    section = load_config(settings.REVIEW_DETECTOR_CONFIG).section("allowlist")
    accounts = sorted(
        set(section["accounts"])
        | set(AllowlistRequest.objects.filter(subject_type="account").values_list("subject", flat=True))
    )
    ips = AllowlistRequest.objects.filter(subject_type="ip").values_list("subject", flat=True)
    ranges = AllowlistRequest.objects.filter(subject_type="network").values_list("subject", flat=True)
    cidrs = sorted(set(section["cidrs"]) | {ip + ("/128" if ":" in ip else "/32") for ip in ips} | set(ranges))
    return (
        "# Reviewed allowlist requests of the review console; merge into the [allowlist] of your --config.\n"
        "[allowlist]\n"
        f"accounts = {json.dumps(accounts)}\n"
        f"cidrs = {json.dumps(cidrs)}\n"
    )


@requires("admin")
@require_http_methods(["POST"])
def decisions(request: HttpRequest) -> HttpResponse:
    try:
        body = _json_body(request)
    except VerdictError as exc:
        return error(request, exc.status, str(exc))
    if not isinstance(body, list) or not body:
        return error(request, 400, "the body must be a non-empty JSON array of v1 decisions")
    for i, d in enumerate(body):  # all checked before any is stored
        try:
            check_decision(d)
        except InputError as exc:
            return error(request, 400, f"decision {i}: {exc}")
    summary = ingest_decisions((f"decision {i}", d) for i, d in enumerate(body))
    return JsonResponse({"read": summary.read, "added": summary.added, "already_there": summary.duplicates})


@require_http_methods(["GET"])
def openapi(request: HttpRequest, fmt: str) -> HttpResponse:
    text = SPEC.read_text()
    if fmt == "yaml":
        return HttpResponse(text, content_type="application/yaml")
    return JsonResponse(yaml.safe_load(text))
