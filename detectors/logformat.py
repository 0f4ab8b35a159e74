"""Configured access-log formats: an Apache `LogFormat` or nginx `log_format` string, compiled once.

The Apache directives are parsed by `apachelogs` (a maintained parser of Apache's own
`LogFormat` language: every directive, `%{...}i` headers, `%{...}C` cookies, `%{...}t`
times, escapes). An nginx `log_format` is translated into the same directives first
(`nginx_to_apache`), so one parser serves both.

A line becomes a v1 `AccessEvent`:

- `ip`: `%a`, `%h` or `%{c}a` (nginx `$remote_addr`); `account_id`: `%u` (`$remote_user`);
- `ts`: `%t` or `%{...}t` (`$time_local`, `$time_iso8601`); `method` and `path`: `%r`
  (`$request`), or `%m` and `%U` with `%q`;
- `status`: `%>s` or `%s`; `bytes`: `%b`, `%B` or `%O`; `referer` and `user_agent`:
  `%{Referer}i` and `%{User-Agent}i`.

**Actor.** `actor` names the field (for example a session cookie, `%{PHPSESSID}C` or
`$cookie_PHPSESSID`) that says who made a request where there is no account. Its value is
the event's `session_id` and, on a line without an account, its `account_id` too: the
detector then treats the session as an account (an account that is first seen with the
session, so the new-account limits apply). Such an event is recognisable by
`account_id == session_id`.

**No address.** With an actor field, a host of `-` does not reject the line: its `ip` is
`UNKNOWN_IP` (0.0.0.0), which stands for "no address known" (allowlist `0.0.0.0/32` so that
nothing acts on it). Without an actor field the address is required.

>>> fmt = LogFormat('%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"')
>>> e = fmt.parse('10.0.0.1 - ann [05/Jan/2026:08:00:00 +0000] "GET /u/7 HTTP/1.1" 200 512 "-" "curl/8"')
>>> (e.ip, e.account_id, e.path, e.status, e.bytes, e.referer, e.user_agent)
('10.0.0.1', 'ann', '/u/7', 200, 512, None, 'curl/8')
>>> nginx_to_apache('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent')
'%h - %u %t "%r" %>s %B'
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import apachelogs  # type: ignore[import-untyped]

from detectors.events import MAX_LINE_BYTES, AccessEvent, BadEvent, _epoch_ms, _ip, _short, parse_json, parse_timestamp

UNKNOWN_IP = "0.0.0.0"
"""The address of a line whose host is `-` when an actor field names who made it."""

_IPS = ("%a", "%h", "%{c}a")
_ISO_TIME = "%{X-Nginx-Time-Iso8601}i"
_STATUS = ("%>s", "%s", "%<s")
_BYTES = ("%b", "%B", "%O")
_ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

# nginx variables and the Apache directive each one is read as.
_NGINX = {
    "remote_addr": "%h",  # %h, not %a: it admits "-" (no address)
    "remote_user": "%u",
    "time_local": "%{%d/%b/%Y:%H:%M:%S %z}t",
    "time_iso8601": "%{X-Nginx-Time-Iso8601}i",  # read as a field, then as RFC 3339 (its offset has a colon)
    "request": "%r",
    "request_method": "%m",
    "uri": "%U",
    "status": "%>s",
    "body_bytes_sent": "%B",
    "bytes_sent": "%O",
    "http_referer": "%{Referer}i",
    "http_user_agent": "%{User-Agent}i",
}
_NGINX_VAR = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


class LogFormatError(ValueError):
    """A format string (or actor field) that cannot be used; the message says why."""


def is_nginx(fmt: str) -> bool:
    """Whether a format string is nginx's (`$variables`) rather than Apache's (`%directives`).

    >>> is_nginx('$remote_addr [$time_local]'), is_nginx('%h %t "%r"')
    (True, False)
    """
    return bool(_NGINX_VAR.search(fmt)) and not re.search(r"%[<>]?(?:\{[^}]*\})?[a-zA-Z]", fmt)


def nginx_to_apache(fmt: str) -> str:
    """Translate an nginx `log_format` string into Apache directives. `$http_<name>` is the request header
    (underscores read as dashes), `$cookie_<name>` the cookie; `[$time_local]` is Apache's bracketed `%t`."""
    fmt = fmt.replace("%", "%%").replace("[$time_local]", "\0")

    def directive(m: re.Match[str]) -> str:
        name = m[1] or m[2]
        if name in _NGINX:
            return _NGINX[name]
        if name.startswith("http_"):
            return "%{" + name[5:].replace("_", "-") + "}i"
        if name.startswith("cookie_"):
            return "%{" + name[7:] + "}C"
        raise LogFormatError(
            f"nginx variable ${name} is not supported (known: {', '.join('$' + v for v in _NGINX)}, "
            "$http_<header>, $cookie_<name>)"
        )

    return _NGINX_VAR.sub(directive, fmt).replace("\0", "%t")


