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
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson

from detectors.config import Config, parse_duration

MAX_LINE_BYTES = 65536
"""Default size limit of one input line; longer lines are rejected, not truncated."""

_MIN_EPOCH_MS = 946_684_800_000  # 2000-01-01: smaller integers are almost surely seconds
_MAX_EPOCH_MS = 4_102_444_800_000  # 2100-01-01
_UTC_MS = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?[Zz]\Z")
"""The common case of `_RFC3339` (UTC, at most millisecond digits), parsed without `datetime`."""
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:[0-5]\d)\Z")
_COMBINED = re.compile(
    r'(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-)(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
    r"(?P<rest>.*)\Z"
)
_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_UNESCAPE = re.compile(r"\\([\\\"])")
_REQUIRED = ("ts", "ip", "method", "path", "status")
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
    if isinstance(value, str):
        fast = _utc_ms(value)
        if fast is not None:
            if not _MIN_EPOCH_MS <= fast < _MAX_EPOCH_MS:
                raise BadEvent(f"field '{field}' is out of range ({value!r})")
            return fast
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


def _utc_ms(text: str) -> int | None:
    """Epoch ms of a UTC time with at most millisecond digits (`2026-01-05T08:00:02.213Z`), None otherwise.

    >>> _utc_ms("2026-01-05T08:00:02.213Z"), _utc_ms("2026-01-05T08:00:02Z"), _utc_ms("2026-13-05T08:00:02Z")
    (1767600002213, 1767600002000, None)
    """
    second = _second_ms(text[:19])
    if second is None:
        return None
    rest = text[19:]
    if rest in ("Z", "z"):
        return second
    if 3 <= len(rest) <= 5 and rest[0] == "." and rest[-1] in "Zz" and rest[1:-1].isascii() and rest[1:-1].isdigit():
        return second + int(rest[1:-1].ljust(3, "0"))
    return None


@lru_cache(maxsize=1 << 16)
def _second_ms(text: str) -> int | None:
    """Epoch ms of `YYYY-MM-DD[Tt ]HH:MM:SS`, None if it is not one (a cache: times repeat to the second)."""
    m = _UTC_MS.match(text + "Z")
    if m is None or m[5] is not None:
        return None
    day = _day_ms(m[1])
    hour, minute, second = int(m[2]), int(m[3]), int(m[4])
    if day is None or hour > 23 or minute > 59 or second > 59:
        return None  # the general parser says what is wrong
    return day + hour * 3_600_000 + minute * 60_000 + second * 1000


@lru_cache(maxsize=4096)
def _day_ms(text: str) -> int | None:
    try:
        return (date.fromisoformat(text).toordinal() - _EPOCH_DAY) * 86_400_000
    except ValueError:
        return None


_EPOCH_DAY = date(1970, 1, 1).toordinal()


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
    get = obj.get
    ts, ip, method, path, status = get("ts"), get("ip"), get("method"), get("path"), get("status")
    if ts is None or ip is None or method is None or path is None or status is None:
        raise BadEvent(f"missing required field '{next(name for name in _REQUIRED if get(name) is None)}'")
    ip = _ip(ip)
    if type(method) is not str or not method:
        method = _nonempty_str(obj, "method")
    if type(path) is not str or not path:
        path = _nonempty_str(obj, "path")
    if type(status) is not int:
        status = _integer(status)
    if status is None or not 100 <= status <= 599:
        raise BadEvent(f"field 'status' is not an HTTP status code ({_short(obj['status'])})")
    account, agent, referer, session, request, tier = optional = [get(name) for name in _OPTIONAL_STR]
    for value in optional:
        if value is not None and type(value) is not str:
            name = next(n for n in _OPTIONAL_STR if get(n) is not None and type(get(n)) is not str)
            raise BadEvent(f"field '{name}' is not a string ({_short(obj[name])})")
    size = get("bytes")
    if size is not None and (type(size) is not int or size < 0):
        size = _integer(size)
        if size is None or size < 0:
            raise BadEvent(f"field 'bytes' is not a non-negative integer ({_short(obj['bytes'])})")
    created = get("account_created_at")
    return AccessEvent(
        parse_timestamp(ts),
        ip,
        method,
        path,
        status,
        account or None,
        None if created is None else _created_at(created),
        agent or None,
        referer or None,
        size,
        session or None,
        request or None,
        tier or None,
    )


def _created_at(value: Any) -> int:
    """`account_created_at` as epoch ms (cached: an account's value repeats on all its lines)."""
    if type(value) is str:
        return _created_text(value)
    return parse_timestamp(value, "account_created_at")


@lru_cache(maxsize=1 << 16)
def _created_text(value: str) -> int:
    return parse_timestamp(value, "account_created_at")


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


def _seconds(ms: int) -> str:
    """Milliseconds as seconds, exact and short: 3600001 -> '3600.001'."""
    return f"{ms / 1000:.3f}".rstrip("0").rstrip(".")


