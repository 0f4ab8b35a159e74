"""The queue: open cases sorted by risk, with filters and counts (shared by the page and the API)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from detectors.config import ConfigError, parse_duration
from detectors.verdicts import SUBJECT_TYPES
from review.models import IN_QUEUE, STATUSES, Case

PAGE_SIZE = 50
ACTIONS = ("throttle", "challenge", "block")
_REASON = re.compile(r"^[a-z0-9_]{1,80}$")
FILTERS = ("action", "reason", "subject_type", "kind", "status", "age_min", "age_max", "since", "until", "page")


class FilterError(ValueError):
    """A filter value that cannot be used; the message names the parameter."""


@dataclass
class Filters:
    """The queue's filters, parsed."""

    action: str = ""
    reason: str = ""
    subject_type: str = ""
    kind: str = ""
    status: str = ""
    age_min: str = ""
    age_max: str = ""
    since: str = ""
    until: str = ""
    page: int = 1

    def query(self) -> Q:
        q = Q(status__in=IN_QUEUE) if not self.status else Q(status=self.status)
        if self.action:
            q &= Q(action=self.action)
        if self.reason:
            q &= Q(reasons__contains=f"|{self.reason}|")
        if self.subject_type:
            q &= Q(subject_type=self.subject_type)
        if self.kind == "group":
            q &= ~Q(kind="subject")
        elif self.kind == "subject":
            q &= Q(kind="subject")
        if self.age_min:
            q &= Q(account_age_s__gte=parse_duration(self.age_min) / 1000)
        if self.age_max:
            q &= Q(account_age_s__lte=parse_duration(self.age_max) / 1000)
        if self.since:
            q &= Q(last_seen__gte=parse_time(self.since, "since"))
        if self.until:
            q &= Q(first_seen__lte=parse_time(self.until, "until"))
        return q

    def as_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v and k != "page"}


def parse_filters(params: Any) -> Filters:
    """Filters from query parameters; `FilterError` naming the bad one."""
    unknown = sorted(set(params) - set(FILTERS) - {"format"})
    if unknown:
        raise FilterError(f"unknown parameter(s): {', '.join(unknown)}; the filters are {', '.join(FILTERS)}")
    f = Filters(**{k: params.get(k, "").strip() for k in FILTERS if k != "page"})
    choices = {
        "action": ACTIONS,
        "subject_type": SUBJECT_TYPES,
        "kind": ("subject", "group"),
        "status": STATUSES,
    }
    for name, allowed in choices.items():
        value = getattr(f, name)
        if value and value not in allowed:
            raise FilterError(f"parameter '{name}' must be one of {', '.join(allowed)}, not {value!r}")
    if f.reason and not _REASON.match(f.reason):
        raise FilterError(f"parameter 'reason' is not a reason code ({f.reason[:80]!r})")
    for name in ("age_min", "age_max"):
        if getattr(f, name):
            try:
                parse_duration(getattr(f, name), name)
            except (ConfigError, ValueError):
                raise FilterError(f"parameter '{name}' is not a duration such as 30m, 6h or 7d") from None
    for name in ("since", "until"):
        if getattr(f, name):
            parse_time(getattr(f, name), name)
    page = params.get("page", "1")
    if not str(page).isdigit() or int(page) < 1:
        raise FilterError(f"parameter 'page' must be a positive integer, not {page!r}")
    f.page = int(page)
    return f


def parse_time(text: str, name: str) -> datetime:
    """RFC 3339, or a date or date-time without offset (taken as UTC)."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"parameter '{name}' is not a date or date-time ({text[:40]!r})") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def page(filters: Filters) -> dict[str, Any]:
    """One page of matching cases, riskiest first, with the counts of all matching cases."""
    cases: QuerySet[Case] = Case.objects.filter(filters.query())
    counts = cases.aggregate(
        total=Count("id"),
        groups=Count("id", filter=~Q(kind="subject")),
        accounts=Count("id", filter=Q(subject_type="account")),
        ips=Count("id", filter=Q(subject_type="ip")),
        escalated=Count("id", filter=Q(status="escalated")),
        **{a: Count("id", filter=Q(action=a)) for a in ACTIONS},
    )
    start = (filters.page - 1) * PAGE_SIZE
    rows = list(cases.order_by("-risk", "-last_seen", "-pk")[start : start + PAGE_SIZE])
    pages = max(1, -(-counts["total"] // PAGE_SIZE))
    return {"cases": rows, "counts": counts, "page": filters.page, "pages": pages}


def reason_codes() -> list[str]:
    """Every reason code on a case in the queue (for the filter's choices)."""
    combos = Case.objects.filter(status__in=IN_QUEUE).values_list("reasons", flat=True).distinct()
    return sorted({r for combo in combos for r in combo.split("|") if r})
