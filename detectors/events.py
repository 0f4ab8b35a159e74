"""Access events: the v1 input contract (`schemas/access_event.v1.json`) and its parsers.

Two line formats are read: v1 JSON objects and Apache/nginx *combined* log lines.
`parse_line` picks the format from the first character and either returns an
`AccessEvent` or raises `BadEvent` with a reason an operator can act on.

>>> e = parse_line('{"ts": "2026-01-05T08:00:00Z", "ip": "10.0.0.1", "method": "GET", "path": "/u/7", "status": 200}')
>>> (e.ts, e.ip, e.account_id)
(1767600000000, '10.0.0.1', None)
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson

from detectors.config import Config, parse_duration

MAX_LINE_BYTES = 65536
"""Default size limit of one input line; longer lines are rejected, not truncated."""

_MIN_EPOCH_MS = 946_684_800_000  # 2000-01-01: smaller integers are almost surely seconds
_MAX_EPOCH_MS = 4_102_444_800_000  # 2100-01-01
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:[0-5]\d)\Z")
_COMBINED = re.compile(
    r'(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
    r"(?P<rest>.*)\Z"
)
_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_UNESCAPE = re.compile(r"\\([\\\"])")
_OPTIONAL_STR = ("account_id", "user_agent", "referer", "session_id", "request_id", "account_tier")


class BadEvent(ValueError):
    """A line that does not satisfy the input contract; the message is the reason."""


class AccessEvent(NamedTuple):
    """One request, normalised: times are epoch milliseconds (UTC)."""

    ts: int
    ip: str
    method: str
    path: str
    status: int
    account_id: str | None = None
    account_created_at: int | None = None
    user_agent: str | None = None
    referer: str | None = None
    bytes: int | None = None
    session_id: str | None = None
    request_id: str | None = None
    account_tier: str | None = None  # the platform's trust tier of the account ("verified", "partner", ...)

    def sort_key(self) -> tuple[int, str]:
        """Event-time order with a content tie-break, so equal timestamps sort the same everywhere."""
        return (self.ts, self.fingerprint())

    def fingerprint(self) -> str:
        """A stable hash of the event's content (used in sort order and decision ids).

        An event without `account_tier` hashes as it did before that field existed."""
        content = tuple(self) if self.account_tier is not None else tuple(self)[:-1]
        return hashlib.blake2b(orjson.dumps(content), digest_size=8).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The event as a v1 JSON object (times as epoch milliseconds, absent fields left out)."""
        return {k: v for k, v in self._asdict().items() if v is not None}


def parse_timestamp(value: Any, field: str = "ts") -> int:
    """RFC 3339 with offset or `Z`, or integer epoch milliseconds, to epoch milliseconds.

    >>> parse_timestamp("2026-01-05T09:00:00.5+01:00")
    1767600000500
    >>> parse_timestamp(1767600000000)
    1767600000000
    """
    if isinstance(value, bool):
        raise BadEvent(f"field '{field}' is not a timestamp ({value!r})")
    if isinstance(value, float) and value.is_integer():  # JSON Schema's "integer" admits 1767600000000.0
        value = int(value)
    if isinstance(value, int):
        if not _MIN_EPOCH_MS <= value < _MAX_EPOCH_MS:
            hint = " (epoch seconds? the contract wants milliseconds)" if value < _MIN_EPOCH_MS else ""
            raise BadEvent(f"field '{field}' is out of range: {value}{hint}")
        return value
    if isinstance(value, str) and _RFC3339.match(value):
        try:
            dt = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
        except ValueError:
            raise BadEvent(f"field '{field}' is not a valid date-time ({value!r})") from None
        return _epoch_ms(dt, field, value)
    raise BadEvent(
        f"field '{field}' is not a timestamp ({_short(value)}); "
        "use RFC 3339 with offset or Z, or integer epoch milliseconds"
    )


