"""What the case page shows, computed from the stored events and decisions of a case's members.

A member's requests are what the detector counts for it: an account's requests, or an address's
(a network range's) logged-out requests (as `detectors.features.minutes` summarises them).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from detectors.events import format_ms
from detectors.verdicts import SUBJECT_TYPES
from review.incident import Request
from review.models import Case, DecisionRecord, Event, Member

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


def members_of(case: Case) -> list[tuple[str, str]]:
    return list(case.members.order_by("subject_type", "subject").values_list("subject_type", "subject"))


def requests_q(members: Iterable[tuple[str, str]], since: int | None = None, until: int | None = None) -> Q:
    """The stored events that are the members' requests, within `since`..`until` (epoch ms, inclusive)."""
    members = list(members)
    accounts = [s for t, s in members if t == "account"]
    ips = [s for t, s in members if t == "ip"]
    networks = stored_networks([s for t, s in members if t == "network"])
    q = Q(pk__in=[])
    if any(t == "path" for t, _ in members):  # the access path: every logged-out profile view (`detectors.surge`)
        q |= Q(action="profile_view", account_id__isnull=True)
    if accounts:
        q |= Q(account_id__in=accounts)
    if ips:
        q |= Q(ip__in=ips, account_id__isnull=True)
    if networks:
        q |= Q(network__in=networks, account_id__isnull=True)
    if since is not None:
        q &= Q(ts__gte=since)
    if until is not None:
        q &= Q(ts__lte=until)
    return q


def stored_networks(ranges: list[str]) -> list[str]:
    """The networks events are stored under (/24, /48: `network_of`) that make up the ranges (which are never
    narrower: the configuration allows prefixes up to /24 and /48)."""
    out = [r for r in ranges if ipaddress.ip_network(r).prefixlen in (24, 48)]
    wide = [ipaddress.ip_network(r) for r in ranges if r not in out]
    if wide:
        for n in Event.objects.values_list("network", flat=True).distinct().iterator():
            net = ipaddress.ip_network(n)
            if any(net.version == w.version and net.subnet_of(w) for w in wide):  # type: ignore[arg-type]
                out.append(n)
    return out


def requests_of(members: list[tuple[str, str]], since: int | None = None, until: int | None = None) -> QuerySet[Event]:
    return Event.objects.filter(requests_q(members, since, until))


def report_rows(members: list[tuple[str, str]], since: int | None, until: int | None) -> Iterable[Request]:
    """The members' requests as incident-report rows."""
    fields = ("ts", "ip", "network", "account_id", "path", "status", "action", "target")
    for row in requests_of(members, since, until).order_by("ts").values_list(*fields).iterator(chunk_size=5000):
        yield Request(*row)


def summary(members: list[tuple[str, str]]) -> dict[str, Any]:
    """Requests, profile views, people viewed, time span, addresses, networks and user agents of the members."""
    events = requests_of(members)
    totals = events.aggregate(
        requests=Count("id"),
        first=Min("ts"),
        last=Max("ts"),
        views=Count("id", filter=Q(action="profile_view")),
        targets=Count("target", distinct=True, filter=Q(action="profile_view")),
        created=Min("account_created_at"),
    )
    top = 15
    ips = list(events.values("ip").annotate(n=Count("id")).order_by("-n", "ip")[: top + 1])
    nets = list(events.values("network").annotate(n=Count("id"), a=Count("ip", distinct=True)).order_by("-n")[:top])
    uas = list(events.values("user_agent").annotate(n=Count("id")).order_by("-n")[:top])
    return {
        **totals,
        "first": format_ms(totals["first"]) if totals["first"] else None,
        "last": format_ms(totals["last"]) if totals["last"] else None,
        "created": format_ms(totals["created"]) if totals["created"] else None,
        "address_count": events.values("ip").distinct().count(),
        "network_count": events.values("network").distinct().count(),
        "addresses": ips[:top],
        "networks": nets,
        "user_agents": uas,
    }


