"""`evaluate`: read the three inputs, make the one pass over the events, score the detector and both anchors."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detectors.events import format_ms
from detectors.features.minutes import PATH
from detectors.routes import RouteTable
from evaluation.attribution import LOOKBACK_MS, Action, resolve
from evaluation.decisions import FLAG_ACTIONS, Decision, load_decisions
from evaluation.labels import InputError, canonical_ip, load_labels
from evaluation.leaky_bucket import BAN_MS, BLACKHOLE_MS, CAPACITY, LEAK_MS, LIFETIME_MS
from evaluation.metrics import Score, score
from evaluation.static_limit import GRID, IP_THROTTLE_MS, Tuning, tune
from evaluation.traffic import Tick, Traffic, scan

DETECTOR, STATIC, LEAKY = "detector", "static_rate_limit", "leaky_bucket"


@dataclass
class Evaluation:
    """The scores of the detector and the two anchors on one labeled run."""

    inputs: dict[str, Any]
    detector: Score
    static: Score
    leaky: Score
    tuning: Tuning
    seconds: float

    @property
    def engines(self) -> list[Score]:
        """Detector, static rate limit, leaky bucket."""
        return [self.detector, self.static, self.leaky]

    def to_json(self) -> dict[str, Any]:
        """Everything, as one JSON object of plain values."""
        return {
            "inputs": self.inputs,
            "attribution": {
                "ip_action_lookback_s": LOOKBACK_MS / 1000,
                "rule": "an IP action at t in force until e reaches an account that sent a request from the IP "
                "within [t - lookback, e]: at t if it did so by t, else at its first request after t",
            },
            "engines": {s.name: s.to_json() for s in self.engines},
            "seconds": round(self.seconds, 3),
        }


def decision_actions(
    decisions: Iterable[Decision], delay_ms: int = 0, addresses: Iterable[str] = ()
) -> tuple[dict[str, list[Action]], dict[str, list[Action]]]:
    """Flagging decisions as actions: (by account actor key, by IP); an unblock ends its subject's earlier ones.
    A decision on a network range is an action on each of the `addresses` (those the traffic holds) in it; one
    on an access path is under its key (`path:logged-out:profile_view`) with the accounts' (`resolve` applies it).

    With `delay_ms`, every decision (unblocks too) takes effect that long after its event time, as in a live
    deployment where enforcement reads it later; it still ends at its `expires_at`, and one that expired
    before it took effect never reached its subject.

    >>> from evaluation.decisions import Decision
    >>> ds = [Decision("ip", "10.0.0.1", "block", 0, 100), Decision("ip", "10.0.0.1", "unblock", 40, 40)]
    >>> decision_actions(ds)
    ({}, {'10.0.0.1': [Action(time=0, end=40, blocks=True)]})
    >>> decision_actions(ds, delay_ms=30)
    ({}, {'10.0.0.1': [Action(time=30, end=70, blocks=True)]})
    >>> decision_actions(ds[:1], delay_ms=101)
    ({}, {})
    >>> decision_actions([Decision("network", "10.0.0.0/24", "challenge", 0, 100)], addresses=["10.0.0.9", "10.0.1.9"])
    ({}, {'10.0.0.9': [Action(time=0, end=100, blocks=False)]})
    """
    by_range: dict[str, list[str]] = {}
    ranges = {d.subject for d in decisions if d.subject_type == "network"}
    if ranges:
        networks = [ipaddress.ip_network(r) for r in sorted(ranges)]
        for address in addresses:
            ip = ipaddress.ip_address(address)
            for network in networks:
                if ip.version == network.version and ip in network:
                    by_range.setdefault(str(network), []).append(canonical_ip(address))
    decisions = sorted(decisions, key=lambda d: d.time)
    unblocks: dict[str, list[int]] = {}
    for d in decisions:
        if d.action == "unblock":
            unblocks.setdefault(d.key, []).append(d.time + delay_ms)
    accounts: dict[str, list[Action]] = {}
    ips: dict[str, list[Action]] = {}
    for d in decisions:
        if d.action not in FLAG_ACTIONS:
            continue
        start = d.time + delay_ms
        end = min([d.end, *(u for u in unblocks.get(d.key, ()) if u >= start)])
        if end < start:
            continue
        action = Action(start, end, d.action == "block")
        if d.subject_type == "ip":
            ips.setdefault(canonical_ip(d.subject), []).append(action)
        elif d.subject_type == "network":
            for address in by_range.get(str(ipaddress.ip_network(d.subject)), ()):
                ips.setdefault(address, []).append(action)
        else:
            accounts.setdefault(d.key, []).append(action)
    return accounts, ips


def evaluate(
    events: Path,
    labels_path: Path,
    decisions_path: Path,
    grid: tuple[int, int, int] = GRID,
    tick: Tick | None = None,
    routes: RouteTable | None = None,
    enforcement_delay_ms: int = 0,
    declared: Callable[[str], bool] | None = None,
) -> Evaluation:
    """Score the decisions and both anchors on labeled events (see the package docstring); `tick` follows the pass
    over the events (`evaluation.traffic.scan`); `routes` (default: the built-in
    table) say which requests disclose personal data; `enforcement_delay_ms` delays the detector's decisions
    (`decision_actions`), not the anchors', which stand for checks made in the request path; `declared` addresses
    (`Allowlist.declares`) pass an action on the access path, as a gateway lets declared clients through.

    Events with no valid line, or none sent by a labeled actor, are an `InputError`: there is nothing to score,
    and every rate would be that of actors that were never seen."""
    started = time.perf_counter()
    labels = load_labels(labels_path)
    decisions = load_decisions(decisions_path)
    traffic = scan(events, labels, counter_cap=grid[1] + 1, routes=routes, tick=tick, declared=declared)
    if not traffic.events:
        why = f" (first rejected: {traffic.first_reason})" if traffic.first_reason else ""
        raise InputError(f"events {events}: no valid event in {traffic.lines} lines{why}; nothing to score")
    if not any(actor.requests for actor in traffic.actors.values()):
        raise InputError(
            f"events {events}: none of its {traffic.events} events comes from an actor of labels {labels_path}; "
            "are they from the same simulation?"
        )

    presence = traffic.presence
    addresses = {*traffic.ip_minute, *(ip for used in presence.values() for ip in used)}
    account_actions, ip_actions = decision_actions(decisions, enforcement_delay_ms, addresses)
    path = account_actions.pop(f"path:{PATH}", [])
    versions = sorted({d.detector_version for d in decisions if d.detector_version})
    detector = score(
        DETECTOR,
        labels,
        resolve(labels, account_actions, ip_actions, presence, path, traffic.views_logged_out),
        traffic.actors,
        {"detector_version": versions, "enforcement_delay_s": enforcement_delay_ms / 1000},
    )

    tuning = tune(labels, traffic.account_hour, traffic.ip_minute, presence, grid)
    static = score(
        STATIC,
        labels,
        tuning.outcomes,
        traffic.actors,
        {
            "account_profile_views_per_hour": tuning.account_limit,
            "ip_requests_per_minute": tuning.ip_limit,
            "action": "throttle",
            "ip_throttle_s": IP_THROTTLE_MS / 1000,
            "tuning": tuning.to_json(),
        },
    )

    bans = {ip: [Action(t, t + BAN_MS, True) for t in times] for ip, times in traffic.crawl.overflows.items()}
    leaky = score(
        LEAKY,
        labels,
        resolve(labels, {}, bans, presence),
        traffic.actors,
        {
            "scenario": "crowdsecurity/http-crawl-non_statics",
            "capacity": CAPACITY,
            "leak_s": LEAK_MS / 1000,
            "distinct": "file_name",
            "bucket_expiry_s": LIFETIME_MS / 1000,
            "blackhole_s": BLACKHOLE_MS / 1000,
            "action": "block",
            "ban_s": BAN_MS / 1000,
            "ips_overflowed": len(bans),
        },
    )
    inputs = _inputs(events, labels_path, decisions_path, traffic, labels, decisions)
    return Evaluation(inputs, detector, static, leaky, tuning, time.perf_counter() - started)


def _inputs(
    events: Path,
    labels_path: Path,
    decisions_path: Path,
    traffic: Traffic,
    labels: dict[str, str],
    decisions: list[Decision],
) -> dict[str, Any]:
    subjects = {d.key for d in decisions if d.action in FLAG_ACTIONS}
    used = {ip for actor in traffic.actors.values() for ip in actor.presence}
    unlabeled = {s for s in subjects if s not in labels and not (s.startswith("ip:") and s[3:] in used)}
    return {
        "events": str(events),
        "labels": str(labels_path),
        "decisions": str(decisions_path),
        "lines": traffic.lines,
        "events_read": traffic.events,
        "events_rejected": traffic.rejected,
        "first_rejected": traffic.first_reason,
        "first_event_time": None if traffic.first_ts is None else format_ms(traffic.first_ts),
        "last_event_time": None if traffic.last_ts is None else format_ms(traffic.last_ts),
        "labeled_actors": len(labels),
        "decisions_read": len(decisions),
        "subjects_flagged": len(subjects),
        # flagged subjects that are no labeled actor and (IPs) were never used by a labeled account
        "unlabeled_subjects_flagged": len(unlabeled),
    }


__all__ = ["Evaluation", "decision_actions", "evaluate"]
