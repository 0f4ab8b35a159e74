"""Route table: which product action a request path is (profile view, search, feed, ...).

Routes are tried in order; the first whose regular expression matches the path
(query string removed, runs of `/` merged as web servers do) wins. Profile routes
come before asset extensions, so `/u/node.js` is a view of user `node.js`. A
`profile_view` route names its target with the group `(?P<target>...)`; a `lookup`
route names the looked-up identifier with such a group or with `target_params`, the
query parameters that carry it (`phone`, `email`).

Each route says whether a response to it **discloses personal data** (a person's
profile, the person behind a phone number or e-mail address, a page of people in
search results, the matches of a contact import). By default that follows the
action (`PERSONAL_DATA_ACTIONS`); a route may say otherwise with `personal_data`.
The detector and the evaluation both read it from here (`Route.personal_data`,
`RouteTable.discloses`), so it is declared once.

>>> table = RouteTable.default()
>>> table.classify("/api/v2/users/42?fields=bio")
('profile_view', '42')
>>> table.classify("/api/v2/users/42/posts")
('other', None)
>>> table.match("/api/v1/users/lookup?phone=%2B4915112345678")
Route(action='lookup', target='%2B4915112345678', personal_data=True)
>>> table.match("/feed").personal_data
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

ACTIONS = ("profile_view", "search", "feed", "static", "auth", "other", "lookup", "contact_import")

PERSONAL_DATA_ACTIONS = frozenset({"profile_view", "lookup", "contact_import", "search"})
"""Actions whose responses disclose people's data, unless a route says otherwise."""

TARGET_ACTIONS = frozenset({"profile_view", "lookup"})
LOOKUP_ACTIONS = frozenset({"lookup", "contact_import"})
"""Actions that look people up by an identifier they already hold: each one may disclose a person."""
"""Actions whose routes name a target (the profile id, the looked-up identifier)."""

DEFAULT_ROUTES: tuple[dict[str, Any], ...] = (
    {"action": "static", "pattern": r"^/static/"},
    {"action": "lookup", "pattern": r"^/(?:api/v\d+/users/)?lookup/?$", "target_params": ["phone", "email"]},
    {"action": "profile_view", "pattern": r"^/(?:u|users|profile)/(?P<target>[^/]+)/?$"},
    {"action": "profile_view", "pattern": r"^/api/v\d+/users/(?P<target>[^/]+)/?$"},
    {"action": "static", "pattern": r"\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|woff2?|ttf|eot)$"},
    {"action": "contact_import", "pattern": r"^/(?:api/v\d+/)?contacts/import/?$"},
    {"action": "search", "pattern": r"^/search(?:/.*)?$"},
    {"action": "search", "pattern": r"^/api/v\d+/search(?:/.*)?$"},
    {"action": "auth", "pattern": r"^/(?:login|logout|signup|register|auth|oauth)(?:/.*)?$"},
    {"action": "auth", "pattern": r"^/api/v\d+/(?:login|logout|auth|oauth|token)(?:/.*)?$"},
    {"action": "feed", "pattern": r"^/(?:feed|home)?/?$"},
    {"action": "feed", "pattern": r"^/api/v\d+/feed(?:/.*)?$"},
)
_KEYS = {"action", "pattern", "personal_data", "target_params"}

_SLASHES = re.compile(r"/{2,}")


class RouteError(ValueError):
    """A route table entry that cannot be used."""


class Route(NamedTuple):
    """What a path is: its action, its target (profile id or looked-up identifier) and whether it discloses
    personal data."""

    action: str
    target: str | None
    personal_data: bool


@dataclass(frozen=True)
class _Entry:
    action: str
    pattern: re.Pattern[str]
    personal_data: bool
    target_params: tuple[str, ...]


_OTHER = Route("other", None, False)
_CACHE = 1 << 16
"""Paths remembered per table (assets, feeds and searches repeat; profile paths mostly do not)."""


