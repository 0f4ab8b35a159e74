"""Which group case a decision belongs to: one small function per kind of group.

A decision whose subject is one member of a coordinated group is reviewed with the rest of the
group, as one case. Each grouper looks at a v1 decision and returns `(kind, key, label)` or None;
the first that answers wins. A new kind of group is one more function in `GROUPERS`.

>>> d = {"reasons": ["coordinated_fleet"],
...      "evidence": {"fleet_user_agent": "bot/1", "fleet_created_hour": "2026-01-05T07:00Z"}}
>>> group_of(d)
('coordinated_fleet', 'bot/1|2026-01-05T07:00Z', 'user agent bot/1, accounts created 2026-01-05T07:00Z')
>>> group_of({"reasons": ["account_profile_views_1m"], "evidence": {}}) is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Group = tuple[str, str, str]
"""(kind, key, label): the kind of group, its identity within the kind, and what to show."""


def coordinated_fleet(decision: dict[str, Any]) -> Group | None:
    """Accounts of one cohort (same user agent, created in the same hour) that crawl disjoint id ranges."""
    evidence = decision.get("evidence") or {}
    ua, hour = evidence.get("fleet_user_agent"), evidence.get("fleet_created_hour")
    if "coordinated_fleet" not in decision.get("reasons", ()) or not ua or not hour:
        return None
    return "coordinated_fleet", f"{ua}|{hour}", f"user agent {ua}, accounts created {hour}"


def address_fleet(decision: dict[str, Any]) -> Group | None:
    """Addresses (and network ranges) of a logged-out crawl spread over many addresses, by the block of ids they
    walked that day.

    >>> address_fleet({"reasons": ["address_fleet"], "event_time": "2026-01-05T09:12:00.000Z",
    ...                "evidence": {"fleet_ids": "5120-5375"}})
    ('address_fleet', '5120-5375|2026-01-05', 'addresses crawling ids 5120-5375 on 2026-01-05')
    """
    ids, day = (decision.get("evidence") or {}).get("fleet_ids"), str(decision.get("event_time", ""))[:10]
    reasons = set(decision.get("reasons", ()))
    if not reasons & {"address_fleet", "address_fleet_range"} or not ids or not day:
        return None
    return "address_fleet", f"{ids}|{day}", f"addresses crawling ids {ids} on {day}"


def bare_fleet(decision: dict[str, Any]) -> Group | None:
    """Accounts that browse bare and share a user agent or a network, by what they share and the day.

    >>> bare_fleet({"reasons": ["bare_fleet_network"], "event_time": "2026-01-05T09:12:00.000Z",
    ...             "evidence": {"network_fleet": "10.7.1.0/24"}})
    ('bare_fleet', 'network|10.7.1.0/24|2026-01-05', 'bare accounts on network 10.7.1.0/24 on 2026-01-05')
    """
    evidence, day = decision.get("evidence") or {}, str(decision.get("event_time", ""))[:10]
    for by in ("network", "user_agent"):
        shared = evidence.get(f"{by}_fleet")
        if f"bare_fleet_{by}" in decision.get("reasons", ()) and shared and day:
            return "bare_fleet", f"{by}|{shared}|{day}", f"bare accounts on {by.replace('_', ' ')} {shared} on {day}"
    return None


GROUPERS: list[Callable[[dict[str, Any]], Group | None]] = [coordinated_fleet, address_fleet, bare_fleet]


def group_of(decision: dict[str, Any]) -> Group | None:
    """The group the decision's subject is a member of, if any."""
    for grouper in GROUPERS:
        group = grouper(decision)
        if group is not None:
            return group
    return None
