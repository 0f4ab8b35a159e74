"""Incident report: what a scraper (one subject, or a group) collected, for legal and privacy teams.

The figure that decides whether a breach must be notified is the number of distinct people whose
data was disclosed: the distinct targets of requests whose action discloses personal data
(`detectors.routes.PERSONAL_DATA_ACTIONS`) and names the person (the route's `target`: a profile id for
profile pages and profile APIs, the phone number or e-mail address as sent for look-ups) that were served
(status below 400, as `scrapeguard evaluate` counts served views), not counting an account's view
of its own profile. Targets requested but refused or not found are reported apart. Search results and
contact imports disclose people's data too but name no one in the request, so they appear among the
categories (requests, served), not in the count of people.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from detectors.events import format_ms
from detectors.routes import PERSONAL_DATA_ACTIONS

CATEGORIES = {
    "profile_view": "personal data: profile",
    "lookup": "personal data: look-up by phone or e-mail",
    "contact_import": "personal data: contact import",
    "search": "personal data: search results",
    "feed": "feed",
    "auth": "authentication",
    "static": "static assets",
    "other": "other pages",
}


class Request(NamedTuple):
    """The fields of a stored event the report reads."""

    ts: int
    ip: str
    network: str
    account_id: str | None
    path: str
    status: int
    action: str
    target: str | None


def served(status: int) -> bool:
    """Whether the response carried the page (as `scrapeguard evaluate` counts served views)."""
    return status < 400


def discloses(r: Request) -> bool:
    """Whether the request disclosed a person's data (see module docstring)."""
    return r.action in PERSONAL_DATA_ACTIONS and bool(r.target) and served(r.status) and r.target != r.account_id


def category(action: str, path: str) -> str:
    """The data category of an endpoint: what the action serves, and whether through the web pages or the API.

    >>> category("profile_view", "/api/v1/users/7"), category("profile_view", "/u/7")
    ('personal data: profile (API)', 'personal data: profile (web page)')
    """
    channel = "API" if path.startswith("/api/") else "web page"
    return f"{CATEGORIES.get(action, action)} ({channel})"


@dataclass
class Report:
    """The incident figures (see `build`)."""

    subjects: list[tuple[str, str]]
    since: int | None
    until: int | None
    people: list[str] = field(default_factory=list)
    refused_people: list[str] = field(default_factory=list)
    requests: int = 0
    served_requests: int = 0
    personal_data_requests: int = 0
    first_seen: int | None = None
    last_seen: int | None = None
    categories: dict[str, dict[str, int]] = field(default_factory=dict)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    networks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def people_count(self) -> int:
        return len(self.people)


def build(requests: Iterable[Request], subjects: list[tuple[str, str]], since: int | None, until: int | None) -> Report:
    """The report over the subjects' requests (already limited to `since`..`until`, epoch ms, inclusive)."""
    report = Report(subjects, since, until)
    people: set[str] = set()
    requested: set[str] = set()
    cats: dict[str, Counter[str]] = defaultdict(Counter)
    cat_people: dict[str, set[str]] = defaultdict(set)
    by_ip: dict[str, list[int]] = {}
    by_net: dict[str, set[str]] = defaultdict(set)
    net_requests: Counter[str] = Counter()
    for r in requests:
        report.requests += 1
        report.first_seen = r.ts if report.first_seen is None else min(report.first_seen, r.ts)
        report.last_seen = r.ts if report.last_seen is None else max(report.last_seen, r.ts)
        cat = category(r.action, r.path)
        cats[cat]["requests"] += 1
        if served(r.status):
            report.served_requests += 1
            cats[cat]["served"] += 1
        if r.action in PERSONAL_DATA_ACTIONS and r.target and r.target != r.account_id:
            report.personal_data_requests += 1
            requested.add(r.target)
        if discloses(r):
            people.add(r.target)  # type: ignore[arg-type]
            cat_people[cat].add(r.target)  # type: ignore[arg-type]
        seen = by_ip.get(r.ip)
        if seen is None:
            by_ip[r.ip] = [1, r.ts, r.ts]
        else:
            seen[0] += 1
            seen[1], seen[2] = min(seen[1], r.ts), max(seen[2], r.ts)
        by_net[r.network].add(r.ip)
        net_requests[r.network] += 1
    report.people = sorted(people)
    report.refused_people = sorted(requested - people)
    report.categories = {
        cat: {"requests": c["requests"], "served": c["served"], "people": len(cat_people[cat])}
        for cat, c in sorted(cats.items())
    }
    report.addresses = [
        {"ip": ip, "requests": n, "first_seen": format_ms(first), "last_seen": format_ms(last)}
        for ip, (n, first, last) in sorted(by_ip.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    report.networks = [
        {"network": net, "requests": net_requests[net], "addresses": len(ips)}
        for net, ips in sorted(by_net.items(), key=lambda kv: (-net_requests[kv[0]], kv[0]))
    ]
    return report