@dataclass(frozen=True)
class RouteTable:
    """An ordered list of routes; unmatched paths are `other` (no personal data)."""

    entries: tuple[_Entry, ...]
    _seen: dict[str, Route] = field(default_factory=dict, compare=False, repr=False)

    @property
    def routes(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        """(action, compiled pattern) per route, in order."""
        return tuple((e.action, e.pattern) for e in self.entries)

    @classmethod
    def default(cls) -> RouteTable:
        """The built-in routes (see module docstring)."""
        return cls.from_config([dict(r) for r in DEFAULT_ROUTES])

    @classmethod
    def from_config(cls, entries: list[dict[str, Any]]) -> RouteTable:
        """Build from `[{action, pattern, personal_data?, target_params?}, ...]`, checking every entry."""
        if not entries:
            raise RouteError("the route table is empty; leave [[routes]] out to use the defaults")
        routes = []
        for i, entry in enumerate(entries, 1):
            if not isinstance(entry, dict):
                raise RouteError(f"route {i}: must be a table with 'action' and 'pattern', not {entry!r}")
            action, pattern = entry.get("action"), entry.get("pattern")
            if action not in ACTIONS:
                raise RouteError(f"route {i}: action {action!r} is not one of {', '.join(ACTIONS)}")
            if not isinstance(pattern, str):
                raise RouteError(f"route {i}: 'pattern' must be a regular expression string")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise RouteError(f"route {i}: pattern {pattern!r} is invalid ({exc})") from None
            unknown = set(entry) - _KEYS
            if unknown:
                raise RouteError(f"route {i}: unknown key(s) {', '.join(sorted(unknown))}")
            personal = entry.get("personal_data", action in PERSONAL_DATA_ACTIONS)
            if not isinstance(personal, bool):
                raise RouteError(f"route {i}: 'personal_data' must be true or false, not {personal!r}")
            params = entry.get("target_params", [])
            if not isinstance(params, list) or not all(isinstance(p, str) and p for p in params):
                raise RouteError(f"route {i}: 'target_params' must be a list of query parameter names")
            if params and action not in TARGET_ACTIONS:
                raise RouteError(f"route {i}: 'target_params' is for {' and '.join(sorted(TARGET_ACTIONS))} routes")
            if action == "profile_view" and "target" not in compiled.groupindex:
                raise RouteError(f"route {i}: a profile_view pattern needs a (?P<target>...) group")
            if action == "lookup" and "target" not in compiled.groupindex and not params:
                raise RouteError(f"route {i}: a lookup route needs a (?P<target>...) group or target_params")
            routes.append(_Entry(action, compiled, personal, tuple(params)))
        return cls(tuple(routes))

    @property
    def discloses(self) -> frozenset[str]:
        """The actions of the routes that disclose personal data."""
        return frozenset(e.action for e in self.entries if e.personal_data)

    def match(self, path: str) -> Route:
        """The route of a path: action, target (profile views and look-ups) and whether it discloses personal data."""
        found = self._seen.get(path)
        if found is None:
            found = self._match(path)
            if len(self._seen) >= _CACHE:
                self._seen.clear()
            self._seen[path] = found
        return found

    def _match(self, path: str) -> Route:
        path, _, query = path.partition("?")
        path = path.split("#", 1)[0]
        if "//" in path:
            path = _SLASHES.sub("/", path)
        for e in self.entries:
            m = e.pattern.search(path)
            if m:
                target = None
                if e.action in TARGET_ACTIONS:
                    target = m["target"] if "target" in e.pattern.groupindex else None
                    if target is None and e.target_params and query:
                        target = _query_value(query.split("#", 1)[0], e.target_params)
                return Route(e.action, target, e.personal_data)
        return _OTHER

    def classify(self, path: str) -> tuple[str, str | None]:
        """Return `(action, target)`; target is set for profile views and look-ups only."""
        route = self.match(path)
        return route.action, route.target


def _query_value(query: str, names: tuple[str, ...]) -> str | None:
    """The raw value of the first of `names` present in a query string (as sent, not percent-decoded).

    >>> _query_value("x=1&email=a%40b.example&phone=7", ("phone", "email"))
    '7'
    """
    values: dict[str, str] = {}
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        if sep and value and key in names:
            values.setdefault(key, value)
    return next((values[n] for n in names if n in values), None)


__all__ = [
    "ACTIONS",
    "DEFAULT_ROUTES",
    "LOOKUP_ACTIONS",
    "PERSONAL_DATA_ACTIONS",
    "Route",
    "RouteError",
    "RouteTable",
]
