"""Anchor (b): CrowdSec's `crowdsecurity/http-crawl-non_statics` leaky bucket, per IP.

What CrowdSec does (hub scenario `scenarios/crowdsecurity/http-crawl-non_statics.yaml`,
version with `distinct`; engine `pkg/leakybucket`: `bucket.go`, `uniq.go`,
`blackhole.go`, `timemachine.go`, `manager_run.go`), and what is matched here:

- **filter** `static_ressource == 'false' && verb == 'GET'`: GET requests to non-static
  paths. *Matched*, except that "static" is this platform's route table (`static`
  action: `/static/...` and asset extensions) rather than CrowdSec's six extensions
  (.jpg .css .js .jpeg .png .svg), as the brief asks.
- **groupby** `source_ip + '/' + target_fqdn`: one bucket per IP (one site here). *Matched.*
- **distinct** `evt.Parsed.file_name`: an event whose file name is already in the
  bucket's set is discarded before it is poured (it neither fills the bucket nor
  extends its life). *Matched, with CrowdSec's file name*: the part of the path after
  the last `/` (query string cut at the last `?`), computed with the `http-logs`
  parser's grok `%{DIR}%{FILE}%{EXT}`. So `/u/42` and `/api/v1/users/42` are the same
  name, as in CrowdSec, and a path the grok does not match (`/`) is never poured
  (CrowdSec leaves `static_ressource` unset, so the filter rejects it).
- **capacity 40, leakspeed 0.5 s**: Go's `rate.NewLimiter(rate.Every(0.5s), 40)`, a
  token bucket that starts full; a pour that finds fewer than one token overflows. With
  the level kept in integer milliseconds (each pour adds 500, it drains 1 per ms), the
  pour overflows when the level after it would exceed 40 x 500: the 41st distinct path
  within the leak window, as in the hub's test `envoy-http-crawl-non_statics`
  (41 pages 10 ms apart: one alert, on `/page-41`; `tests/test_evaluation.py` replays it).
- **bucket life**: replaying logs (CrowdSec's "time machine" mode), a bucket and its
  distinct set are dropped when an event arrives more than (capacity + 1) x leakspeed
  = 20.5 s after its last pour; an overflow also ends the bucket. *Matched.* (CrowdSec
  also garbage-collects drained buckets every 5,000 events in forensic mode; that
  depends on unrelated traffic and is not modelled, so the distinct set lives until
  the 20.5 s expiry rather than exactly until the bucket drains empty.)
- **blackhole 1m**: an overflow less than 1 min after the last *reported* overflow of
  the same IP is dropped. *Matched.*
- **remediation**: an overflow bans the IP; the hub's default profile bans for 4 h.
  Here an overflow is a `block` on the IP at the overflowing event's time, in force for
  4 h, attributed to accounts like any IP decision (`evaluation.attribution`).

>>> buckets = CrawlBuckets()
>>> hits = [t for t in range(41) if buckets.pour("10.0.0.13", 10 * t, f"/page-{t + 1:02d}")]
>>> hits, buckets.overflows["10.0.0.13"]
([40], [400])
"""

from __future__ import annotations

import re

CAPACITY = 40
LEAK_MS = 500
LIFETIME_MS = (CAPACITY + 1) * LEAK_MS
BLACKHOLE_MS = 60_000
BAN_MS = 4 * 3_600_000
METHODS = frozenset({"GET"})

# The http-logs parser: request split at the last '?', then %{DIR:file_dir}%{FILE:file_frag}%{EXT:file_ext}
# with DIR `^.*/`, FILE `[^/].*?`, EXT `\.[^.]*$|$`; file_name = file_frag + file_ext.
_FILE = re.compile(r"^.*/([^/].*?(?:\.[^.]*$|$))")


def file_name(path: str) -> str | None:
    """CrowdSec's `evt.Parsed.file_name` of a request path, or None where its grok does not match.

    >>> file_name("/u/42?tab=posts"), file_name("/api/v1/users/42"), file_name("/u/42/"), file_name("/")
    ('42', '42', '42/', None)
    """
    request = path.rpartition("?")[0] if "?" in path else path
    m = _FILE.match(request)
    return m.group(1) if m else None


class _Bucket:
    __slots__ = ("last", "last_pour", "level", "seen")

    def __init__(self, ts: int) -> None:
        self.level = 0  # milliseconds of leak still to come: tokens used x LEAK_MS
        self.last = ts
        self.last_pour = ts
        self.seen: set[str] = set()


class CrawlBuckets:
    """One crawl bucket per IP; `pour` returns True when the event overflows it (and is reported)."""

    def __init__(self) -> None:
        self.buckets: dict[str, _Bucket] = {}
        self.overflows: dict[str, list[int]] = {}
        self._hidden_until: dict[str, int] = {}

    def pour(self, ip: str, ts: int, path: str) -> bool:
        """Offer one GET to a non-static path (the caller applies the filter); events in event-time order."""
        name = file_name(path)
        if name is None:
            return False
        bucket = self.buckets.get(ip)
        if bucket is None or ts > bucket.last_pour + LIFETIME_MS:
            bucket = self.buckets[ip] = _Bucket(ts)
        if name in bucket.seen:
            return False
        bucket.seen.add(name)
        level = bucket.level - (ts - bucket.last)
        if level < 0:
            level = 0
        bucket.last = bucket.last_pour = ts
        if level + LEAK_MS <= CAPACITY * LEAK_MS:
            bucket.level = level + LEAK_MS
            return False
        del self.buckets[ip]  # an overflow ends the bucket
        if ts < self._hidden_until.get(ip, ts):
            return False  # blackholed
        self._hidden_until[ip] = ts + BLACKHOLE_MS
        self.overflows.setdefault(ip, []).append(ts)
        return True