def parse_line(line: str | bytes, max_bytes: int = MAX_LINE_BYTES) -> AccessEvent:
    """Parse one line of either supported format; raise `BadEvent` with the reason."""
    if isinstance(line, bytes):
        size = len(line)
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadEvent(f"line is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    else:
        try:
            size = len(line.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise BadEvent(f"line is not valid Unicode ({exc.reason} at character {exc.start})") from None
    if size > max_bytes:
        raise BadEvent(f"line is {size} bytes, over the limit of {max_bytes}")
    stripped = line.strip()
    if not stripped:
        raise BadEvent("line is empty")
    if stripped[0] == "{":
        return parse_json(stripped)
    return parse_combined(stripped)


def parse_json(line: str) -> AccessEvent:
    """Parse a v1 JSON object line (unknown fields are ignored)."""
    return event_from_dict(json_object(line))


def json_object(line: str | bytes) -> dict[str, Any]:
    """A line that must be one JSON object, decoded; `BadEvent` with the reason otherwise."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadEvent(f"not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadEvent("not a JSON object")
    return obj


def event_from_dict(obj: dict[str, Any]) -> AccessEvent:
    """Validate a decoded v1 object against the contract and normalise it."""
    for name in ("ts", "ip", "method", "path", "status"):
        if obj.get(name) is None:
            raise BadEvent(f"missing required field '{name}'")
    ip = _ip(obj["ip"])
    method = _nonempty_str(obj, "method")
    path = _nonempty_str(obj, "path")
    status = _integer(obj["status"])
    if status is None or not 100 <= status <= 599:
        raise BadEvent(f"field 'status' is not an HTTP status code ({_short(obj['status'])})")
    optional: dict[str, Any] = {}
    for name in _OPTIONAL_STR:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise BadEvent(f"field '{name}' is not a string ({_short(value)})")
        optional[name] = value or None
    size = obj.get("bytes")
    if size is not None:
        size = _integer(size)
        if size is None or size < 0:
            raise BadEvent(f"field 'bytes' is not a non-negative integer ({_short(obj['bytes'])})")
    created = obj.get("account_created_at")
    return AccessEvent(
        ts=parse_timestamp(obj["ts"]),
        ip=ip,
        method=method,
        path=path,
        status=status,
        account_created_at=None if created is None else parse_timestamp(created, "account_created_at"),
        bytes=size,
        **optional,
    )


def parse_combined(line: str) -> AccessEvent:
    """Parse an Apache/nginx combined (or common) log line; `$remote_user` is the account id.

    >>> line = '10.0.0.1 - alice [05/Jan/2026:08:00:00 +0000] "GET /u/7?x=1 HTTP/1.1" 200 512 "-" "curl/8"'
    >>> parse_combined(line).account_id
    'alice'
    """
    m = _COMBINED.match(line)
    if m is None:
        raise BadEvent("not a JSON object and not a combined log line")
    if m["rest"] and m["agent"] is None:
        raise BadEvent(f"referer and user agent are not two quoted fields ({_short(m['rest'].strip())})")
    request = m["request"].split(" ")
    if len(request) not in (2, 3) or not request[0].isalpha() or not request[1]:
        raise BadEvent(f"request line is not 'METHOD PATH PROTOCOL' ({_short(m['request'])})")
    path = request[1]
    if _ABSOLUTE_URL.match(path):  # absolute-form request target (proxies)
        parts = urlsplit(path)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    status = int(m["status"])
    if not 100 <= status <= 599:
        raise BadEvent(f"field 'status' is not an HTTP status code ({status})")
    try:
        when = datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        raise BadEvent(f"field 'time' is not a log timestamp ({m['time']!r})") from None
    ts = _epoch_ms(when, "time", m["time"])
    user, size = m["user"], m["bytes"]
    return AccessEvent(
        ts=ts,
        ip=_ip(m["ip"]),
        method=request[0],
        path=path,
        status=status,
        account_id=None if user == "-" else user,
        user_agent=_unescape(m["agent"]),
        referer=_unescape(m["referer"]),
        bytes=None if size == "-" else int(size),
    )


class LatenessGuard:
    """Rejects events too far behind the latest event time of their input.

    Flink's bounded-out-of-orderness watermark trails the largest `ts` seen by `lag`
    (and 1 ms); an event at or behind the watermark would be dropped by event-time
    windows, so it is rejected here instead, with the reason, and never lost silently.

    >>> guard = LatenessGuard(30_000)
    >>> guard.check(100_000), guard.check(70_000), guard.check(69_999) is not None
    (None, None, True)
    """

    def __init__(self, lag_ms: int) -> None:
        self.lag = lag_ms
        self.latest: int | None = None

    def check(self, ts: int) -> str | None:
        """None if `ts` is in time (and remember it), else the reason it is late."""
        if self.latest is None or ts > self.latest:
            self.latest = ts
        elif ts < self.latest - self.lag:
            return (
                f"late: event time {format_ms(ts)} is {(self.latest - ts) / 1000:g} s behind the latest event "
                f"time of this input ({format_ms(self.latest)}); the allowed out-of-orderness is "
                f"{self.lag / 1000:g} s ([time] out_of_orderness)"
            )
        return None


class LineReader:
    """Reads the lines of one input in order: numbers them, parses them, rejects late events.

    `feed(line)` returns the event, None for a blank line, or raises `BadEvent`;
    `line_no` is the number of the line just fed.

    >>> reader = LineReader(MAX_LINE_BYTES, 30_000)
    >>> reader.feed("   "), reader.line_no
    (None, 1)
    """

    def __init__(
        self, max_bytes: int, lag_ms: int, parse: Callable[[str | bytes, int], AccessEvent] | None = None
    ) -> None:
        self.max_bytes = max_bytes
        self.guard = LatenessGuard(lag_ms)
        self.line_no = 0
        self.parse = parse or parse_line  # `parse_line`, or the configured log format's parser

    @classmethod
    def for_config(cls, config: Config) -> LineReader:
        """A reader with the configured size limit, out-of-orderness and log format (`[input] log_format`)."""
        return cls(
            config.section("input", "max_line_bytes"),
            parse_duration(config.section("time", "out_of_orderness")),
            config.log_format.parse if config.log_format is not None else None,
        )

    def feed(self, line: str) -> AccessEvent | None:
        """The event of the next line, None if it is blank; `BadEvent` if it is invalid or late."""
        self.line_no += 1
        if not line.strip():
            return None
        event = self.parse(line, self.max_bytes)
        late = self.guard.check(event.ts)
        if late:
            raise BadEvent(late)
        return event


def format_ms(ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with millisecond precision.

    >>> format_ms(1767600000500)
    '2026-01-05T08:00:00.500Z'
    """
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _epoch_ms(dt: datetime, field: str, raw: str) -> int:
    ms = round(dt.timestamp() * 1000)
    if not _MIN_EPOCH_MS <= ms < _MAX_EPOCH_MS:
        raise BadEvent(f"field '{field}' is out of range ({raw!r})")
    return ms


def _ip(value: Any) -> str:
    if not isinstance(value, str):
        raise BadEvent(f"field 'ip' is not a string ({_short(value)})")
    if "%" in value:
        raise BadEvent(f"field 'ip' has a zone id, which the contract does not allow ({_short(value)})")
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        raise BadEvent(f"field 'ip' is not an IPv4 or IPv6 address ({_short(value)})") from None


def _integer(value: Any) -> int | None:
    """An int, or a whole-number float (JSON Schema counts 200.0 as an integer); else None."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def _nonempty_str(obj: dict[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str) or not value:
        raise BadEvent(f"field '{name}' is not a non-empty string ({_short(value)})")
    return value


def _unescape(value: str | None) -> str | None:
    """A quoted log field: `-` or empty is absent; Apache's `\\"` and `\\\\` escapes are undone."""
    return None if value in (None, "", "-") else _UNESCAPE.sub(r"\1", value)  # type: ignore[arg-type]


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
