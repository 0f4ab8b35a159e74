"""A case as the page and the API show it, and its incident report; identifiers shown in full or pseudonymised."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from django.conf import settings

from detectors.events import format_ms
from review import evidence, incident
from review.access import role_of
from review.models import AuditEntry, Case
from review.pseudonyms import Identifiers
from review.queue import FilterError, parse_time


def identifiers(user: Any, pseudonymise: bool = False) -> Identifiers:
    """Full identifiers for analysts and admins (unless they ask for pseudonyms), pseudonyms for viewers."""
    full = role_of(user) in ("analyst", "admin") and not pseudonymise
    return Identifiers(full=full, key=settings.PSEUDONYM_KEY)


def _ms(dt: datetime | None) -> int | None:
    return None if dt is None else round(dt.timestamp() * 1000)


def case_summary(case: Case, ids: Identifiers) -> dict[str, Any]:
    """The queue row of a case."""
    return {
        "id": case.pk,
        "kind": case.kind,
        "label": case.label if case.is_group else ids.subject(case.subject_type, case.subject),
        "status": case.status,
        "subject_type": case.subject_type,
        "subject": ids.subject(case.subject_type, case.subject) if case.subject else None,
        "action": case.action,
        "score": case.score,
        "risk": round(case.risk, 4),
        "reasons": case.reason_list,
        "members": case.member_count,
        "decisions": case.decision_count,
        "account_age_s": case.account_age_s,
        "first_seen": format_ms(_ms(case.first_seen)),  # type: ignore[arg-type]
        "last_seen": format_ms(_ms(case.last_seen)),  # type: ignore[arg-type]
    }


def decision_json(d: Any, ids: Identifiers) -> dict[str, Any]:
    v1 = d.as_v1()
    v1["subject"] = ids.subject(d.subject_type, d.subject)
    return v1


def audit_json(a: AuditEntry, ids: Identifiers) -> dict[str, Any]:
    return {
        "at": format_ms(_ms(a.at)),  # type: ignore[arg-type]
        "analyst": a.analyst,
        "role": a.role,
        "case": a.case_id,
        "verdict": a.verdict,
        "subject_type": a.subject_type,
        "subject": ids.subject(a.subject_type, a.subject),
        "ts": format_ms(a.ts),
        "note": a.note,
        "allowlist": a.allowlist,
        "verdict_id": a.verdict_id,
        "destination": a.destination,
    }


def detail(case: Case, ids: Identifiers) -> dict[str, Any]:
    """Everything the case page shows, as data."""
    members = evidence.members_of(case)
    decisions = evidence.history(members)
    summary = evidence.summary(members)
    last = max((d.event_time for d in decisions if d.action != "unblock"), default=case.last_seen)
    linked = evidence.linked(members)
    verdict_of = dict(((m.subject_type, m.subject), m.verdict) for m in case.members.all())
    return {
        "case": case_summary(case, ids),
        "members": [
            {"subject_type": t, "subject": ids.subject(t, s), "verdict": verdict_of.get((t, s), "")} for t, s in members
        ],
        "summary": {
            "requests": summary["requests"],
            "profile_views": summary["views"],
            "distinct_profiles_viewed": summary["targets"],
            "first_request": summary["first"],
            "last_request": summary["last"],
            "account_created_at": summary["created"],
            "account_age_s": case.account_age_s,
            "address_count": summary["address_count"],
            "network_count": summary["network_count"],
            "addresses": [{"ip": ids.show("ip", r["ip"]), "requests": r["n"]} for r in summary["addresses"]],
            "networks": [
                {"network": ids.show("network", r["network"]), "requests": r["n"], "addresses": r["a"]}
                for r in summary["networks"]
            ],
            "user_agents": [{"user_agent": r["user_agent"], "requests": r["n"]} for r in summary["user_agents"]],
        },
        "explanations": [
            {
                "decision_id": e["decision"].decision_id,
                "subject": ids.subject(e["decision"].subject_type, e["decision"].subject),
                "action": e["decision"].action,
                "event_time": format_ms(_ms(e["decision"].event_time)),  # type: ignore[arg-type]
                "reasons": e["reasons"],
                "evidence": e["evidence"],
                "features": e["features"],
            }
            for e in evidence.explanations(decisions)
        ],
        "population": evidence.population(members, _ms(last) or 0),
        "linked": {
            kind: [
                {"account": ids.show("account", r["account"]), "requests": r["requests"], "case": r["case"]}
                for r in rows
            ]
            for kind, rows in linked.items()
        },
        "decisions": [decision_json(d, ids) for d in decisions],
        "audit": [audit_json(a, ids) for a in AuditEntry.objects.filter(case=case).order_by("at", "pk")],
    }


def sample_json(case: Case, ids: Identifiers, size: int = 40) -> list[dict[str, Any]]:
    """The sample of raw requests; for viewers the people in paths are pseudonymised and referers left out."""
    return [
        {
            "ts": format_ms(e.ts),
            "ip": ids.show("ip", e.ip),
            "account_id": ids.show("account", e.account_id),
            "method": e.method,
            "path": ids.path(e.path, e.target),
            "status": e.status,
            "user_agent": e.user_agent,
            "referer": e.referer if ids.full else None,
            "action": e.action,
        }
        for e in evidence.sample(evidence.members_of(case), size)
    ]


def report_range(params: Any) -> tuple[int | None, int | None]:
    """`since`/`until` query parameters to epoch ms (inclusive); `FilterError` naming the bad one."""
    since = parse_time(params["since"], "since") if params.get("since") else None
    until = parse_time(params["until"], "until") if params.get("until") else None
    if since and until and since > until:
        raise FilterError("parameter 'since' is after 'until'")
    return _ms(since), _ms(until)


def surge_range(case: Case) -> tuple[int, int]:
    """A path case's surge, in epoch ms: from the start of its first decided minute to the lapse of its last
    decision. Its requests are every logged-out profile view, so the whole store would name everyone any visitor
    ever saw."""
    start = _ms(case.first_seen) or 0
    end = max(_ms(d) or 0 for d in case.decisions.values_list("expires_at", flat=True))
    return start - start % 60_000, end


def report(case: Case, ids: Identifiers, since: int | None, until: int | None) -> dict[str, Any]:
    """The incident report of a case over a time range (see `review.incident`); on a path case a bound not given
    is the surge's (`surge_range`)."""
    if case.subject_type == "path" and (since is None or until is None):
        start, end = surge_range(case)
        since, until = start if since is None else since, end if until is None else until
    members = evidence.members_of(case)
    r = incident.build(evidence.report_rows(members, since, until), members, since, until)
    return {
        "case": case.pk,
        "label": case.label if case.is_group else ids.subject(case.subject_type, case.subject),
        "status": case.status,
        "pseudonymised": not ids.full,
        "subjects": [{"subject_type": t, "subject": ids.subject(t, s)} for t, s in members],
        "since": format_ms(since) if since is not None else None,
        "until": format_ms(until) if until is not None else None,
        "people_accessed": r.people_count,
        "people_definition": (
            "distinct people whose profile was served (status < 400) through a page or API that discloses personal "
            "data, own profile excluded"
        ),
        "people_requested_not_served": len(r.refused_people),
        "requests": r.requests,
        "served_requests": r.served_requests,
        "personal_data_requests": r.personal_data_requests,
        "first_seen": format_ms(r.first_seen) if r.first_seen is not None else None,
        "last_seen": format_ms(r.last_seen) if r.last_seen is not None else None,
        "categories": [{"category": c, **v} for c, v in r.categories.items()],
        "addresses": [{**a, "ip": ids.show("ip", a["ip"])} for a in r.addresses],
        "networks": [{**n, "network": ids.show("network", n["network"])} for n in r.networks],
        "people": [ids.show("account", p) for p in r.people],
    }


def report_csv(data: dict[str, Any]) -> str:
    """The report as CSV: one `section,name,value,...` row per figure, category, address, network and person."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "name", "value", "detail"])
    for key in (
        "case",
        "label",
        "status",
        "pseudonymised",
        "since",
        "until",
        "people_accessed",
        "people_requested_not_served",
        "requests",
        "served_requests",
        "personal_data_requests",
        "first_seen",
        "last_seen",
    ):
        w.writerow(["summary", key, _cell(data[key]), ""])
    for s in data["subjects"]:
        w.writerow(["subject", s["subject_type"], _cell(s["subject"]), ""])
    for c in data["categories"]:
        w.writerow(["category", c["category"], c["requests"], f"served {c['served']}, people {c['people']}"])
    for a in data["addresses"]:
        w.writerow(["address", _cell(a["ip"]), a["requests"], f"{a['first_seen']} .. {a['last_seen']}"])
    for n in data["networks"]:
        w.writerow(["network", _cell(n["network"]), n["requests"], f"{n['addresses']} addresses"])
    for p in data["people"]:
        w.writerow(["person", _cell(p), "", ""])
    return out.getvalue()


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
