"""Route table: which product action a request path is (profile view, search, feed, ...).

Routes are tried in order; the first whose regular expression matches the path
(query string removed, runs of `/` merged as web servers do) wins. Profile routes
come before asset extensions, so `/u/node.js` is a view of user `node.js`. A
`profile_view` route names its target with the group `(?P<target>...)`.

>>> table = RouteTable.default()
>>> table.classify("/api/v2/users/42?fields=bio")
('profile_view', '42')
>>> table.classify("/api/v2/users/42/posts")
('other', None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ACTIONS = ("profile_view", "search", "feed", "static", "auth", "other")

PERSONAL_DATA_ACTIONS = frozenset({"profile_view"})
"""Actions whose response discloses one person's data, the person being the route's `target`: what an incident
report counts as people accessed (profile pages and profile APIs today). New such actions go here."""

DEFAULT_ROUTES: tuple[tuple[str, str], ...] = (
    ("static", r"^/static/"),
    ("profile_view", r"^/(?:u|users|profile)/(?P<target>[^/]+)/?$"),
    ("profile_view", r"^/api/v\d+/users/(?P<target>[^/]+)/?$"),
    ("static", r"\.(?:css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|avif|woff2?|ttf|eot)$"),
    ("search", r"^/search(?:/.*)?$"),
    ("search", r"^/api/v\d+/search(?:/.*)?$"),
    ("auth", r"^/(?:login|logout|signup|register|auth|oauth)(?:/.*)?$"),
    ("auth", r"^/api/v\d+/(?:login|logout|auth|oauth|token)(?:/.*)?$"),
    ("feed", r"^/(?:feed|home)?/?$"),
    ("feed", r"^/api/v\d+/feed(?:/.*)?$"),
)


_SLASHES = re.compile(r"/{2,}")


class RouteError(ValueError):
    """A route table entry that cannot be used."""


@dataclass(frozen=True)
class RouteTable:
    """An ordered list of (action, compiled pattern); unmatched paths are `other`."""

    routes: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def default(cls) -> RouteTable:
        """The built-in routes (see module docstring)."""
        return cls.from_config([{"action": a, "pattern": p} for a, p in DEFAULT_ROUTES])

    @classmethod
    def from_config(cls, entries: list[dict[str, Any]]) -> RouteTable:
        """Build from `[{action = "...", pattern = "..."}, ...]`, checking every entry."""
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
            if action == "profile_view" and "target" not in compiled.groupindex:
                raise RouteError(f"route {i}: a profile_view pattern needs a (?P<target>...) group")
            unknown = set(entry) - {"action", "pattern"}
            if unknown:
                raise RouteError(f"route {i}: unknown key(s) {', '.join(sorted(unknown))}")
            routes.append((action, compiled))
        return cls(tuple(routes))

    def classify(self, path: str) -> tuple[str, str | None]:
        """Return `(action, target)`; target is set for profile views only."""
        path = path.split("?", 1)[0].split("#", 1)[0]
        if "//" in path:
            path = _SLASHES.sub("/", path)
        for action, pattern in self.routes:
            m = pattern.search(path)
            if m:
                return action, m["target"] if action == "profile_view" else None
        return "other", None