class LogFormat:
    """A log format compiled once: `parse(line)` gives an `AccessEvent` or raises `BadEvent`.

    `actor` is a field of the format (as written there: `%{PHPSESSID}C`, `$cookie_PHPSESSID`) that names who
    made a request where there is no account (see the module docstring).
    """

    def __init__(self, fmt: str, actor: str | None = None) -> None:
        self.source, self.actor_source = fmt, actor
        self.apache = nginx_to_apache(fmt) if is_nginx(fmt) else fmt
        try:
            self.parser = apachelogs.LogParser(self.apache)
        except apachelogs.Error as exc:
            raise LogFormatError(f"not a valid format string ({exc})") from None
        fields = [d for d in self._directives() if d]
        have = set(fields)
        self.time = next((d for d in fields if d.endswith("t") and (d == "%t" or d.startswith("%{"))), None)
        if _ISO_TIME in have:
            self.time = _ISO_TIME
        self.request = "%r" if "%r" in have else None
        if self.time is None:
            raise LogFormatError("has no request time (%t or %{...}t; nginx $time_local or $time_iso8601)")
        if self.request is None and not {"%m", "%U"} <= have:
            raise LogFormatError('has no request line ("%r", or %m and %U; nginx "$request")')
        self.status = next((d for d in _STATUS if d in have), None)
        if self.status is None:
            raise LogFormatError("has no status (%>s or %s; nginx $status)")
        self.ip = next((d for d in _IPS if d in have), None)
        self.bytes = next((d for d in _BYTES if d in have), None)
        self.user = "%u" if "%u" in have else None
        self.referer = next((d for d in fields if d.lower() == "%{referer}i"), None)
        self.agent = next((d for d in fields if d.lower() == "%{user-agent}i"), None)
        self.actor = None
        if actor is not None:
            wanted = nginx_to_apache(actor) if actor.startswith("$") else actor
            if wanted not in have:
                raise LogFormatError(f"actor {actor!r} is not a field of the format ({', '.join(fields)})")
            self.actor = wanted
        if self.ip is None and self.actor is None:
            raise LogFormatError("has no client address (%a or %h; nginx $remote_addr) and no actor field")

    def __reduce__(self) -> tuple[type[LogFormat], tuple[str, str | None]]:
        """Pickled as its strings (Flink ships the configuration to its workers); compiled again on load."""
        return (LogFormat, (self.source, self.actor_source))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogFormat) and (self.source, self.actor_source) == (other.source, other.actor_source)

    def __hash__(self) -> int:
        return hash((self.source, self.actor_source))

    def _directives(self) -> list[str]:
        """The directives of the compiled format, in order."""
        return [str(d) for d in re.findall(r"%[<>]?(?:\{[^}]*\})?[a-zA-Z]", self.apache.replace("%%", ""))]

    def parse(self, line: str | bytes, max_bytes: int = MAX_LINE_BYTES) -> AccessEvent:
        """One line of the format (or a v1 JSON object) as an event; `BadEvent` with the reason otherwise."""
        if isinstance(line, bytes):
            if len(line) > max_bytes:
                raise BadEvent(f"line is {len(line)} bytes, over the limit of {max_bytes}")
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadEvent(f"line is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        elif len(line) * 4 > max_bytes and len(line.encode("utf-8", "surrogatepass")) > max_bytes:
            raise BadEvent(f"line is over the limit of {max_bytes} bytes")
        text = line.strip()
        if not text:
            raise BadEvent("line is empty")
        if text[0] == "{":
            return parse_json(text)
        try:
            entry = self.parser.parse(text)
        except apachelogs.InvalidEntryError:
            raise BadEvent(f"does not match [input] log_format {self.source!r}") from None
        except ValueError as exc:  # a field of the right shape but no value, such as 31/Feb
            raise BadEvent(f"does not match [input] log_format {self.source!r} ({exc})") from None
        return self.event(entry)

    def event(self, entry: apachelogs.LogEntry) -> AccessEvent:
        """The event of one parsed line."""
        d: dict[str, Any] = entry.directives
        if self.time == _ISO_TIME:
            ts = parse_timestamp(d.get(_ISO_TIME), "time_iso8601")
        else:
            when = getattr(entry, "request_time", None)
            if not isinstance(when, datetime) or when.tzinfo is None:
                raise BadEvent(f"field {self.time} is not a time with a UTC offset ({_short(when)})")
            ts = _epoch_ms(when, "time", str(when))
        if self.request is not None:
            method, path = _request_line(d.get(self.request))
        else:
            m, u = d.get("%m"), d.get("%U")
            if not m or not u:
                raise BadEvent("request method or path is missing")
            method, path = str(m), str(u) + str(d.get("%q") or "")
        status = d.get(self.status)  # type: ignore[arg-type]
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise BadEvent(f"field 'status' is not an HTTP status code ({_short(status)})")
        actor = d.get(self.actor) if self.actor is not None else None
        actor = None if actor in (None, "", "-") else str(actor)
        user = d.get(self.user) if self.user is not None else None
        user = None if user in (None, "", "-") else str(user)
        host = d.get(self.ip) if self.ip is not None else None
        if host in (None, "", "-"):
            if self.actor is None:
                raise BadEvent("field 'ip' is missing ('-') and no actor field is configured")
            ip = UNKNOWN_IP
        else:
            ip = _ip(host)
        size = d.get(self.bytes) if self.bytes is not None else None
        return AccessEvent(
            ts=ts,
            ip=ip,
            method=method,
            path=path,
            status=status,
            account_id=user or actor,
            user_agent=_text(d.get(self.agent) if self.agent else None),
            referer=_text(d.get(self.referer) if self.referer else None),
            bytes=size if isinstance(size, int) and size >= 0 else None,
            session_id=actor,
        )


def _text(value: Any) -> str | None:
    return None if value in (None, "", "-") else str(value)


def _request_line(value: Any) -> tuple[str, str]:
    """(method, path) of a request line `METHOD TARGET PROTOCOL`; an absolute target keeps its path and query."""
    if value is None:
        raise BadEvent("no request line ('-'): the connection sent no request")
    parts = value.split(" ") if isinstance(value, str) else []
    if len(parts) not in (2, 3) or not parts[0].isalpha() or not parts[1]:
        raise BadEvent(f"request line is not 'METHOD PATH PROTOCOL' ({_short(value)})")
    path = parts[1]
    if _ABSOLUTE_URL.match(path):  # absolute-form request target (proxies)
        split = urlsplit(path)
        path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    return parts[0], path
