"""Coordination: crawls spread over many subjects that each stay under every per-subject limit.

Layers keyed by the group they describe, so the Flink job runs them in parallel:

- `Coordination`: fleets of accounts that share a user agent and a creation hour and crawl
  disjoint id ranges (below);
- `AddressFleet`: logged-out crawls spread over many addresses that together walk a block of
  profile ids;
- `BareAccounts`: accounts that share a user agent or a network and all browse bare (profile
  pages with no assets and no referers, in a browser).

A botnet spreads its crawl over many accounts so that each stays under every per-account
limit. What gives it away is what the members share. Accounts are grouped into cohorts by
(user agent, hour the account was created): `cohort_key`. Within a cohort, a member is
*crawling* when it viewed at least `min_views_1h` profiles in the last hour and its targets
are dense in their id range (`target_density_1h`). When at least `min_members` crawling
members of a cohort have pairwise disjoint id ranges, each of them gets a
`coordinated_fleet` hit.

State is per cohort, so the Flink job keys this layer by `cohort_key` and runs it in
parallel; one instance may also hold every cohort (the reference run).

>>> c = Coordination(min_members=3)
>>> f = {"views_1h": 12, "target_density_1h": 0.7, "user_agent": "bot-ua",
...      "account_created_at": "2026-01-05T07:10:00.000Z", "network": "10.192.0.0/24"}
>>> for i in range(3):
...     row = {**f, "target_min_1h": 100 * i, "target_max_1h": 100 * i + 20}
...     c.observe(f"m{i}", 1000 * i, row)
>>> c.hits("m2", 2000, row)[0].reason
'coordinated_fleet'
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from itertools import pairwise
from typing import Any, NamedTuple

from detectors.absence import KINDS
from detectors.layers import Hit, Layer

HOUR_MS = 3_600_000


class Flag(NamedTuple):
    """A group's finding on one subject: a scorer row for it with these hits, at `ts`."""

    subject_type: str
    subject: str
    ts: int
    hits: list[Hit]


def cohort_key(features: dict[str, Any]) -> str | None:
    """The cohort of an account row: `<creation hour>|<user agent>`, or None without both."""
    ua, created = features.get("user_agent"), features.get("account_created_at")
    return f"{created[:13]}|{ua}" if ua and created else None


class Coordination(Layer):
    """Cohorts of recently crawling accounts (see module docstring)."""

    layer = "coordination"

    def __init__(
        self, min_members: int = 3, min_views_1h: int = 5, min_density: float = 0.2, action: str = "block"
    ) -> None:
        self.min_members, self.min_views, self.min_density, self.action = min_members, min_views_1h, min_density, action
        self.cohorts: dict[str, dict[str, tuple[int, int, int, str]]] = {}
        self._remember(min_members=min_members, min_views_1h=min_views_1h, min_density=min_density, action=action)

    def key(self, features: dict[str, Any]) -> str | None:
        """The group of a row: its cohort."""
        return cohort_key(features)

    def flagged(self, subject: str, ts: int, features: dict[str, Any]) -> list[Flag]:
        """The row's hits as a `Flag` (only this account: the others are flagged at their own rows)."""
        hits = self.hits(subject, ts, features)
        return [Flag(self.subject_type, subject, ts, hits)] if hits else []

    def crawling(self, features: dict[str, Any]) -> bool:
        """Whether an account row counts as crawling (the only rows that can change a cohort's fleet)."""
        return (
            (features.get("views_1h") or 0) >= self.min_views
            and (features.get("target_density_1h") or 0.0) >= self.min_density
            and features.get("target_min_1h") is not None
            and features.get("target_max_1h") is not None
        )

    def observe(self, subject: str, ts: int, features: dict[str, Any]) -> None:
        """Record the account's latest behaviour in its cohort."""
        key = cohort_key(features)
        if key is None:
            return
        cohort = self.cohorts.setdefault(key, {})
        if self.crawling(features):
            lo, hi = int(features["target_min_1h"]), int(features["target_max_1h"])
            cohort[subject] = (ts, lo, hi, str(features.get("network", "")))
        else:
            cohort.pop(subject, None)
        self._expire(key, ts)

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        """A `coordinated_fleet` hit when the crawling account belongs to a fleet."""
        key = cohort_key(features)
        cohort = self.cohorts.get(key or "", {})
        if subject not in cohort or len(cohort) < self.min_members:
            return []
        ranges = sorted((v[1], v[2]) for v in cohort.values())
        if any(a[1] >= b[0] for a, b in pairwise(ranges)):
            return []
        evidence = {
            "fleet_size": len(cohort),
            "fleet_user_agent": features.get("user_agent"),
            "fleet_created_hour": str(features.get("account_created_at"))[:13] + ":00Z",
            "fleet_networks": len({v[3] for v in cohort.values()}),
            "target_min_1h": features.get("target_min_1h"),
            "target_max_1h": features.get("target_max_1h"),
        }
        return [Hit("coordinated_fleet", self.action, 0.9, evidence)]

    def _expire(self, key: str, now: int) -> None:
        cohort = self.cohorts[key]
        for member in [m for m, v in cohort.items() if v[0] < now - HOUR_MS]:
            del cohort[member]
        if not cohort:
            del self.cohorts[key]


