"""The rate-limit detector of one subject type, the assessor's input rows, and a plain-Python reference run.

A `SubjectDetector` says which requests it counts and under which subject, which
trailing windows its rate rules read, which count rows are candidates (could hit a
rule), and what the rules find on them. `limit_rows` and `behaviour_rows` make the
assessor's input; `assess` takes them in canonical order (`Row.order`) through the
assessor and the per-subject policy.

The Flink job computes the same rows with SQL and keyed operators (`jobs/`); `detect`
computes them in plain Python over a list of events and is the reference the job is
tested against, decision for decision.

>>> from detectors.config import load_config
>>> from detectors.events import parse_line
>>> line = '{"ts": %d, "ip": "10.0.0.9", "method": "GET", "path": "/u/%d", "status": 200}'
>>> lines = [line % (1767600000000 + i * 500, i) for i in range(61)]
>>> [(d.subject, d.action, d.reasons) for d in detect([parse_line(x) for x in lines], load_config())]
[('10.0.0.9', 'challenge', ['ip_profile_views_1m'])]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple

from detectors.allowlist import Allowlist
from detectors.assess import Assessment, Assessor
from detectors.config import Config
from detectors.events import AccessEvent
from detectors.features.behaviour import AccountBehaviour, AddressBehaviour
from detectors.features.minutes import MINUTE_MS, summarise
from detectors.features.profile_views import SubjectFeatures, account_age
from detectors.features.request import facts
from detectors.policy import Decision, DecisionPolicy, PolicyState
from detectors.routes import RouteTable
from detectors.rules import Hit, Request, Rule, build_rules
from detectors.verdicts import Verdict

SUBJECT_TYPES = ("account", "ip")


class SubjectDetector:
    """All rules of one subject type, fused into decisions by the policy."""

    def __init__(self, subject_type: str, rules: list[Rule], policy: DecisionPolicy, allow: Allowlist) -> None:
        self.subject_type = subject_type
        self.allow = allow
        self.rules = [r for r in rules if r.subject_type == subject_type]
        self.policy = policy
        windows: dict[str, int] = {}
        for rule in self.rules:
            windows.update(rule.windows)
        self.windows = dict(sorted(windows.items(), key=lambda kv: kv[1]))
        self.thresholds = {
            label: min(limit for r in self.rules for lab, limit in r.window_limits if lab == label)
            for label in self.windows
        }

    def subject_of(self, request: Request) -> str | None:
        """The subject this request belongs to, or None if this detector ignores it."""
        event = request.event
        if self.subject_type == "account":
            return event.account_id
        return event.ip if event.account_id is None else None

    def counts(self, request: Request) -> bool:
        """Whether the request is counted: an account's views of other profiles, an IP's logged-out views."""
        return request.is_foreign_profile_view if self.subject_type == "account" else request.action == "profile_view"

    def is_candidate(self, features: dict[str, Any]) -> bool:
        """Whether any window count is over the lowest limit set on it (else no rule can hit)."""
        return any(features[f"profile_views_{label}"] > limit for label, limit in self.thresholds.items())

    def hits(self, subject: str, features: dict[str, Any]) -> list[Hit]:
        """Every rate rule's hits on the features of one of the subject's requests; for an allowlisted subject
        only its quota throttle (dropped here, before the assessor, so a busy partner costs nothing there)."""
        match = self.allow.match(self.subject_type, subject)
        if match is not None:
            quota = self.allow.quota_hit(match, features)
            return [] if quota is None else [quota]
        return [hit for rule in self.rules for hit in rule.evaluate(features)]


def build_detectors(config: Config) -> list[SubjectDetector]:
    """One detector per subject type that has rules, sharing the configured policy."""
    rules, policy, allow = build_rules(config), DecisionPolicy(config), Allowlist(config)
    detectors = [SubjectDetector(t, rules, policy, allow) for t in SUBJECT_TYPES]
    return [d for d in detectors if d.rules]


def route(event: AccessEvent, routes: RouteTable) -> Request:
    """Attach the route (action, target) to an event."""
    action, target = routes.classify(event.path)
    return Request(event, action, target)


SOURCES = ("limits", "behaviour", "verdict")
"""Row sources, in the order the assessor takes rows with the same row time."""


class Row(NamedTuple):
    """One input of the assessor. `rowtime` orders rows (a minute's behaviour row is known at the minute's
    last millisecond); `ts` is the event time a decision on it carries."""

    rowtime: int
    source: int
    subject_type: str
    subject: str
    ts: int
    features: dict[str, Any]
    hits: list[Hit]
    verdict: str | None = None

    def order(self) -> tuple[int, int, str, str, str]:
        """The canonical order: row time, source, subject type, subject, verdict."""
        return (self.rowtime, self.source, self.subject_type, self.subject, self.verdict or "")


def limit_rows(requests: list[Request], config: Config) -> list[Row]:
    """Per counted request over some rate limit: its window counts and the rate rules' hits."""
    rows = []
    for det in build_detectors(config):
        first_seen: dict[str, int] = {}
        counted: dict[str, list[Request]] = defaultdict(list)
        for request in requests:
            subject = det.subject_of(request)
            if subject is not None:
                first_seen.setdefault(subject, request.event.ts)
                if det.counts(request):
                    counted[subject].append(request)
        for subject, reqs in counted.items():
            windows = SubjectFeatures([r.event.ts for r in reqs], det.windows)
            for request in reqs:
                ts = request.event.ts
                features: dict[str, Any] = windows.at(ts)
                if not det.is_candidate(features):
                    continue
                if det.subject_type == "account":
                    features.update(account_age(ts, request.event.account_created_at, first_seen[subject]))
                hits = det.hits(subject, features)
                if hits:
                    rows.append(Row(ts, 0, det.subject_type, subject, ts, features, hits))
    return rows