class InputClock:
    """The event-time clock of one input (a file, a Kafka partition), and the guard on it.

    The clock is the running maximum of the median event time of the input's last
    `window` events: one line stamped far in the future (a clock-skewed server, a producer
    that stamps wrong) cannot move it, while a real jump in time (the input resumes after
    a gap) moves it once most of the recent events are past the jump. Against that clock,
    an event is rejected, with the reason, when it is

    - **late**: more than `lag` behind it (event-time windows could no longer count it), or
    - **too far ahead**: more than `ahead` after it, or more than `skew` after the wall
      clock `now` where one is given (streaming).

    Watermarks follow the clock (`clock - lag - 1 ms`), so an accepted event is never
    behind one. The clock starts once `window` events were seen; until then nothing is
    rejected as late or far ahead.

    >>> clock = InputClock(lag_ms=30_000, ahead_ms=3_600_000)
    >>> [clock.check(t) for t in (1_000, 2_000, 3_000, 4_000, 5_000)], clock.clock
    ([None, None, None, None, None], 3000)
    >>> clock.check(90_000_000)[:13]  # 25 hours ahead: rejected
    'too far ahead'
    >>> clock.check(6_000), clock.check(-40_000)[:4]
    (None, 'late')
    """

    def __init__(self, lag_ms: int, ahead_ms: int, skew_ms: int | None = None, window: int = 5) -> None:
        self.lag, self.ahead, self.skew, self.window = lag_ms, ahead_ms, skew_ms, window
        self.recent: list[int] = []
        self.clock: int | None = None

    def check(self, ts: int, now_ms: int | None = None) -> str | None:
        """None if `ts` is in time (the clock advances), else the reason it is rejected."""
        if now_ms is not None and self.skew is not None and ts > now_ms + self.skew:
            return (
                f"too far ahead: event time {format_ms(ts)} is {_seconds(ts - now_ms)} s after the wall clock "
                f"({format_ms(now_ms)}); the allowed skew is {_seconds(self.skew)} s ([time] max_clock_skew)"
            )
        self.recent = [*self.recent[1 - self.window :], ts]
        if len(self.recent) == self.window:
            median = sorted(self.recent)[self.window // 2]
            self.clock = median if self.clock is None else max(self.clock, median)
        clock = self.clock
        if clock is None:
            return None
        if ts > clock + self.ahead:
            return (
                f"too far ahead: event time {format_ms(ts)} is {_seconds(ts - clock)} s after the clock of this "
                f"input ({format_ms(clock)}, the median of its last {self.window} events); the allowed lead is "
                f"{_seconds(self.ahead)} s ([time] max_ahead)"
            )
        if ts < clock - self.lag:
            return (
                f"late: event time {format_ms(ts)} is {_seconds(clock - ts)} s behind the clock of this input "
                f"({format_ms(clock)}); the allowed out-of-orderness is {_seconds(self.lag)} s "
                "([time] out_of_orderness)"
            )
        return None


class LineReader:
    """Reads the lines of one input in order: numbers them, parses them, rejects events off its clock.

    `feed(line)` returns the event, None for a blank line, or raises `BadEvent`;
    `line_no` is the number of the line just fed.

    >>> reader = LineReader(MAX_LINE_BYTES, 30_000)
    >>> reader.feed("   "), reader.line_no
    (None, 1)
    """

    def __init__(
        self,
        max_bytes: int,
        lag_ms: int,
        parse: Callable[[str | bytes, int], AccessEvent] | None = None,
        ahead_ms: int = 3_600_000,
        skew_ms: int | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.clock = InputClock(lag_ms, ahead_ms, skew_ms)
        self.line_no = 0
        self.parse = parse or parse_line  # `parse_line`, or the configured log format's parser

    @classmethod
    def for_config(cls, config: Config) -> LineReader:
        """A reader with the configured size limit, clock bounds and log format (`[input] log_format`)."""
        time = config.section("time")
        return cls(
            config.section("input", "max_line_bytes"),
            parse_duration(time["out_of_orderness"]),
            config.log_format.parse if config.log_format is not None else None,
            parse_duration(time["max_ahead"]),
            parse_duration(time["max_clock_skew"]),
        )

    def feed(self, line: str, now_ms: int | None = None) -> AccessEvent | None:
        """The event of the next line, None if it is blank; `BadEvent` if it is invalid or off the input's clock
        (`now_ms`: the wall clock, when streaming)."""
        self.line_no += 1
        if not line.strip():
            return None
        event = self.parse(line, self.max_bytes)
        off = self.clock.check(event.ts, now_ms)
        if off:
            raise BadEvent(off)
        return event


@lru_cache(maxsize=1 << 16)
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
    canonical = _canonical_ip(value)
    if canonical is None:
        raise BadEvent(f"field 'ip' is not an IPv4 or IPv6 address ({_short(value)})")
    return canonical


@lru_cache(maxsize=1 << 16)
def _canonical_ip(text: str) -> str | None:
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


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
