"""The detector of one subject type, and a plain-Python reference run.

A `SubjectDetector` says which requests it counts and under which subject, which
trailing windows its rules read, which feature rows are candidates (could hit a
rule), and turns a candidate's features into a decision through the policy.

The Flink job computes the features with SQL and calls `decide` on candidates;
`detect` computes them in plain Python over a list of events and is the
reference the job is tested against.

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
from typing import Any

from detectors.config import Config
from detectors.events import AccessEvent
from detectors.features.profile_views import SubjectFeatures, account_age
from detectors.policy import Decision, DecisionPolicy, PolicyState
from detectors.routes import RouteTable
from detectors.rules import Request, Rule, build_rules

SUBJECT_TYPES = ("account", "ip")


class SubjectDetector:
    """All rules of one subject type, fused into decisions by the policy."""

    def __init__(self, subject_type: str, rules: list[Rule], policy: DecisionPolicy) -> None:
        self.subject_type = subject_type
        self.rules = [r for r in rules if r.subject_type == subject_type]
        self.policy = policy
        windows: dict[str, int] = {}
        for rule in self.rules:
            windows.update(rule.windows)
        self.windows = dict(sorted(windows.items(), key=lambda kv: kv[1]))
        self.thresholds = {
            label: min(lim[2] for r in self.rules for lim in r.limits if lim[0] == label) for label in self.windows
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

    def decide(self, state: PolicyState, subject: str, ts: int, features: dict[str, Any]) -> Decision | None:
        """Evaluate every rule on the features of the subject's event at `ts`; decide through the policy."""
        hits = [hit for rule in self.rules for hit in rule.evaluate(features)]
        return self.policy.decide(state, self.subject_type, subject, ts, hits)


def build_detectors(config: Config) -> list[SubjectDetector]:
    """One detector per subject type that has rules, sharing the configured policy."""
    rules, policy = build_rules(config), DecisionPolicy(config)
    detectors = [SubjectDetector(t, rules, policy) for t in SUBJECT_TYPES]
    return [d for d in detectors if d.rules]


def route(event: AccessEvent, routes: RouteTable) -> Request:
    """Attach the route (action, target) to an event."""
    action, target = routes.classify(event.path)
    return Request(event, action, target)


def detect(events: Iterable[AccessEvent], config: Config) -> list[Decision]:
    """Reference run over events in memory; decisions in `decision_order`."""
    requests = [route(e, config.routes) for e in sorted(events, key=AccessEvent.sort_key)]
    decisions = []
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
            windows, state = SubjectFeatures([r.event.ts for r in reqs], det.windows), det.policy.new_state()
            for request in reqs:
                features: dict[str, Any] = windows.at(request.event.ts)
                if det.subject_type == "account":
                    features.update(
                        account_age(request.event.ts, request.event.account_created_at, first_seen[subject])
                    )
                decision = (
                    det.decide(state, subject, request.event.ts, features) if det.is_candidate(features) else None
                )
                if decision is not None:
                    decisions.append(decision)
    return sorted(decisions, key=decision_order)


def decision_order(d: Decision) -> tuple[int, str, str, str]:
    """Canonical order of decisions in a file: event time, then subject, then id."""
    return (d.event_time, d.subject_type, d.subject, d.decision_id)