def behaviour_rows(requests: list[Request], config: Config) -> list[Row]:
    """Per subject and minute with requests: the subject's behavioural features (accounts, IPs, networks)."""
    lo, hi = config.section("features", "night_utc_hours")
    night = (lo, hi)
    facts_ = [facts(r.event, r.action, r.target, config.routes) for r in requests]
    rows = []
    for kind in ("account", "ip", "network"):
        state: dict[str, AccountBehaviour | AddressBehaviour] = {}
        for m in summarise(facts_, kind):
            b = state.get(m.subject)
            if b is None:
                b = state[m.subject] = AccountBehaviour(night) if kind == "account" else AddressBehaviour()
            rows.append(Row(m.minute + MINUTE_MS - 1, 1, kind, m.subject, m.last_ts, b.update(m), []))  # type: ignore[arg-type]
    return rows


def verdict_row(v: Verdict) -> Row:
    """An analyst verdict as an assessor row."""
    return Row(v.ts, 2, v.subject_type, v.subject, v.ts, {}, [], v.verdict)


def assess(rows: Iterable[Row], config: Config, assessor: Assessor | None = None) -> list[Decision]:
    """Rows in canonical order through the assessor and the per-subject policy."""
    assessor = assessor or Assessor(config)
    policy = DecisionPolicy(config)
    states: dict[tuple[str, str], PolicyState] = {}
    decisions = []
    for row in sorted(rows, key=Row.order):
        a = assess_row(assessor, row)
        if a is not None:
            decision = decide(policy, states.setdefault((a.subject_type, a.subject), policy.new_state()), a)
            if decision is not None:
                decisions.append(decision)
    return decisions


def assess_row(assessor: Assessor, row: Row) -> Assessment | None:
    """One row through the assessor, by its source."""
    if row.verdict is not None:
        return assessor.verdict(row.subject_type, row.subject, row.ts, row.verdict)
    if row.source == 0:
        return assessor.limits(row.subject_type, row.subject, row.ts, row.features, row.hits)
    return assessor.behaviour(row.subject_type, row.subject, row.ts, row.features)


def decide(policy: DecisionPolicy, state: PolicyState, a: Assessment) -> Decision | None:
    """An assessment through the subject's policy state."""
    if a.verdict is not None:
        return policy.verdict(state, a.subject_type, a.subject, a.ts, a.verdict)
    return policy.decide(state, a.subject_type, a.subject, a.ts, a.hits, a.top_features)


def detect(
    events: Iterable[AccessEvent], config: Config, verdicts: Iterable[Verdict] = (), assessor: Assessor | None = None
) -> list[Decision]:
    """Reference run over events (and analyst verdicts) in memory; decisions in `decision_order`."""
    requests = [route(e, config.routes) for e in sorted(events, key=AccessEvent.sort_key)]
    rows = limit_rows(requests, config) + behaviour_rows(requests, config)
    rows += [verdict_row(v) for v in verdicts]
    return sorted(assess(rows, config, assessor), key=decision_order)


def decision_order(d: Decision) -> tuple[int, str, str, str]:
    """Canonical order of decisions in a file: event time, then subject, then id."""
    return (d.event_time, d.subject_type, d.subject, d.decision_id)
