"""The pages: login, queue, case, verdicts, incident report, audit log and allowlist requests.

Rendered on the server by Django templates, which escape everything taken from logs; no JavaScript.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods

from review import api, cases, evidence, queue
from review.access import attempt_login, error, requires
from review.models import AllowlistRequest, AuditEntry, Case
from review.verdicts import VerdictError, judge, parse_request


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    nxt = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = "/"
    message = ""
    if request.method == "POST":
        status, message = attempt_login(request, request.POST.get("username", ""), request.POST.get("password", ""))
        if status == 200:
            return redirect(nxt)
        return render(request, "review/login.html", {"message": message, "next": nxt}, status=status)
    return render(request, "review/login.html", {"message": message, "next": nxt})


@require_http_methods(["POST"])
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("/login")


@require_http_methods(["GET"])
def queue_page(request: HttpRequest) -> HttpResponse:
    try:
        filters = queue.parse_filters(request.GET)
        result = queue.page(filters)
    except queue.FilterError as exc:
        return error(request, 400, str(exc))
    ids = cases.identifiers(request.user)
    rows = [cases.case_summary(c, ids) for c in result["cases"]]
    params = filters.as_params()
    return render(
        request,
        "review/queue.html",
        {
            "rows": rows,
            "counts": result["counts"],
            "page": result["page"],
            "pages": result["pages"],
            "filters": filters,
            "reasons": queue.reason_codes(),
            "params": params,
            "query": urlencode(params),
            "actions": queue.ACTIONS,
        },
    )


@require_http_methods(["GET"])
def case_page(request: HttpRequest, pk: int) -> HttpResponse:
    case = Case.objects.filter(pk=pk).first()
    if case is None:
        return error(request, 404, f"case {pk} does not exist")
    ids = cases.identifiers(request.user)
    data = cases.detail(case, ids)
    members = evidence.members_of(case)
    return render(
        request,
        "review/case.html",
        {
            "c": data,
            "case": case,
            "timeline": evidence.timeline_svg(evidence.per_minute(members)),
            "sample": cases.sample_json(case, ids),
            "judgeable": case.status in ("open", "escalated"),
            "merged": list(case.merged.values_list("pk", flat=True)),
            "message": request.GET.get("message", "")[:300],
        },
    )


@requires("analyst")
@require_http_methods(["POST"])
def verdict_page(request: HttpRequest, pk: int) -> HttpResponse:
    data: dict[str, Any] = {
        "verdict": request.POST.get("verdict"),
        "note": request.POST.get("note", ""),
        "allowlist": request.POST.get("allowlist") == "on",
    }
    members = request.POST.getlist("members")
    if members:
        data["members"] = members
    elif "members_shown" in request.POST:
        return error(request, 400, "choose at least one member of the group")
    try:
        entries = judge(pk, parse_request(data), request.user)
    except VerdictError as exc:
        return error(request, exc.status, str(exc))
    what = f"{entries[0].verdict} recorded for {len(entries)} subject{'s' if len(entries) != 1 else ''}"
    return redirect(f"/cases/{pk}?" + urlencode({"message": what}))


@require_http_methods(["GET"])
def report_page(request: HttpRequest, pk: int) -> HttpResponse:
    case = Case.objects.filter(pk=pk).first()
    if case is None:
        return error(request, 404, f"case {pk} does not exist")
    pseudo = request.GET.get("pseudonymise") == "1"
    try:
        since, until = cases.report_range(request.GET)
    except queue.FilterError as exc:
        return error(request, 400, str(exc))
    data = cases.report(case, cases.identifiers(request.user, pseudo), since, until)
    query = urlencode({k: request.GET[k] for k in ("since", "until", "pseudonymise") if request.GET.get(k)})
    return render(request, "review/report.html", {"r": data, "case": case, "query": query})


@requires("admin")
@require_http_methods(["GET"])
def audit_page(request: HttpRequest) -> HttpResponse:
    ids = cases.identifiers(request.user)
    entries = [cases.audit_json(a, ids) for a in AuditEntry.objects.order_by("-at", "-pk")[:500]]
    allow = AllowlistRequest.objects.order_by("-created_at", "-pk")[:500]
    return render(request, "review/audit.html", {"entries": entries, "allow": allow, "toml": api.allowlist_toml()})
