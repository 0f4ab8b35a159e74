"""Ground truth: `labels.json` as written by `scrapeguard simulate`.

The file is one JSON object `{"account:<id>" | "ip:<addr>": kind}`. Kinds starting
`benign_` are benign; kinds starting `scraper_` are scrapers, one kind per strategy.
IP keys are put in canonical form (IPv6 compressed), as the event parser does.

>>> actor_key("ip", "2001:DB8:0:0::1")
'ip:2001:db8::1'
>>> is_scraper("scraper_low_and_slow"), is_benign("scraper_low_and_slow")
(True, False)
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import orjson

from jobs.inputs import Source

BENIGN_PREFIX = "benign_"
SCRAPER_PREFIX = "scraper_"


class InputError(ValueError):
    """An input file that cannot be evaluated; the message names the file, the line and the problem."""


def is_benign(kind: str) -> bool:
    """Whether an actor kind is benign (`benign_...`)."""
    return kind.startswith(BENIGN_PREFIX)


def is_scraper(kind: str) -> bool:
    """Whether an actor kind is a scraper strategy (`scraper_...`)."""
    return kind.startswith(SCRAPER_PREFIX)


def canonical_ip(address: str) -> str:
    """An IP address in the form the event parser writes (IPv6 compressed, lowercase)."""
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address


def actor_key(subject_type: str, subject: str) -> str:
    """The labels key of an account or IP subject: `account:<id>` or `ip:<canonical address>`."""
    return f"ip:{canonical_ip(subject)}" if subject_type == "ip" else f"{subject_type}:{subject}"


def load_labels(path: Path) -> dict[str, str]:
    """Actor key -> kind from a file (or `-`), checked: every key is `account:`/`ip:`, every kind `benign_`/`scraper_`,
    and there is at least one."""
    with Source(path) as source:
        data = source.stream.read()
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"labels {path}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise InputError(f'labels {path}: expected one JSON object {{"account:<id>" | "ip:<addr>": kind}}')
    labels: dict[str, str] = {}
    for key, kind in obj.items():
        subject_type, sep, subject = key.partition(":")
        if not sep or subject_type not in ("account", "ip") or not subject:
            raise InputError(f"labels {path}: key {key!r} is not 'account:<id>' or 'ip:<addr>'")
        if not isinstance(kind, str) or not (is_benign(kind) or is_scraper(kind)):
            raise InputError(
                f"labels {path}: {key}: kind {kind!r} starts with neither {BENIGN_PREFIX!r} nor {SCRAPER_PREFIX!r}"
            )
        labels[actor_key(subject_type, subject)] = kind
    if not labels:
        raise InputError(f"labels {path}: no labeled actor; nothing to score")
    return labels
