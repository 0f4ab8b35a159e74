"""Identifiers in full or as keyed pseudonyms (HMAC-SHA256 with the console's pseudonym key).

The same identifier always gets the same pseudonym under one key, so a pseudonymised report still
counts and joins correctly; without the key a pseudonym cannot be turned back or checked against a
guess. A person is an account whether they view or are viewed, so both get the same pseudonym.

>>> ids = Identifiers(full=False, key="k")
>>> ids.show("account", "alice") == ids.show("account", "alice") != ids.show("ip", "alice")
True
>>> ids.show("account", "alice")
'acct-cd08d49f927b'
>>> Identifiers(full=True, key="k").show("account", "alice")
'alice'
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

PREFIX = {"account": "acct", "ip": "ip", "network": "net"}


def pseudonym(key: str, kind: str, value: str) -> str:
    """`<prefix>-<12 hex>`: the keyed hash of `kind:value`."""
    digest = hmac.new(key.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{PREFIX[kind]}-{digest[:12]}"


@dataclass(frozen=True)
class Identifiers:
    """Shows identifiers in full, or pseudonymised with `key`."""

    full: bool
    key: str

    def show(self, kind: str, value: str | None) -> str:
        if value is None or value == "":
            return ""
        return value if self.full else pseudonym(self.key, kind, value)

    def subject(self, subject_type: str, value: str | None) -> str:
        """An account id, an address or a network range, by subject type; the access path (no one's) as it is."""
        if subject_type == "path":
            return value or ""
        return self.show(subject_type if subject_type in PREFIX else "ip", value)

    def path(self, path: str, target: str | None) -> str:
        """A request path with the person it names pseudonymised (the rest of the path is not an identifier)."""
        if self.full or not target or target not in path:
            return path
        return path.replace(target, self.show("account", target))
