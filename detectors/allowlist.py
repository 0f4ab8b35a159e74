"""Allowlists: accounts, networks, declared partner clients and verified crawlers are never challenged or blocked.

A verified crawler is recognised by its address being in the crawler's published ranges
(its user agent alone proves nothing: scrapers claim to be Googlebot). Partners and
crawlers may have a quota; going over it throttles them, which is all that ever acts on
an allowlisted subject.

>>> from detectors.config import load_config
>>> allow = Allowlist(load_config())
>>> allow.match("ip", "66.249.64.7"), allow.match("ip", "10.0.0.1")
(('crawler:googlebot', 'logged_out_views_1m', 600), None)
>>> allow.match("network", "66.249.64.0/24")[0]  # a range that overlaps an allowlisted network
'crawler:googlebot'
>>> allow.declares("66.249.64.7"), allow.declares("10.0.0.1")
(True, False)
"""

from __future__ import annotations

import ipaddress
from typing import Any

from detectors.config import Config
from detectors.rules.base import Hit

Match = tuple[str, str | None, int | None]
"""(allowlist entry, feature its quota is on, the quota)."""
_ALIASES = {"views_1h": "profile_views_1h", "logged_out_views_1m": "profile_views_1m"}
"""Names of the same count in the rate-limit rows."""


class Allowlist:
    """The `[allowlist]` section."""

    def __init__(self, config: Config) -> None:
        section = config.section("allowlist")
        self.accounts: dict[str, Match] = {a: ("account", None, None) for a in section["accounts"]}
        self.networks: list[tuple[Any, Match]] = [
            (ipaddress.ip_network(c), ("cidr", None, None)) for c in section["cidrs"]
        ]
        for p in section["partners"]:
            match = (f"partner:{p['name']}", "views_1h", p["max_views_per_hour"])
            self.accounts[p["account"]] = match
            self.networks += [(ipaddress.ip_network(c), (f"partner:{p['name']}", None, None)) for c in p["cidrs"]]
        for c in section["crawlers"]:
            match = (f"crawler:{c['name']}", "logged_out_views_1m", c["max_views_per_minute"])
            self.networks += [(ipaddress.ip_network(n), match) for n in c["cidrs"]]
        self._declared: dict[str, bool] = {}

    def declares(self, ip: str) -> bool:
        """Whether an address is in an allowlisted range (`cidrs`, a partner's, a verified crawler's); remembered
        per address, as it runs once per logged-out request."""
        known = self._declared.get(ip)
        if known is None:
            if len(self._declared) >= 65_536:
                self._declared.clear()
            known = self._declared[ip] = self.match("ip", ip) is not None
        return known

    def match(self, subject_type: str, subject: str) -> Match | None:
        """The allowlist entry covering the subject, if any (for a `network` range: one it overlaps)."""
        if subject_type == "account":
            return self.accounts.get(subject)
        if subject_type == "network":
            rng = ipaddress.ip_network(subject, strict=False)
            return next((m for net, m in self.networks if net.version == rng.version and net.overlaps(rng)), None)
        try:
            addr = ipaddress.ip_address(subject)
        except ValueError:
            return None
        return next((m for net, m in self.networks if addr in net), None)

    @staticmethod
    def quota_hit(match: Match, features: dict[str, Any]) -> Hit | None:
        """A throttle when the subject is over its quota."""
        name, feature, quota = match
        if feature is None or quota is None:
            return None
        value = features.get(feature, features.get(_ALIASES[feature]))
        if value is None or value <= quota:
            return None
        return Hit("allowlist_quota", "throttle", 0.5, {"allowlist": name, feature: value, f"limit_{feature}": quota})
