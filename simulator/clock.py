"""Timestamps: parse the simulation start, format RFC 3339 UTC with milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# b'000Z",' ... b'999Z",': the millisecond tail of the "ts" field, closing the string.
MS_TAIL = tuple(b'%03dZ",' % ms for ms in range(1000))


def parse_start(start: str) -> int:
    """Epoch milliseconds of an RFC 3339 timestamp; a naive one is taken as UTC.

    >>> parse_start("2026-01-05T08:00:00Z")
    1767600000000
    """
    try:
        dt = datetime.fromisoformat(start)
    except (TypeError, ValueError):
        raise ValueError(f"start: {start!r} is not an RFC 3339 timestamp; use e.g. '2026-01-05T08:00:00Z'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def second_prefix(sec: int) -> bytes:
    """The line start `{"ts":"YYYY-MM-DDTHH:MM:SS.` for an epoch second (UTC)."""
    return b'{"ts":"' + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)).encode() + b"."


def iso_ms(epoch_ms: int) -> str:
    """RFC 3339 UTC with milliseconds and `Z`.

    >>> iso_ms(1767600000123)
    '2026-01-05T08:00:00.123Z'
    """
    sec, ms = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ms:03d}Z"
