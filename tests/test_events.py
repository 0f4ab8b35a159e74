"""Parsing access events (detectors/events.py): JSON lines, combined log lines, limits, lateness, timestamps."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detectors.events import (
    MAX_LINE_BYTES,
    AccessEvent,
    BadEvent,
    LatenessGuard,
    LineReader,
    event_from_dict,
    format_ms,
    parse_combined,
    parse_line,
    parse_timestamp,
)

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
MIN_MS, MAX_MS = 946_684_800_000, 4_102_444_800_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
BASE = {"ts": "2026-01-05T08:00:00Z", "ip": "10.0.0.1", "method": "GET", "path": "/u/7", "status": 200}


def jline(**fields: object) -> str:
    return json.dumps({**BASE, **fields}, ensure_ascii=False)


def combined(
    request: str = "GET /u/7 HTTP/1.1",
    user: str = "-",
    ip: str = "10.0.0.1",
    time: str = "05/Jan/2026:08:00:00 +0000",
    tail: str = ' 200 512 "-" "curl/8.5"',
) -> str:
    return f'{ip} - {user} [{time}] "{request}"{tail}'


# --- JSON lines -------------------------------------------------------------------------------------


def test_json_line_minimal() -> None:
    assert parse_line(jline()) == AccessEvent(T0, "10.0.0.1", "GET", "/u/7", 200)


def test_json_line_all_fields_normalised() -> None:
    e = parse_line(
        jline(
            ts="2026-01-05T09:00:00.250+01:00",
            ip="2001:0DB8:0000:0000:0000:0000:0000:0001",
            account_id="acct-1",
            account_created_at=T0 - 60_000,
            user_agent="Mozilla/5.0",
            referer="https://example.com/",
            session_id="s1",
            request_id="r1",
            bytes=0,
            account_tier="verified",
        )
    )
    assert e == AccessEvent(
        T0 + 250,
        "2001:db8::1",
        "GET",
        "/u/7",
        200,
        "acct-1",
        T0 - 60_000,
        "Mozilla/5.0",
        "https://example.com/",
        0,
        "s1",
        "r1",
        "verified",
    )


def test_account_tier_is_an_optional_string_and_leaves_older_events_as_they_were() -> None:
    plain = parse_line(jline(account_id="a1"))
    tiered = parse_line(jline(account_id="a1", account_tier="partner"))
    assert plain.account_tier is None and tiered.account_tier == "partner"
    assert parse_line(jline(account_id="a1", account_tier="")).account_tier is None
    assert parse_line(jline(account_id="a1", account_tier=None)) == plain
    with pytest.raises(BadEvent, match="field 'account_tier' is not a string"):
        parse_line(jline(account_id="a1", account_tier=["verified"]))
    # An event without a tier keeps the fingerprint (sort tie-break) it had before the field existed.
    legacy = hashlib.blake2b(orjson.dumps(tuple(plain)[:-1]), digest_size=8).hexdigest()
    assert plain.fingerprint() == legacy != tiered.fingerprint()


def test_json_line_unknown_fields_ignored_and_empty_account_is_logged_out() -> None:
    e = parse_line(jline(account_id="", geo={"cc": "AT"}, extra=[1, 2]))
    assert e.account_id is None and e == AccessEvent(T0, "10.0.0.1", "GET", "/u/7", 200)


def test_json_line_surrounding_whitespace_and_crlf_are_ignored() -> None:
    assert parse_line("  " + jline() + "\r\n") == parse_line(jline())


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"ts": 1767600000000, "ip": ', "not valid JSON"),
        ("[1, 2]", "not a JSON object and not a combined log line"),
        ('"just a string"', "not a JSON object and not a combined log line"),
    ],
)
def test_not_a_json_object(line: str, reason: str) -> None:
    with pytest.raises(BadEvent, match=reason):
        parse_line(line)


@pytest.mark.parametrize(
    "fields, needles",
    [
        ({"ts": "yesterday"}, ["'ts'", "'yesterday'", "RFC 3339"]),
        ({"ts": 1767600000}, ["'ts'", "1767600000", "epoch seconds?"]),
        ({"ts": 4102444800000}, ["'ts'", "4102444800000", "out of range"]),
        ({"ts": "2026-01-05T08:00:00"}, ["'ts'", "'2026-01-05T08:00:00'"]),
        ({"ts": "2026-02-30T08:00:00Z"}, ["'ts'", "'2026-02-30T08:00:00Z'", "not a valid date-time"]),
        ({"ip": "10.0.0.256"}, ["'ip'", "'10.0.0.256'"]),
        ({"ip": 167772161}, ["'ip'", "167772161", "not a string"]),
        ({"method": ""}, ["'method'", "''"]),
        ({"path": None}, ["missing required field 'path'"]),
        ({"status": "200"}, ["'status'", "'200'"]),
        ({"status": 42}, ["'status'", "42"]),
        ({"account_id": 1001}, ["'account_id'", "1001"]),
        ({"account_created_at": "last week"}, ["'account_created_at'", "'last week'"]),
        ({"bytes": -1}, ["'bytes'", "-1"]),
        ({"user_agent": "x" * 500, "referer": ["a" * 500]}, ["'referer'", "..."]),
    ],
)
def test_error_names_field_and_value(fields: dict[str, object], needles: list[str]) -> None:
    with pytest.raises(BadEvent) as exc:
        parse_line(jline(**fields))
    for needle in needles:
        assert needle in str(exc.value)
    assert len(str(exc.value)) < 200  # long values are shortened


def test_event_from_dict_checks_what_parse_json_would() -> None:
    with pytest.raises(BadEvent, match="missing required field 'ts'"):
        event_from_dict({k: v for k, v in BASE.items() if k != "ts"})


# --- combined log lines ----------------------------------------------------------------------------


def test_combined_line_full() -> None:
    e = parse_line(combined(user="alice", tail=' 200 512 "https://example.com/search?q=a" "Mozilla/5.0 (X11)"'))
    assert e == AccessEvent(
        T0, "10.0.0.1", "GET", "/u/7", 200, "alice", None, "Mozilla/5.0 (X11)", "https://example.com/search?q=a", 512
    )


def test_combined_remote_user_dash_is_logged_out() -> None:
    assert parse_line(combined(user="-")).account_id is None


def test_combined_offset_is_applied() -> None:
    assert parse_line(combined(time="05/Jan/2026:10:00:00 +0200")).ts == T0


@pytest.mark.parametrize(
    "target, path",
    [
        ("http://example.com/u/7?x=1", "/u/7?x=1"),
        ("https://example.com:8443/api/v1/users/42", "/api/v1/users/42"),
        ("http://example.com", "/"),
        ("/search?next=http://example.com/", "/search?next=http://example.com/"),
    ],
)
def test_combined_absolute_url_target_becomes_path(target: str, path: str) -> None:
    assert parse_line(combined(request=f"GET {target} HTTP/1.1")).path == path


def test_combined_double_slash_path_with_url_in_query_is_kept() -> None:
    assert parse_line(combined(request="GET //u/7?next=http://x HTTP/1.1")).path == "//u/7?next=http://x"


def test_common_log_format_without_referer_and_agent() -> None:
    e = parse_line(combined(tail=" 304 -"))
    assert (e.status, e.bytes, e.referer, e.user_agent) == (304, None, None, None)


def test_combined_dash_referer_and_agent_are_absent() -> None:
    e = parse_line(combined(tail=' 200 0 "-" "-"'))
    assert (e.bytes, e.referer, e.user_agent) == (0, None, None)


def test_combined_escaped_quotes_in_user_agent() -> None:
    e = parse_line(combined(tail=r' 200 1 "-" "Mozilla/5.0 \"quoted\" (X11)" "-"'))
    assert e.referer is None
    assert e.user_agent is not None and e.user_agent.replace('\\"', '"') == 'Mozilla/5.0 "quoted" (X11)'


def test_combined_trailing_fields_are_ignored() -> None:
    # almhuette-raith style: combined plus a trailing "-" field; secrepo style: a trailing space.
    assert parse_line(combined(tail=' 200 1 "-" "curl/8.5" "-"')).user_agent == "curl/8.5"
    assert parse_line(combined() + " ") == parse_line(combined())


def test_combined_ipv6_client_is_normalised() -> None:
    assert parse_line(combined(ip="2001:DB8:0:0::7")).ip == "2001:db8::7"


def test_combined_http09_request_line() -> None:
    assert parse_line(combined(request="GET /u/7")).path == "/u/7"


@pytest.mark.parametrize(
    "line, needles",
    [
        (combined(request="-", tail=" 408 -"), ["request line", "'-'"]),
        (combined(request="GET /a b HTTP/1.1"), ["request line", "'GET /a b HTTP/1.1'"]),
        (combined(ip="crawler.example.com"), ["'ip'", "'crawler.example.com'"]),
        (combined(time="05/Foo/2026:08:00:00 +0000"), ["'time'", "'05/Foo/2026:08:00:00 +0000'"]),
        (combined(time="05/Jan/2026:08:00:00"), ["'time'"]),
        ("this is not a log line", ["not a JSON object and not a combined log line"]),
    ],
)
def test_combined_errors_say_what_is_wrong(line: str, needles: list[str]) -> None:
    with pytest.raises(BadEvent) as exc:
        parse_line(line)
    for needle in needles:
        assert needle in str(exc.value)


@pytest.mark.parametrize("status", ["000", "999"])
def test_combined_status_outside_http_range_is_rejected(status: str) -> None:
    with pytest.raises(BadEvent, match="'status'"):
        parse_line(combined(tail=f" {status} 0"))


def test_combined_time_out_of_range_says_so() -> None:
    with pytest.raises(BadEvent, match="out of range"):
        parse_line(combined(time="05/Jan/1998:08:00:00 +0000"))


users = st.from_regex(r"[A-Za-z0-9._@-]{1,20}", fullmatch=True)
paths = st.from_regex(r"/(?:[A-Za-z0-9._~%-]+/?){0,4}(?:\?[A-Za-z0-9=&%]{0,20})?", fullmatch=True)
agents = st.text(st.characters(codec="utf-8", exclude_characters='"\\\n\r'), max_size=40)
times = st.datetimes(
    datetime(2000, 1, 2),
    datetime(2099, 12, 30),
    timezones=st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)


@settings(max_examples=200, deadline=None)
@given(
    ip=st.ip_addresses().map(str),
    user=users,
    dt=times,
    method=st.sampled_from(["GET", "POST", "HEAD", "PROPFIND"]),
    path=paths,
    status=st.integers(100, 599),
    size=st.none() | st.integers(0, 10**9),
    referer=agents,
    agent=agents,
    quoted=st.booleans(),
)
def test_combined_round_trip(
    ip: str,
    user: str,
    dt: datetime,
    method: str,
    path: str,
    status: int,
    size: int | None,
    referer: str,
    agent: str,
    quoted: bool,
) -> None:
    dt = dt.replace(microsecond=0)
    logged_agent = agent + (r" \"x\"" if quoted else "")
    stamp = f"{dt:%d}/{MONTHS[dt.month - 1]}/{dt:%Y:%H:%M:%S %z}"
    line = (
        f'{ip} - {user} [{stamp}] "{method} {path} HTTP/1.1" {status} {"-" if size is None else size} '
        f'"{referer}" "{logged_agent}"'
    )
    e = parse_combined(line)
    assert (e.ip, e.method, e.path, e.status, e.bytes) == (ip, method, path, status, size)
    assert e.ts == (dt - EPOCH) // timedelta(milliseconds=1)
    assert e.account_id == (None if user == "-" else user)
    assert e.referer == (None if referer in ("", "-") else referer)
    assert e.user_agent == (None if logged_agent in ("", "-") else agent + (' "x"' if quoted else ""))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300),
        st.builds(lambda tail: combined(tail=tail), st.text(max_size=60)),
        st.builds(lambda junk: jline()[:-1] + junk, st.text(max_size=30)),
    )
)
def test_parse_line_returns_an_event_or_raises_bad_event(line: str | bytes) -> None:
    try:
        assert isinstance(parse_line(line), AccessEvent)
    except BadEvent as exc:
        assert str(exc)


# --- size limit, encoding, empty lines -------------------------------------------------------------


def padded(n_bytes: int, char: str = "a") -> str:
    """A valid JSON line of exactly `n_bytes` UTF-8 bytes (char must be 1, 2, 3 or 4 bytes)."""
    bare = jline(user_agent="")
    width = len(char.encode("utf-8"))
    room = n_bytes - len(bare.encode("utf-8"))
    line = jline(user_agent=char * (room // width) + "a" * (room % width))
    assert len(line.encode("utf-8")) == n_bytes
    return line


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])
def test_size_limit_str_counts_utf8_bytes(char: str) -> None:
    limit = 1000
    assert parse_line(padded(limit, char), max_bytes=limit).user_agent
    with pytest.raises(BadEvent, match=f"line is {limit + 1} bytes, over the limit of {limit}"):
        parse_line(padded(limit + 1, char), max_bytes=limit)


def test_size_limit_bytes() -> None:
    limit = 1000
    assert parse_line(padded(limit, "é").encode("utf-8"), max_bytes=limit).user_agent
    with pytest.raises(BadEvent, match=f"line is {limit + 1} bytes, over the limit of {limit}"):
        parse_line(padded(limit + 1, "é").encode("utf-8"), max_bytes=limit)


def test_default_size_limit() -> None:
    assert parse_line(padded(MAX_LINE_BYTES))
    with pytest.raises(BadEvent, match="over the limit of 65536"):
        parse_line(padded(MAX_LINE_BYTES + 1))


def test_non_utf8_bytes_are_rejected_with_position() -> None:
    with pytest.raises(BadEvent, match=r"line is not UTF-8 \(invalid start byte at byte 0\)"):
        parse_line(b"\xff" + jline().encode())
    with pytest.raises(BadEvent, match="at byte 5"):
        parse_line(b"10.0.\xe9.1 - - [x]")


def test_utf8_bytes_are_decoded() -> None:
    assert parse_line(jline(user_agent="Müller/1.0").encode("utf-8")).user_agent == "Müller/1.0"


def test_long_str_with_lone_surrogates_is_a_bad_event() -> None:
    with pytest.raises(BadEvent):
        parse_line(jline(user_agent="\ud800" * 20_000))


@pytest.mark.parametrize("line", ["", "   ", "\n", "\r\n", b"", b" \t\n"])
def test_empty_line(line: str | bytes) -> None:
    with pytest.raises(BadEvent, match="line is empty"):
        parse_line(line)


# --- lateness ----------------------------------------------------------------------------------------


def test_lateness_guard_bound_is_inclusive() -> None:
    guard = LatenessGuard(30_000)
    assert guard.check(T0) is None
    assert guard.check(T0 - 30_000) is None  # exactly the allowed out-of-orderness: still in time
    reason = guard.check(T0 - 30_001)
    assert reason == (
        "late: event time 2026-01-05T07:59:29.999Z is 30.001 s behind the latest event time of this input "
        "(2026-01-05T08:00:00.000Z); the allowed out-of-orderness is 30 s ([time] out_of_orderness)"
    )


def test_lateness_guard_late_events_do_not_move_the_latest_time() -> None:
    guard = LatenessGuard(1_000)
    verdicts = [guard.check(t) is None for t in (T0, T0 - 5_000, T0 - 1_000, T0 + 10, T0 - 990, T0 - 991)]
    assert verdicts == [True, False, True, True, True, False]
    assert guard.latest == T0 + 10


@settings(max_examples=200)
@given(st.integers(0, 5_000), st.lists(st.integers(0, 20_000), max_size=40))
def test_lateness_guard_matches_brute_force(lag: int, stamps: list[int]) -> None:
    guard = LatenessGuard(lag)
    for i, ts in enumerate(stamps):
        expected_late = bool(stamps[:i]) and ts < max(stamps[:i]) - lag
        assert (guard.check(ts) is not None) == expected_late


def test_line_reader_numbers_lines_skips_blanks_and_rejects_late_events() -> None:
    reader = LineReader(MAX_LINE_BYTES, 1_000)
    assert reader.feed(jline(ts=T0)) == AccessEvent(T0, "10.0.0.1", "GET", "/u/7", 200)
    assert reader.feed("  ") is None and reader.line_no == 2
    with pytest.raises(BadEvent, match=r"^late: "):
        reader.feed(jline(ts=T0 - 1_001))
    with pytest.raises(BadEvent, match="not valid JSON"):
        reader.feed("{")
    assert reader.line_no == 4


# --- timestamps --------------------------------------------------------------------------------------


def in_range(dt: datetime) -> bool:
    return MIN_MS <= (dt - EPOCH) // timedelta(milliseconds=1) < MAX_MS


offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(datetime(1999, 12, 31), datetime(2100, 1, 1, 23, 59), timezones=offsets).filter(in_range)


@settings(max_examples=300)
@given(aware, st.sampled_from(["T", "t", " "]), st.booleans())
@example(datetime(2000, 1, 1, tzinfo=UTC), "T", False)
@example(datetime(2099, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC), "T", True)
@example(datetime(2028, 2, 29, 0, 30, tzinfo=timezone(timedelta(hours=1))), "T", False)
def test_rfc3339_round_trip(dt: datetime, sep: str, z_for_utc: bool) -> None:
    dt = dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    text = dt.isoformat(sep=sep, timespec="milliseconds")
    if z_for_utc:
        text = text.replace("+00:00", "Z")
    assert parse_timestamp(text) == (dt - EPOCH) // timedelta(milliseconds=1)


@settings(max_examples=200)
@given(aware, st.integers(1, 9), st.integers(0, 999))
def test_sub_millisecond_fractions_round_to_the_nearest_millisecond(dt: datetime, digits: int, nanos: int) -> None:
    frac, off = f"{dt.microsecond:06d}{nanos:03d}"[:digits], dt.strftime("%z")
    text = f"{dt:%Y-%m-%dT%H:%M:%S}.{frac}{off[:3]}:{off[3:]}"
    exact_ms = (dt.replace(microsecond=0) - EPOCH) / timedelta(milliseconds=1) + int(frac.ljust(9, "0")) / 1e6
    try:
        # Python datetimes hold microseconds, so digits past the sixth may shift the rounding by 1 us.
        assert abs(parse_timestamp(text) - exact_ms) <= 0.501
    except BadEvent:
        assert exact_ms >= MAX_MS - 0.501  # rounded up to 2100-01-01T00:00:00Z


@settings(max_examples=300)
@given(st.integers(MIN_MS, MAX_MS - 1))
@example(MIN_MS)
@example(MAX_MS - 1)
def test_format_ms_then_parse_is_identity(ms: int) -> None:
    text = format_ms(ms)
    assert len(text) == 24 and text.endswith("Z")
    assert parse_timestamp(text) == ms


@given(st.integers(MIN_MS, MAX_MS - 1))
def test_epoch_ms_is_kept_as_is(ms: int) -> None:
    assert parse_timestamp(ms) == ms


@pytest.mark.parametrize(
    "value, needle",
    [
        (MIN_MS - 1, "out of range"),
        (MAX_MS, "out of range"),
        (1_767_600_000, "epoch seconds?"),
        (True, "not a timestamp"),
        (1767600000000.5, "not a timestamp"),
        ("2026-01-05T08:00:00+05:60", "not a timestamp"),
        ("2026-01-05T08:00:00+24:00", "not a valid date-time"),
        ("2026-01-05T23:59:60Z", "not a valid date-time"),
        ("2026-01-05T08:00:00.1234567890Z", "not a timestamp"),
        ("2026-01-05T08:00:00Z\n", "not a timestamp"),
        ("1999-12-31T23:59:59.999Z", "out of range"),
        ("2100-01-01T00:00:00Z", "out of range"),
    ],
)
def test_parse_timestamp_rejects_with_field_and_value(value: object, needle: str) -> None:
    with pytest.raises(BadEvent) as exc:
        parse_timestamp(value, "account_created_at")
    assert needle in str(exc.value) and "'account_created_at'" in str(exc.value)
    assert (repr(value) if isinstance(value, str) else str(value)) in str(exc.value)