def explanations(decisions: list[DecisionRecord], limit: int = 4) -> list[dict[str, Any]]:
    """The latest decisions (not the analysts' own) with their reason codes, each feature value beside the limit or
    condition it broke, and the features behind them with their population percentile (from the detector: the share
    of all subject-minutes seen with a value at most this one)."""
    out = []
    for d in sorted(decisions, key=lambda d: d.event_time, reverse=True):
        if d.action == "unblock" or len(out) >= limit:
            continue
        evidence = {k: v for k, v in d.evidence.items() if k != "top_features"}
        rows = [
            {"name": k, "value": v, "limit": evidence.get(f"limit_{k}")}
            for k, v in sorted(evidence.items())
            if not k.startswith("limit_")
        ]
        rows += [
            {"name": k, "value": None, "limit": v}
            for k, v in sorted(evidence.items())
            if k.startswith("limit_") and k[6:] not in evidence
        ]
        features = [f for f in d.evidence.get("top_features", []) if isinstance(f, dict)]
        out.append({"decision": d, "reasons": d.reasons, "evidence": rows, "features": features})
    return out


POPULATION_METRICS = (
    ("requests", "requests"),
    ("views", "profile views"),
    ("targets", "distinct profiles viewed"),
    ("addresses", "addresses used"),
)


def population(members: list[tuple[str, str]], until: int) -> dict[str, Any]:
    """The members' figures over the hour before `until`, each against every subject of the same type active in that
    hour: the population's median and 99th percentile, and the member's percentile."""
    subject_type = members[0][0] if members else "account"
    if subject_type == "path":  # one of its kind: its usual level is in the decision's evidence
        return {"subjects": 0, "since": format_ms(until - HOUR_MS), "until": format_ms(until), "rows": []}
    key = {"account": "account_id", "ip": "ip", "network": "network"}[subject_type]
    window = Event.objects.filter(ts__gt=until - HOUR_MS, ts__lte=until)
    window = window.filter(account_id__isnull=subject_type != "account")  # logged-out requests are an address's
    per = (
        window.values(key)
        .annotate(
            requests=Count("id"),
            views=Count("id", filter=Q(action="profile_view")),
            targets=Count("target", distinct=True, filter=Q(action="profile_view")),
            addresses=Count("ip", distinct=True),
        )
        .values_list(key, "requests", "views", "targets", "addresses")
    )
    rows = {r[0]: r[1:] for r in per}
    mine = {s for _, s in members}
    out = []
    for i, (_, label) in enumerate(POPULATION_METRICS):
        values = sorted(v[i] for v in rows.values())
        member_values = [rows[s][i] for s in mine if s in rows]
        if not values:
            continue
        value = max(member_values) if member_values else 0
        out.append(
            {
                "metric": label,
                "value": value,
                "median": _quantile(values, 0.5),
                "p99": _quantile(values, 0.99),
                "percentile": round(100.0 * sum(v <= value for v in values) / len(values), 1),
            }
        )
    return {"subjects": len(rows), "since": format_ms(until - HOUR_MS), "until": format_ms(until), "rows": out}


def _quantile(values: list[int], q: float) -> float:
    return float(values[min(len(values) - 1, int(q * len(values)))])


def per_minute(members: list[tuple[str, str]]) -> list[tuple[int, int, int]]:
    """(minute, requests, profile views) for every minute from the members' first to last request."""
    counts: Counter[int] = Counter()
    views: Counter[int] = Counter()
    for ts, action in requests_of(members).values_list("ts", "action").iterator(chunk_size=5000):
        minute = ts - ts % MINUTE_MS
        counts[minute] += 1
        if action == "profile_view":
            views[minute] += 1
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [(m, counts[m], views[m]) for m in range(first, last + MINUTE_MS, MINUTE_MS)]