class _Group(Layer):
    """Members of groups, flagged together: once a group is a fleet's (`_fleet`), every member seen in it gets a
    hit at once (`flagged`), those seen before too, and later members at their own row. Subclasses say how a
    row is keyed (`key`), when it is a member (`crawling`) and what a member keeps (`_value`)."""

    reason = ""

    def __init__(self, min_members: int, window_minutes: int, action: str) -> None:
        self.min_members, self.window, self.action = min_members, window_minutes * 60_000, action
        self.groups: dict[str, dict[str, tuple[int, Any]]] = {}  # group key -> member -> (last ts, value)
        self.acted: dict[str, set[str]] = {}  # group key -> members already flagged

    def key(self, features: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def crawling(self, features: dict[str, Any]) -> bool:
        raise NotImplementedError

    def observe(self, subject: str, ts: int, features: dict[str, Any]) -> None:
        """Record a member row in its group (and forget what left the window)."""
        key = self.key(features)
        if key is None:
            return
        members = self.groups.setdefault(key, {})
        if self.crawling(features):
            members[subject] = (ts, self._value(features))
        else:
            members.pop(subject, None)
        for member in [m for m, v in members.items() if v[0] < ts - self.window]:
            del members[member]
        if not members:
            del self.groups[key]
            self.acted.pop(key, None)

    def hits(self, subject: str, ts: int, features: dict[str, Any]) -> list[Hit]:
        """A hit when the subject is a member of a fleet's group."""
        key = self.key(features) or ""
        members = self._counted(self.groups.get(key, {}))
        if subject not in members or not self._fleet(members):
            return []
        return [self._hit(key, members)]

    def flagged(self, subject: str, ts: int, features: dict[str, Any]) -> list[Flag]:
        """A `Flag` for this row's subject and for every member of its group not flagged before; its `ts` is
        the later of the row's and the member's own last row (a decision never predates what it decides on)."""
        key = self.key(features) or ""
        members = self._counted(self.groups.get(key, {}))
        if not self._fleet(members):
            return []
        acted = self.acted.setdefault(key, set())
        hit = self._hit(key, members)
        out = [Flag(self.subject_type, m, max(ts, members[m][0]), [hit]) for m in sorted(members)
               if m == subject or m not in acted]  # fmt: skip
        acted.update(members)
        return out

    def _value(self, features: dict[str, Any]) -> Any:
        return None

    def _counted(self, members: dict[str, tuple[int, Any]]) -> dict[str, tuple[int, Any]]:
        """The members that count towards a fleet and are acted on (all of them unless a subclass says)."""
        return members

    def _fleet(self, members: dict[str, tuple[int, Any]]) -> bool:
        return len(members) >= self.min_members

    def _hit(self, key: str, members: dict[str, tuple[int, Any]]) -> Hit:
        raise NotImplementedError


class AddressFleet(_Group):
    """Logged-out crawls spread over many addresses, each with a few bare requests.

    A crawl that rents hundreds of residential addresses makes a few dozen requests from each,
    far under any per-address limit. What gives it away is what the addresses do together: they
    walk the profile id space, so many addresses view distinct ids of one small block of ids
    within the hour, and their requests share a shape no person's visit has: profile pages only,
    no assets, no referer. A row is *bare* when the address's last ten minutes hold logged-out
    profile views with numeric ids, no asset (`static_share_10m` 0), no referer on at least 90 %
    of them and no declared crawler. Bare rows are grouped by the block of ids (`block` ids wide)
    of the minute's lowest id, `block_key`. When at least `min_members` bare addresses viewed at
    least `min_members` distinct ids of one block within `window_minutes`, the block is a fleet's,
    and every address seen in it gets an `address_fleet` hit: those seen before too, at once
    (`flagged`), so the first addresses of a round are not left to go on.

    A walk gives each id to one address. Many bare addresses on one id are a shared link being
    fetched (the previews of a post, from every server that shows it), not a walk: an id that more
    than `max_per_id` of the block's addresses viewed counts for none of them, and none of them
    is acted on, even in a block that a crawl makes a fleet's. The count holds the whole minute
    being taken (`ahead`), so the first fetchers of a minute are not taken for walkers before
    the rest of it is seen.

    >>> fleet = AddressFleet(min_members=3)
    >>> bare = {"logged_out_views_1m": 1, "static_share_10m": 0.0, "noref_share_10m": 1.0,
    ...         "crawler_ua_share_10m": 0.0}
    >>> for i in range(3):
    ...     row = {**bare, "target_min_1m": 5120 + i}
    ...     fleet.observe(f"10.0.{i}.7", 60_000 * i, row)
    >>> [(flag.subject, flag.hits[0].reason) for flag in fleet.flagged("10.0.2.7", 120_000, row)]
    [('10.0.0.7', 'address_fleet'), ('10.0.1.7', 'address_fleet'), ('10.0.2.7', 'address_fleet')]
    """

    layer = "coordination"
    subject_type = "ip"
    reason, range_reason = "address_fleet", "address_fleet_range"
    reasons, rests_on = (reason, range_reason), KINDS  # bare addresses: no assets and no referer

    def __init__(
        self,
        block: int = 256,
        min_members: int = 12,
        window_minutes: int = 60,
        action: str = "challenge",
        range_min_addresses: int = 0,
        prefix_v4: int = 24,
        prefix_v6: int = 48,
        range_action: str = "challenge",
        max_per_id: int = 3,
    ) -> None:
        super().__init__(min_members, window_minutes, action)
        self.block, self.max_per_id = block, max_per_id
        self.range_min, self.prefix, self.range_action = range_min_addresses, {4: prefix_v4, 6: prefix_v6}, range_action
        self.acted_ranges: dict[str, set[str]] = {}  # group key -> ranges already flagged
        self.coming: dict[str, int] = {}  # the row time's bare rows: address -> id (`ahead`)
        self._remember(block=block, min_members=min_members, window_minutes=window_minutes, action=action,
                       range_min_addresses=range_min_addresses, prefix_v4=prefix_v4, prefix_v6=prefix_v6,
                       range_action=range_action, max_per_id=max_per_id)  # fmt: skip

    def key(self, features: dict[str, Any]) -> str | None:
        """The group of a row: its block of ids."""
        return block_key(features, self.block)

    def crawling(self, features: dict[str, Any]) -> bool:
        """Whether a row is bare (see the class docstring)."""
        return (
            (features.get("logged_out_views_1m") or 0) >= 1
            and features.get("target_min_1m") is not None
            and features.get("static_share_10m") == 0.0
            and (features.get("noref_share_10m") or 0.0) >= 0.9
            and not features.get("crawler_ua_share_10m")
        )

    def _value(self, features: dict[str, Any]) -> Any:
        return int(features["target_min_1m"])

    def ahead(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """The ids of the row time's bare rows, by address, for `_counted`."""
        self.coming = {subject: self._value(f) for subject, f in rows if self.crawling(f)}

    def _counted(self, members: dict[str, tuple[int, Any]]) -> dict[str, tuple[int, Any]]:
        """The members on an id that at most `max_per_id` addresses viewed, of the members and the row time's
        bare rows."""
        per_id = Counter({**{m: v[1] for m, v in members.items()}, **self.coming}.values())
        return {m: v for m, v in members.items() if per_id[v[1]] <= self.max_per_id}

    def _fleet(self, members: dict[str, tuple[int, Any]]) -> bool:
        return super()._fleet(members) and len({v[1] for v in members.values()}) >= self.min_members

    def _hit(self, key: str, members: dict[str, tuple[int, Any]]) -> Hit:
        lo = int(key.split(":")[1]) * self.block
        evidence = {"fleet_size": len(members), "fleet_ids": f"{lo}-{lo + self.block - 1}",
                    "fleet_distinct_ids": len({v[1] for v in members.values()})}  # fmt: skip
        return Hit(self.reason, self.action, 0.9, evidence)

    def observe(self, subject: str, ts: int, features: dict[str, Any]) -> None:
        super().observe(subject, ts, features)
        key = self.key(features)
        if key is not None and key not in self.groups:
            self.acted_ranges.pop(key, None)

    def flagged(self, subject: str, ts: int, features: dict[str, Any]) -> list[Flag]:
        """The members' `Flag`s and, with range scope (`range_min_addresses` > 0), a `network` one for each
        range (`range_of`) that holds at least that many of the fleet's addresses: when it reaches them, and
        again at each row of an address in it (so a range stays acted on while its addresses crawl)."""
        out = super().flagged(subject, ts, features)
        if not out or not self.range_min:
            return out
        key = self.key(features) or ""
        members = self._counted(self.groups[key])
        ranges: dict[str, list[str]] = {}
        for member in members:
            ranges.setdefault(self.range_of(member), []).append(member)
        acted = self.acted_ranges.setdefault(key, set())
        own = self.range_of(subject)
        fleet = self._hit(key, members).evidence
        for net, addresses in sorted(ranges.items()):
            if len(addresses) >= self.range_min and (net == own or net not in acted):
                acted.add(net)
                hit = Hit(self.range_reason, self.range_action, 0.9,
                          {"network": net, "range_addresses": len(addresses), **fleet})  # fmt: skip
                out.append(Flag("network", net, max(ts, *(members[a][0] for a in addresses)), [hit]))
        return out

    def range_of(self, address: str) -> str:
        """The network range of an address: `10.1.2.0/24` (by `prefix_v4` / `prefix_v6`)."""
        version = 6 if ":" in address else 4
        return str(ipaddress.ip_network(f"{address}/{self.prefix[version]}", strict=False))


class BareAccounts(_Group):
    """Accounts that share a user agent (`by = "user_agent"`) or a network (`by = "network"`) and browse bare.

    Fleets of aged accounts that each stay under every limit (a few views a turn on shared
    addresses, or a slow pace on home addresses) are alike in two ways: what they share (the
    client the operator runs, or the addresses it rents) and a shape no person's hour has. An
    account row is *bare* when its last hour holds at least `min_views_1h` views of other
    profiles, claimed by a browser (`browser_share_1h` >= 0.9) that loaded no asset
    (`static_share_1h` <= 0.02) and sent no referer on at least 90 % of them. Bare alone is
    evidence, not a verdict: when at least `min_members` bare accounts share the group within
    `window_minutes`, each of them gets a `bare_fleet_<by>` hit (those seen before at once).

    >>> b = BareAccounts("network", min_members=2)
    >>> row = {"views_1h": 6, "browser_share_1h": 1.0, "static_share_1h": 0.0, "noref_share_1h": 1.0,
    ...        "network": "10.0.1.0/24"}
    >>> b.observe("a1", 0, row)
    >>> b.flagged("a1", 0, row)
    []
    >>> b.observe("a2", 60_000, row)
    >>> [(f.subject, f.hits[0].evidence["network_fleet"]) for f in b.flagged("a2", 60_000, row)]
    [('a1', '10.0.1.0/24'), ('a2', '10.0.1.0/24')]
    """

    layer = "coordination"

    def __init__(
        self, by: str, min_members: int = 4, min_views_1h: int = 5, window_minutes: int = 60, action: str = "challenge"
    ) -> None:
        super().__init__(min_members, window_minutes, action)
        self.by, self.min_views, self.reason = by, min_views_1h, f"bare_fleet_{by}"
        self.reasons, self.rests_on = (self.reason,), KINDS  # bare accounts: no assets and no referer
        self._remember(by=by, min_members=min_members, min_views_1h=min_views_1h, window_minutes=window_minutes,
                       action=action)  # fmt: skip

    def _hit(self, key: str, members: dict[str, tuple[int, Any]]) -> Hit:
        evidence = {f"{self.by}_fleet_size": len(members), f"{self.by}_fleet": key.split(":", 1)[1]}
        return Hit(self.reason, self.action, 0.9, evidence)

    def key(self, features: dict[str, Any]) -> str | None:
        """The group of a row: `<by>:<its user agent or network>`."""
        value = features.get(self.by)
        return f"{self.by}:{value}" if value else None

    def crawling(self, features: dict[str, Any]) -> bool:
        """Whether an account row is bare (see the class docstring)."""
        return (
            (features.get("views_1h") or 0) >= self.min_views
            and (features.get("browser_share_1h") or 0.0) >= 0.9
            and features.get("static_share_1h") is not None
            and features["static_share_1h"] <= 0.02
            and (features.get("noref_share_1h") or 0.0) >= 0.9
        )


def block_key(features: dict[str, Any], block: int) -> str | None:
    """`ids:<n>`: the block of `block` ids holding the row's lowest id of the minute (None without one)."""
    lo = features.get("target_min_1m")
    return None if lo is None else f"ids:{int(lo) // block}"
