"""Configured log formats (detectors/logformat.py): Apache LogFormat and nginx log_format strings, the actor
field, the placeholder address, and the errors of bad formats and bad lines."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.config import ConfigError, load_config
from detectors.engine import detect
from detectors.events import AccessEvent, BadEvent, LineReader, parse_line
from detectors.logformat import UNKNOWN_IP, LogFormat, LogFormatError, is_nginx, nginx_to_apache

COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
NGINX = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
)
ILIOU = '%h %l %t "%r" %>s %b "%{Referer}i" %{PHPSESSID}C "%{User-Agent}i"'
T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
LINE = '10.0.0.1 - ann [05/Jan/2026:09:00:00 +0100] "GET /u/7?x=1 HTTP/1.1" 200 512 "https://s.example/search" "curl/8"'


def test_apache_combined_format_reads_what_the_builtin_parser_reads() -> None:
    assert LogFormat(COMBINED).parse(LINE) == parse_line(LINE)
    assert LogFormat(COMBINED).parse(LINE) == AccessEvent(
        T0, "10.0.0.1", "GET", "/u/7?x=1", 200, "ann", None, "curl/8", "https://s.example/search", 512
    )


def test_nginx_combined_format_is_translated_and_reads_the_same_line() -> None:
    assert is_nginx(NGINX) and not is_nginx(COMBINED)
    assert nginx_to_apache(NGINX) == '%h - %u %t "%r" %>s %B "%{Referer}i" "%{User-Agent}i"'
    assert LogFormat(NGINX).parse(LINE) == parse_line(LINE)


def test_nginx_iso_time_cookies_and_headers() -> None:
    fmt = LogFormat('$remote_addr $time_iso8601 "$request" $status "$http_x_forwarded_for" $cookie_sid', "$cookie_sid")
    assert fmt.apache == '%h %{X-Nginx-Time-Iso8601}i "%r" %>s "%{x-forwarded-for}i" %{sid}C'
    e = fmt.parse('2001:DB8::1 2026-01-05T09:00:00+01:00 "GET http://x.example/u/5?a=1 HTTP/1.1" 404 "-" s-42')
    assert (e.ts, e.ip, e.path, e.status, e.session_id, e.account_id) == (
        T0,
        "2001:db8::1",
        "/u/5?a=1",
        404,
        "s-42",
        "s-42",
    )


def test_the_actor_field_names_who_made_a_request_where_there_is_no_account() -> None:
    fmt = LogFormat(ILIOU, actor="%{PHPSESSID}C")
    e = fmt.parse(
        '- - [28/Oct/2019:09:40:31 +0000] "GET /css/main.css HTTP/1.1" 200 764 "https://x/" r0e98 "Mozilla/5.0"'
    )
    assert (e.ip, e.account_id, e.session_id, e.referer, e.bytes) == (UNKNOWN_IP, "r0e98", "r0e98", "https://x/", 764)
    assert e.account_id == e.session_id  # how a session standing in for an account is recognised
    first = fmt.parse('- - [28/Oct/2019:09:40:31 +0000] "GET / HTTP/1.1" 200 2770 "-" - "Mozilla/5.0"')
    assert (first.ip, first.account_id, first.session_id, first.referer) == (UNKNOWN_IP, None, None, None)
    both = LogFormat('%h %u %t "%r" %>s %{sid}C', actor="%{sid}C")
    e = both.parse('10.0.0.2 bob [05/Jan/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 s-1')
    assert (e.account_id, e.session_id) == ("bob", "s-1")  # an account, where there is one, stays the subject


def test_a_missing_host_is_an_error_without_an_actor_field() -> None:
    with pytest.raises(BadEvent, match="field 'ip' is missing \\('-'\\) and no actor field is configured"):
        LogFormat(COMBINED).parse(LINE.replace("10.0.0.1", "-"))


@pytest.mark.parametrize(
    "line, reason",
    [
        ("not a log line", "does not match [input] log_format"),
        ('- - [28/Oct/2019:09:40:31 +0000] "-" 408 1511 "-" - "-"', "no request line ('-')"),
        ('- - [28/Oct/2019:00:53:15 +0000] "\\x16\\x03\\x01" 400 0 "-" - "-"', "request line is not 'METHOD PATH"),
        ('- - [28/Oct/2019:09:40:31 +0000] "GET / HTTP/1.1" 999 1 "-" - "-"', "not an HTTP status code (999)"),
        ('- - [28/Oct/1999:09:40:31 +0000] "GET / HTTP/1.1" 200 1 "-" - "-"', "field 'time' is out of range"),
        ('- - [31/Feb/2019:09:40:31 +0000] "GET / HTTP/1.1" 200 1 "-" - "-"', "(day is out of range for month)"),
        ("x" * 70_000, "over the limit of 65536"),
        ("   ", "line is empty"),
    ],
)
def test_bad_lines_are_rejected_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(BadEvent) as exc:
        LogFormat(ILIOU, actor="%{PHPSESSID}C").parse(line)
    assert reason in str(exc.value)


def test_json_lines_are_still_read_beside_the_configured_format() -> None:
    e = LogFormat(ILIOU, actor="%{PHPSESSID}C").parse('{"ts": 1767600000000, "ip": "10.0.0.1", "method": "GET", '
                                                      '"path": "/u/1", "status": 200}')  # fmt: skip
    assert e == AccessEvent(T0, "10.0.0.1", "GET", "/u/1", 200)


@pytest.mark.parametrize(
    "fmt, actor, message",
    [
        ("%h %Z", None, "not a valid format string"),
        ('%h "%r" %>s', None, "has no request time"),
        ("%h %t %>s", None, "has no request line"),
        ('%h %t "%r"', None, "has no status"),
        ('%t "%r" %>s', None, "has no client address"),
        ('%h %t "%r" %>s', "%{sid}C", "actor '%{sid}C' is not a field of the format"),
        ("$remote_addr [$time_local] $upstream_addr", None, "nginx variable $upstream_addr is not supported"),
    ],
)
def test_bad_formats_are_refused(fmt: str, actor: str | None, message: str) -> None:
    with pytest.raises(LogFormatError) as exc:
        LogFormat(fmt, actor)
    assert message in str(exc.value)


def test_config_compiles_the_format_once_and_names_the_key_of_a_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(f"[input]\nlog_format = '{ILIOU}'\nactor = '%{{PHPSESSID}}C'\n")
    config = load_config(good)
    assert config.log_format == LogFormat(ILIOU, "%{PHPSESSID}C")
    assert load_config().log_format is None
    assert pickle.loads(pickle.dumps(config)).log_format == config.log_format  # Flink ships the config
    bad = tmp_path / "bad.toml"
    bad.write_text("[input]\nlog_format = '%h %t %>s'\n")
    with pytest.raises(ConfigError, match=re.escape(f"config {bad}: input.log_format '%h %t %>s': has no request")):
        load_config(bad)
    bad.write_text("[input]\nactor = '%{sid}C'\n")
    with pytest.raises(ConfigError, match=r"input\.actor needs input\.log_format"):
        load_config(bad)
    bad.write_text("[input]\nlog_format = 7\n")
    with pytest.raises(ConfigError, match=r"input\.log_format must be a non-empty string"):
        load_config(bad)


def test_the_line_reader_and_the_reference_detector_read_the_configured_format(tmp_path: Path) -> None:
    """A session walking 61 pages in a minute with no host: read through `LineReader.for_config` (what the
    file job does) and acted on as an account, under its session id."""
    config_path = tmp_path / "site.toml"
    config_path.write_text(
        f"[input]\nlog_format = '{ILIOU}'\nactor = '%{{PHPSESSID}}C'\n"
        "[[routes]]\naction = 'profile_view'\npattern = '^/content/(?P<target>[^/]+)$'\n"
    )
    config = load_config(config_path)
    reader = LineReader.for_config(config)
    lines = [
        f'- - [05/Jan/2026:08:00:{i // 2:02d} +0000] "GET /content/p{i}.php HTTP/1.1" 200 900 "-" sess1 "Mozilla/5.0"'
        for i in range(61)
    ]
    events = [reader.feed(line) for line in lines]
    assert reader.line_no == 61 and all(e.account_id == "sess1" and e.ip == UNKNOWN_IP for e in events)
    decisions = detect(events, config)
    assert decisions and {(d.subject_type, d.subject) for d in decisions} == {("account", "sess1")}


@given(
    st.from_regex(r"[a-z0-9]{1,26}", fullmatch=True),
    st.from_regex(r"/[A-Za-z0-9._~%/-]{0,40}", fullmatch=True),
    st.integers(100, 599),
    st.integers(0, 10**9),
)
def test_any_session_path_status_and_size_round_trip(session: str, path: str, status: int, size: int) -> None:
    line = f'- - [05/Jan/2026:08:00:00 +0000] "GET {path} HTTP/1.1" {status} {size} "-" {session} "Mozilla/5.0"'
    e = LogFormat(ILIOU, actor="%{PHPSESSID}C").parse(line)
    assert (e.ts, e.path, e.status, e.bytes, e.session_id, e.account_id) == (T0, path, status, size, session, session)
