"""The v1 contracts (`schemas/*.v1.json`): fixtures, parser and detector output all agree with them.

Fixture files are named `<field>__<reason>.json` under `invalid/`, so each one says which
field is wrong; both the schema and the parser must reject it for that field.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from detectors.config import load_config
from detectors.events import _RFC3339, AccessEvent, BadEvent, event_from_dict, parse_line
from detectors.pipeline import detect
from detectors.verdicts import SUBJECT_TYPES

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EVENT_SCHEMA = json.loads((REPO / "schemas/access_event.v1.json").read_text(encoding="utf-8"))
DECISION_SCHEMA = json.loads((REPO / "schemas/decision.v1.json").read_text(encoding="utf-8"))
EVENT = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
DECISION = Draft202012Validator(DECISION_SCHEMA, format_checker=FormatChecker())
TS_PATTERN = EVENT_SCHEMA["$defs"]["timestamp"]["anyOf"][0]["pattern"]
MIN_MS, MAX_MS = 946_684_800_000, 4_102_444_800_000
T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z


def fixtures(kind: str, verdict: str) -> list[Path]:
    return sorted((FIXTURES / kind / verdict).glob("*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def schema_accepts(obj: Any) -> bool:
    return EVENT.is_valid(obj)


def parser_accepts(obj: dict[str, Any]) -> bool:
    try:
        event_from_dict(obj)
    except BadEvent:
        return False
    return True


def errors_concern(errors: list[Any], field: str) -> bool:
    """Every schema error is about `field` (its value, its absence, or its being unknown)."""
    return bool(errors) and all(
        (list(e.absolute_path)[:1] == [field]) or (not e.absolute_path and repr(field) in e.message) for e in errors
    )


# --- the schema documents themselves ---------------------------------------------------------------


@pytest.mark.parametrize("schema", [EVENT_SCHEMA, DECISION_SCHEMA], ids=["access_event", "decision"])
def test_schema_is_a_valid_draft_2020_12_schema_with_every_property_described(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"] and schema["description"]
    for name, prop in schema["properties"].items():
        assert prop.get("title") and prop.get("description"), name


def test_formats_the_contracts_rely_on_are_checked() -> None:
    # 'date-time' needs an optional package; the time fields carry a pattern so they hold without it.
    assert {"ipv4", "ipv6", "uuid"} <= set(FormatChecker().checkers)
    assert DECISION_SCHEMA["$defs"]["time"]["pattern"]


def test_access_event_contract_shape() -> None:
    assert EVENT_SCHEMA["required"] == ["ts", "ip", "method", "path", "status"]
    assert EVENT_SCHEMA["additionalProperties"] is True
    # `records` is read by the evaluation only (evaluation/traffic.py), not by the detector's parser.
    assert set(EVENT_SCHEMA["properties"]) == set(AccessEvent._fields) | {"records"}


def test_decision_contract_is_closed_and_matches_what_the_detector_writes() -> None:
    decision = detect(enumerator(61), load_config())[0]
    assert DECISION_SCHEMA["additionalProperties"] is False
    assert set(DECISION_SCHEMA["required"]) == set(decision.to_json(T0))
    assert set(DECISION_SCHEMA["properties"]) == set(decision.to_json(T0))


def test_subject_types_are_the_same_in_the_code_and_both_contracts() -> None:
    verdict = json.loads((REPO / "schemas/verdict.v1.json").read_text(encoding="utf-8"))
    assert DECISION_SCHEMA["properties"]["subject_type"]["enum"] == list(SUBJECT_TYPES)
    assert verdict["properties"]["subject_type"]["enum"] == list(SUBJECT_TYPES)


def test_fixture_sets_cover_the_contract() -> None:
    names = {p.stem for p in fixtures("access_event", "valid")}
    assert {
        "minimal",
        "full",
        "epoch_ms",
        "offset_timestamp",
        "ipv6",
        "null_account",
        "unknown_extra_field",
        "query_string_path",
    } <= names
    bad = [p.stem for p in fixtures("access_event", "invalid")]
    assert len(bad) >= 10 and len(set(bad)) == len(bad)
    assert len(fixtures("decision", "valid")) >= 2 and len(fixtures("decision", "invalid")) >= 5


# --- access events: fixtures through the schema and the parser ---------------------------------------


@pytest.mark.parametrize("path", fixtures("access_event", "valid"), ids=lambda p: p.stem)
def test_valid_access_event_passes_schema_and_parser(path: Path) -> None:
    obj = load(path)
    assert list(EVENT.iter_errors(obj)) == []
    event = event_from_dict(obj)
    # The normalised event (epoch ms, canonical IP) is itself a valid v1 event and a fixed point.
    assert EVENT.is_valid(event.to_json())
    assert event_from_dict(event.to_json()) == event
    assert parse_line(json.dumps(obj)) == event


@pytest.mark.parametrize("path", fixtures("access_event", "invalid"), ids=lambda p: p.stem)
def test_invalid_access_event_fails_schema_and_parser_for_the_named_field(path: Path) -> None:
    field = path.stem.split("__")[0]
    obj = load(path)
    assert errors_concern(list(EVENT.iter_errors(obj)), field), [e.message for e in EVENT.iter_errors(obj)]
    with pytest.raises(BadEvent, match=f"'{field}'"):
        event_from_dict(obj)


# --- decisions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", fixtures("decision", "valid"), ids=lambda p: p.stem)
def test_valid_decision_fixture(path: Path) -> None:
    assert list(DECISION.iter_errors(load(path))) == []


@pytest.mark.parametrize("path", fixtures("decision", "invalid"), ids=lambda p: p.stem)
def test_invalid_decision_fixture_fails_for_the_named_field(path: Path) -> None:
    obj = load(path)
    errors = list(DECISION.iter_errors(obj))
    assert errors_concern(errors, path.stem.split("__")[0]), [e.message for e in errors]


def enumerator(n: int, ip: str = "203.0.113.7", step: int = 500) -> list[AccessEvent]:
    return [AccessEvent(T0 + i * step, ip, "GET", f"/u/{i}", 200) for i in range(n)]


def crawler(
    n: int, account: str = "acct-9", created: int | None = T0, step: int = 1000, id_step: int = 1
) -> list[AccessEvent]:
    return [
        AccessEvent(
            T0 + i * step,
            "198.51.100.4",
            "GET",
            f"/api/v1/users/{i * id_step}",
            200,
            account_id=account,
            account_created_at=created,
        )
        for i in range(n)
    ]


def test_decisions_of_a_hand_built_input_validate() -> None:
    events = enumerator(61) + crawler(61) + crawler(130, "acct-old", created=None, step=20_000)
    # 241 views in 40 minutes of ids far apart, by an account two hours old: only the hourly account limit
    events += crawler(241, "acct-busy", created=T0 - 7_200_000, step=10_000, id_step=1000)
    events += enumerator(601, ip="2001:db8::beef", step=300)
    decisions = detect(events, load_config())
    kinds = {(d.subject_type, d.action) for d in decisions}
    assert {("ip", "challenge"), ("ip", "block"), ("account", "challenge"), ("account", "throttle")} <= kinds
    assert any("top_features" in d.evidence for d in decisions)  # a behaviour rule's decision is among them
    for d in decisions:
        assert list(DECISION.iter_errors(d.to_json())) == [], d


def test_decisions_of_a_simulated_input_validate(tmp_path: Path) -> None:
    from simulator import generate

    summary = generate(tmp_path, hours=0.5, accounts=100, scenario="small")
    with open(summary["path"], "rb") as lines:
        events = [parse_line(line) for line in lines]
    decisions = detect(events, load_config())
    assert decisions
    for d in decisions:
        assert list(DECISION.iter_errors(d.to_json())) == [], d


# --- the schema and the parser agree on any input -----------------------------------------------------

# Near either end of the accepted range an offset moves the UTC instant across it; the pattern
# bounds the local year, the parser the instant, and no pattern can express the difference.
RANGE_EDGE_DATES = ("1999-12-31", "2000-01-01", "2099-12-31", "2100-01-01")


def known_disagreement(obj: dict[str, Any]) -> bool:
    """Inputs on which schema and parser may differ (a pattern cannot see offsets across the range edges)."""
    return any(
        isinstance(obj.get(name), str) and obj[name][:10] in RANGE_EDGE_DATES for name in ("ts", "account_created_at")
    )


offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
local_times = st.datetimes(datetime(2000, 1, 2), datetime(2099, 12, 30, 23, 59, 59, 999_999), timezones=offsets)


@st.composite
def rfc3339(draw: st.DrawFn, dt: datetime | None = None) -> str:
    """A valid RFC 3339 string in any of the accepted spellings."""
    dt = dt or draw(local_times)
    digits = draw(st.integers(0, 9))
    frac = "" if digits == 0 else "." + f"{dt.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    off = dt.strftime("%z")
    zone = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00"])) if off == "+0000" else f"{off[:3]}:{off[3:]}"
    return dt.strftime(f"%Y-%m-%d{draw(st.sampled_from('Tt '))}%H:%M:%S") + frac + zone


def break_timestamp(valid: str, choice: int) -> str:
    """A near miss of a valid RFC 3339 string."""
    date, rest = valid[:10], valid[11:]
    return [
        valid[:19],  # no offset
        date,  # date only
        valid + "\n",
        " " + valid,
        valid.replace("-", "/", 2),
        date + "_" + rest,
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2027-02-29T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-01-05T24:00:00Z",
        "2026-01-05T23:60:00Z",
        "2026-01-05T23:59:60Z",
        "2026-01-05T08:00:00+24:00",
        "2026-01-05T08:00:00+05:60",
        "2026-01-05T08:00:00+0500",
        "2026-01-05T08:00:00.1234567890Z",
        "2026-01-05T08:00:00.Z",
        "٢٠٢٦-01-05T08:00:00Z",
        "1999-06-01T00:00:00Z",
        "2150-06-01T00:00:00Z",
        "05/Jan/2026:08:00:00 +0000",
    ][choice]


timestamps_valid = st.one_of(st.integers(MIN_MS, MAX_MS - 1), rfc3339())
timestamps_broken = st.one_of(
    st.builds(break_timestamp, rfc3339(), st.integers(0, 22)),
    st.from_regex(_RFC3339),  # right shape, random digits: mostly impossible dates
    st.integers(0, MIN_MS - 1),  # epoch seconds, or ms before 2000
    st.integers(MAX_MS, 10**16),
    st.integers(max_value=-1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=2),
)
ips_valid = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
)
ips_broken = st.one_of(
    st.sampled_from(
        [
            "10.0.0.256",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "::g",
            ":::",
            "",
            " 10.0.0.1",
            "10.0.0.1\n",
            "localhost",
            "crawler.example.com",
            "10.0.0.0/8",
            "[2001:db8::1]",
        ]
    ),
    st.text(max_size=20),
    st.integers(),
    st.ip_addresses(v=4).map(int),
)
non_strings = st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False), st.lists(st.text(), max_size=2))
statuses_broken = st.one_of(
    st.integers(max_value=99),
    st.integers(min_value=600),
    st.integers(100, 599).map(str),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=5,
)

# field -> (valid values, broken values); required fields may also be left out.
DOMAINS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "ts": (timestamps_valid, timestamps_broken),
    "ip": (ips_valid, ips_broken),
    "method": (st.sampled_from(["GET", "POST", "HEAD"]) | st.text(min_size=1), st.just("") | non_strings),
    "path": (st.sampled_from(["/u/7", "/search?q=a", "*"]) | st.text(min_size=1), st.just("") | non_strings),
    "status": (st.integers(100, 599), statuses_broken),
    "account_id": (st.none() | st.text(), non_strings),
    "account_created_at": (st.none() | timestamps_valid, timestamps_broken.filter(lambda v: v is not None)),
    "user_agent": (st.none() | st.text(), non_strings),
    "referer": (st.none() | st.text(), non_strings),
    "session_id": (st.none() | st.text(), non_strings),
    "request_id": (st.none() | st.text(), non_strings),
    "bytes": (st.none() | st.integers(min_value=0), st.integers(max_value=-1) | st.text(max_size=5) | st.booleans()),
}
REQUIRED = set(EVENT_SCHEMA["required"])


@st.composite
def event_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Dicts from the schema's field domains: all valid, one field broken, or anything goes."""
    mode = draw(st.sampled_from(["valid", "one_broken", "mixed"]))
    broken = draw(st.sampled_from(sorted(DOMAINS))) if mode == "one_broken" else None
    obj: dict[str, Any] = {}
    for name, (good, bad) in DOMAINS.items():
        if name == broken or (mode == "mixed" and draw(st.integers(0, 9)) == 0):
            if name in REQUIRED and draw(st.booleans()):
                continue  # missing
            obj[name] = draw(bad)
        elif name in REQUIRED or draw(st.booleans()):
            obj[name] = draw(good)
    known = set(DOMAINS)
    obj.update(draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in known), json_values, max_size=2)))
    return obj


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_dicts())
@example({"ts": "2026-01-05T08:00:00+05:60", "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200})
@example({"ts": "2026-01-05T08:00:00Z\n", "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200})
@example({"ts": MIN_MS, "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200})
@example({"ts": MAX_MS, "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200})
@example({"ts": "2028-02-29T00:00:00Z", "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200})
@example({"ts": T0, "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200, "account_id": ""})
def test_schema_and_parser_agree_on_any_event(obj: dict[str, Any]) -> None:
    assume(not known_disagreement(obj))
    assert schema_accepts(obj) == parser_accepts(obj), [e.message for e in EVENT.iter_errors(obj)]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.from_regex(_RFC3339), st.from_regex(TS_PATTERN), rfc3339(), timestamps_broken))
def test_schema_timestamp_pattern_and_parser_agree(value: Any) -> None:
    obj = {"ts": value, "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200}
    assume(not known_disagreement(obj))
    assert schema_accepts(obj) == parser_accepts(obj)


# --- edges where schema and parser were found to differ ---------------------------------------------


def test_range_edges_are_where_pattern_and_parser_may_differ() -> None:
    """Within a day of 2000-01-01 / 2100-01-01 an offset can carry the UTC instant across the bound."""
    ok = {"ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200}
    inside_by_offset = {**ok, "ts": "1999-12-31T23:30:00-01:00"}  # 2000-01-01T00:30Z
    outside_by_offset = {**ok, "ts": "2000-01-01T00:30:00+01:00"}  # 1999-12-31T23:30Z
    assert (schema_accepts(inside_by_offset), parser_accepts(inside_by_offset)) == (False, True)
    assert (schema_accepts(outside_by_offset), parser_accepts(outside_by_offset)) == (True, False)
    # Away from the edges (any offset) they agree; the integer form agrees exactly at the bounds.
    for ts in ("2000-01-02T00:00:00+23:59", "2099-12-30T23:59:59.999-23:59", MIN_MS, MAX_MS - 1):
        assert schema_accepts({**ok, "ts": ts}) and parser_accepts({**ok, "ts": ts})


@pytest.mark.parametrize("field, value", [("status", 200.0), ("bytes", 512.0), ("ts", float(T0))])
def test_integral_floats_get_the_same_verdict(field: str, value: float) -> None:
    obj = {"ts": T0, "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200, field: value}
    assert math.isfinite(value) and schema_accepts(obj) == parser_accepts(obj)


def test_ipv6_zone_id_gets_the_same_verdict() -> None:
    obj = {"ts": T0, "ip": "fe80::1%eth0", "method": "GET", "path": "/", "status": 200}
    assert schema_accepts(obj) == parser_accepts(obj)