def timeline_svg(series: list[tuple[int, int, int]], width: int = 1320, height: int = 170) -> SafeString:
    """Requests (grey bars) and profile views (red line) per minute, as inline SVG drawn on the server."""
    if not series:
        return mark_safe('<p class="muted">No stored requests for this case.</p>')
    left, bottom, top = 44, 28, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(max(c for _, c, _ in series), 1)
    step = plot_w / len(series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="requests and profile views per minute" class="timeline">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, (_, count, _) in enumerate(series):
        h = plot_h * count / peak
        parts.append(
            f'<rect x="{left + i * step:.2f}" y="{top + plot_h - h:.2f}" width="{max(step - 0.3, 0.5):.2f}" '
            f'height="{h:.2f}" fill="#c8ccd4"/>'
        )
    points = " ".join(
        f"{left + (i + 0.5) * step:.2f},{top + plot_h - plot_h * v / peak:.2f}" for i, (_, _, v) in enumerate(series)
    )
    parts.append(f'<polyline points="{points}" fill="none" stroke="#c0392b" stroke-width="1.5"/>')
    for i in sorted({0, len(series) // 2, len(series) - 1}):
        label = escape(format_ms(series[i][0])[11:16])
        parts.append(
            f'<text x="{left + (i + 0.5) * step:.2f}" y="{height - 10}" text-anchor="middle" font-size="11">'
            f"{label}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w}" y="{top + 10}" text-anchor="end" font-size="11">'
        f'<tspan fill="#7f8591">&#9632; requests</tspan> <tspan fill="#c0392b">&#9632; profile views</tspan> '
        f"per minute (UTC)</text></svg>"
    )
    return mark_safe("".join(parts))


def sample(members: list[tuple[str, str]], size: int = 40) -> list[Event]:
    """Up to `size` of the members' requests, evenly spread over their time span, in time order."""
    ids = list(requests_of(members).order_by("ts", "pk").values_list("pk", flat=True))
    if len(ids) > size:
        ids = [ids[round(i * (len(ids) - 1) / (size - 1))] for i in range(size)]
    return list(Event.objects.filter(pk__in=ids).order_by("ts", "pk"))


def linked(members: list[tuple[str, str]], limit: int = 15) -> dict[str, list[dict[str, Any]]]:
    """Accounts outside the case that used the members' addresses, networks or user agents, most requests first, each
    with the open case it is in, if any (none for the access path: every logged-out address uses it)."""
    if any(t == "path" for t, _ in members):
        return {"addresses": [], "networks": [], "user_agents": []}
    events = requests_of(members)
    ips = list(events.values_list("ip", flat=True).distinct()[:500])
    nets = list(events.values_list("network", flat=True).distinct()[:200])
    uas = [u for u in events.values_list("ua_hash", flat=True).distinct()[:50] if u]
    own = [s for t, s in members if t == "account"]
    others = Event.objects.filter(account_id__isnull=False).exclude(account_id__in=own)

    def accounts(q: Q) -> list[dict[str, Any]]:
        rows = list(others.filter(q).values("account_id").annotate(n=Count("id")).order_by("-n", "account_id")[:limit])
        cases = dict(
            Member.objects.filter(
                subject_type="account",
                subject__in=[r["account_id"] for r in rows],
                case__status__in=("open", "escalated"),
            ).values_list("subject", "case_id")
        )
        return [{"account": r["account_id"], "requests": r["n"], "case": cases.get(r["account_id"])} for r in rows]

    return {
        "addresses": accounts(Q(ip__in=ips)) if ips else [],
        "networks": accounts(Q(network__in=nets)) if nets else [],
        "user_agents": accounts(Q(ua_hash__in=uas)) if uas else [],
    }


def history(members: list[tuple[str, str]]) -> list[DecisionRecord]:
    """Every decision on the members, in any case, oldest first."""
    q = Q(pk__in=[])
    for subject_type in SUBJECT_TYPES:
        subjects = [s for t, s in members if t == subject_type]
        if subjects:
            q |= Q(subject_type=subject_type, subject__in=subjects)
    return list(DecisionRecord.objects.filter(q).order_by("event_time", "subject", "decision_id"))
