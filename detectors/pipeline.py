"""The detection pipeline as named steps over typed records, and `detect`, the plain-Python run of all of them.

Each step is what one stage of the Flink job does (`jobs/operators.py` wraps them, a few
lines each); `detect` runs the same steps over a list of events, in the order the job's
watermarks guarantee, and is what the job is tested against, decision for decision.

1. parse (`detectors.events`, `detectors.features.request.facts`): lines to `RequestFacts`;
2. count (SQL in the job; `summarise` and `short_window_rows` here): one-minute summaries
   per account, address and network, and the short-window rate-limit counts of each
   counted request that is over a limit;
3. `Behave`: a subject's minute summaries to its rolling features, long-window rate limits
   and behaviour rules; it routes each row to the assessor (hits, or enough volume for the
   models), the learner (sampled subjects, and what the assessor sees) and coordination;
4. `learn` (`detectors.learner`): population-wide models, published in versions;
5. `group`: coordination per group (`groupings`: cohorts and fleets of bare accounts, blocks of ids);
6. `Score`: per subject, in canonical order, the rows of one row time assessed together
   (`detectors.assess`, with the hits that rest on what the logs do not carry dropped:
   `detectors.absence`) and put through the decision policy (`detectors.policy`).

>>> from detectors.config import load_config
>>> from detectors.events import parse_line
>>> line = '{"ts": %d, "ip": "10.0.0.9", "method": "GET", "path": "/u/%d", "status": 200}'
>>> lines = [line % (1767600000000 + i * 500, i) for i in range(61)]
>>> [(d.subject, d.action, d.reasons) for d in detect([parse_line(x) for x in lines], load_config())]
[('10.0.0.9', 'challenge', ['ip_profile_views_1m'])]
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from typing import Any, NamedTuple

from detectors.absence import Absence
from detectors.allowlist import Allowlist
from detectors.assess import Assessor, Tagged
from detectors.config import ACTIONS, Config
from detectors.coordination import AddressFleet, BareAccounts, Coordination
from detectors.events import AccessEvent
from detectors.features.behaviour import AccountBehaviour, AddressBehaviour
from detectors.features.minutes import KINDS, MINUTE_MS, summarise
from detectors.features.profile_views import SubjectFeatures, account_age
from detectors.features.request import RequestFacts, facts
from detectors.learner import FIRST, Learner, Version, epoch_end, in_sample
from detectors.policy import Decision, DecisionPolicy, PolicyState
from detectors.rules import Rule, build_behaviour_rules, build_rules
from detectors.surge import Surge
from detectors.tiers import Tiers
from detectors.verdicts import Verdict

SUBJECT_TYPES = ("account", "ip")
LIMITS, BEHAVIOUR, VERDICT = 0, 1, 2
"""Row sources, in the order the scorer takes rows of one subject with the same row time."""


class Row(NamedTuple):
    """One input of the scorer. `rowtime` orders rows (a minute's row is known at the minute's last
    millisecond); `ts` is the event time a decision on it carries; `hits` are the hits found before the
    scorer, each with its layer; `gated`: the models should score it."""

    rowtime: int
    source: int
    subject_type: str
    subject: str
    ts: int
    features: dict[str, Any]
    hits: tuple[Tagged, ...] = ()
    gated: bool = False
    verdict: str | None = None

    def order(self) -> tuple[int, int, str, str, str, int]:
        """The canonical order: row time, source, subject type, subject, verdict, event time (a fleet may flag a
        subject in the same row time as the subject's own row)."""
        return (self.rowtime, self.source, self.subject_type, self.subject, self.verdict or "", self.ts)


class Observation(NamedTuple):
    """One input of the learner: a sampled row (`learnable` for the anomaly model or not), a row the
    scorer sees (`remember`), or a verdict."""

    rowtime: int
    kind: str  # "sample", "remember" or "verdict"
    subject_type: str
    subject: str
    ts: int
    features: dict[str, Any]
    learnable: bool = False
    verdict: str | None = None

    def order(self) -> tuple[int, str, str, str]:
        """The canonical order: row time, kind, subject type, subject."""
        return (self.rowtime, self.kind, self.subject_type, self.subject)


# -- rate limits ---------------------------------------------------------------------------------------------


class Limits:
    """The rate rules of one subject type, split into short windows (counted per request) and long ones
    (counted per minute in the subject's rolling state)."""

    def __init__(self, config: Config, subject_type: str) -> None:
        self.subject_type = subject_type
        self.allow = Allowlist(config)
        rules = [r for r in build_rules(config) if r.subject_type == subject_type]
        halves = [r.split() for r in rules]
        self.short: list[Rule] = [s for s, _ in halves if s is not None]
        self.long: list[Rule] = [g for _, g in halves if g is not None]
        self.tiers = Tiers(config) if subject_type == "account" else None
        self.tiered = self.tiers.scaled(self.long) if self.tiers else {}
        """Per trust tier, the long-window rules with its quotas (`detectors.tiers`)."""
        self.windows = _windows(self.short)
        self.long_windows = _windows(self.long)
        self.levels = {
            label: sorted({limit for r in self.short for lab, limit in r.window_limits if lab == label})
            for label in self.windows
        }
        """Per short window, the limits set on it: a request is over one when more than that many counted
        requests fall in the window ending at it."""

    def crossed(self, counts: dict[str, int]) -> dict[str, int]:
        """Exact window counts as the per-request path reports them: per window, the highest limit passed + 1
        (0 if none), which is what every rule on that window needs to decide.

        >>> from detectors.config import load_config
        >>> Limits(load_config(), "account").crossed({"1m": 47, "2m": 3})
        {'1m': 21, '2m': 0}
        """
        return {
            label: max((n + 1 for n in self.levels[label] if counts[label] > n), default=0) for label in self.windows
        }

    def counts(self, subject: str | None, view: bool, account: str | None) -> bool:
        """Whether a request counts for this subject type: an account's views of other profiles, an address's
        logged-out views."""
        if self.subject_type == "account":
            return view and account is not None
        return view and account is None and subject is not None

    def request_row(
        self, subject: str, ts: int, counts: dict[str, int], created_at: int | None, first_view: int | None
    ) -> Row | None:
        """A counted request's short-window counts to a scorer row, when a rate rule hits."""
        features: dict[str, Any] = {f"profile_views_{label}": n for label, n in counts.items()}
        if self.subject_type == "account" and first_view is not None:
            features.update(account_age(ts, created_at, first_view))
        hits = self._hits(self.short, subject, features)
        return Row(ts, LIMITS, self.subject_type, subject, ts, features, hits) if hits else None

    def counted_row(self, values: list[Any]) -> Row | None:
        """`request_row` of a counted request as the job's SQL reports it (`jobs.sql.limit_query`): the values of
        `COUNTED`, then the count of each window of `windows`, in order.

        >>> from detectors.config import load_config
        >>> row = Limits(load_config(), "ip").counted_row(["10.0.0.9", 1767600030000, None, 1767600000000, 61])
        >>> row.subject, row.features, [h.reason for h, _ in row.hits]
        ('10.0.0.9', {'profile_views_1m': 61}, ['ip_profile_views_1m'])
        """
        subject, ts, created_at, first_view = values[: len(COUNTED)]
        counts = dict(zip(self.windows, values[len(COUNTED) :], strict=True))
        return self.request_row(subject, ts, counts, created_at, first_view)

    def minute_row(self, subject: str, rowtime: int, ts: int, state: Any, features: dict[str, Any]) -> Row | None:
        """A subject-minute's long-window counts to a scorer row, when a rate rule hits."""
        if not self.long:
            return None
        minute = rowtime - rowtime % MINUTE_MS
        counts: dict[str, Any] = {
            f"profile_views_{label}": features[_SAME.get((self.subject_type, ms), "")]
            if (self.subject_type, ms) in _SAME
            else state.views_in(minute, ms)
            for label, ms in self.long_windows.items()
        }
        if self.tiers is not None:
            counts.update(
                {k: features[k] for k in ("account_age_s", "account_created_at", "account_created_at_source")}
            )
            counts["tier"] = "standard"
        hits = self._hits(self.long, subject, counts)
        if hits and self.tiers is not None:  # a tier only raises quotas: under the standard ones, none can hit
            counts["tier"], _ = self.tiers.of(features)
            hits = self._hits(self.tiered.get(counts["tier"], self.long), subject, counts)
            wanting = self.tiers.wanting(features)
            if counts["tier"] == "standard" and wanting:
                counts["human_wanting"] = sorted(wanting)  # for `retier`, once the scorer knows what the logs carry
        return Row(rowtime, LIMITS, self.subject_type, subject, ts, counts, hits) if hits else None

    def retier(self, row: Row, carried: frozenset[str]) -> Row:
        """A `standard` account's minute row that only kinds of the logs not `carried` kept from `human`, under the
        human quotas: absence is evidence only of what the logs carry (`detectors.absence`)."""
        wanting = row.features.get("human_wanting")
        if not wanting or carried.intersection(wanting):
            return row
        features = {**row.features, "tier": "human"}
        return row._replace(features=features, hits=self._hits(self.tiered.get("human", self.long), row.subject,
                                                               features))  # fmt: skip

    def _hits(self, rules: list[Rule], subject: str, features: dict[str, Any]) -> tuple[Tagged, ...]:
        """Every rule's hits; for an allowlisted subject only its quota throttle (dropped here, so a busy
        partner costs nothing further on)."""
        match = self.allow.match(self.subject_type, subject)
        if match is not None:
            quota = self.allow.quota_hit(match, features)
            return () if quota is None else ((quota, "limits"),)
        return tuple((h, "limits") for rule in rules for h in rule.evaluate(features))


COUNTED = ("subject", "ts", "created_at", "first_view")
"""What the job's short-window SQL reports of a counted request over a limit, before its window counts."""

_SAME = {
    ("account", 600_000): "views_10m",
    ("account", 3_600_000): "views_1h",
    ("account", 86_400_000): "views_24h",
    ("ip", 600_000): "logged_out_views_10m",
    ("ip", 3_600_000): "logged_out_views_1h",
}
"""Long windows whose count the rolling features already hold (same resolution as `views_in`)."""


def _windows(rules: list[Rule]) -> dict[str, int]:
    windows: dict[str, int] = {}
    for rule in rules:
        windows.update(rule.windows)
    return dict(sorted(windows.items(), key=lambda kv: kv[1]))


def short_window_rows(requests: list[RequestFacts], limits: Limits) -> list[Row]:
    """Reference of the job's per-request SQL: each counted request over some short-window limit, with its counts
    as `Limits.crossed` reports them."""
    key = "account" if limits.subject_type == "account" else "ip"
    counted: dict[str, list[RequestFacts]] = defaultdict(list)
    for f in requests:
        subject = getattr(f, key)
        if limits.counts(subject, f.view, f.account):
            counted[subject].append(f)
    rows = []
    for subject, fs in counted.items():
        windows = SubjectFeatures([f.ts for f in fs], limits.windows)
        created = _running_min_created(fs)
        for f in fs:
            counts = limits.crossed({k[14:]: v for k, v in windows.at(f.ts).items()})
            if any(counts.values()):
                row = limits.request_row(subject, f.ts, counts, created[f.ts], fs[0].ts)
                if row is not None:
                    rows.append(row)
    return rows


def _running_min_created(fs: list[RequestFacts]) -> dict[int, int | None]:
    """Per event time, the earliest `created_at` carried by requests up to and including that time (requests at
    one time all see each other, as in SQL's RANGE windows)."""
    at: dict[int, list[int]] = defaultdict(list)
    for f in fs:
        at[f.ts] += [] if f.created_at is None else [f.created_at]
    out: dict[int, int | None] = {}
    lowest: int | None = None
    for ts, values in sorted(at.items()):
        lowest = min([*values, *([] if lowest is None else [lowest])], default=None)
        out[ts] = lowest
    return out


# -- rolling state: features, long limits, behaviour rules ---------------------------------------------------


class Routed(NamedTuple):
    """Where one subject-minute goes: scorer rows, learner observations, and rows for coordination, each with the
    key of its group (`<layer name>|<group>`, see `groupings`)."""

    score: list[Row]
    learn: list[Observation]
    group: list[tuple[str, Row]]


class Behave:
    """Step 3 for one kind of subject (`account`, `ip`, `network` or `path`): its rolling state, rules and
    routing."""

    def __init__(self, config: Config, kind: str) -> None:
        self.kind = kind
        self.subject_type = kind if kind in ("account", "path") else "ip"
        self.night = tuple(config.section("features", "night_utc_hours"))
        self.limits = Limits(config, self.subject_type) if kind in SUBJECT_TYPES else None
        self.rules = [r for r in build_behaviour_rules(config) if r.subject_type == kind]
        self.allow = Allowlist(config)
        models = config.section("models")
        self.gate = (
            models["anomaly"]["min_views_1h"] if models["anomaly"]["enabled"] or models["verdicts"]["enabled"] else None
        )
        self.sample_every = models["sample_every"]
        self.groupings = groupings(config, self.subject_type) if kind != "network" else {}

    def new_state(self) -> AccountBehaviour | AddressBehaviour:
        """A subject's state before its first minute."""
        return AccountBehaviour(self.night) if self.kind == "account" else AddressBehaviour()

    def step(self, state: Any, minute: Any) -> Routed:
        """One minute summary (`AccountMinute` or `AddressMinute`) through the subject's state (updated in place)."""
        features = state.update(minute)
        rowtime, ts, subject = minute.minute + MINUTE_MS - 1, minute.last_ts, minute.subject
        score: list[Row] = []
        limit_row = self.limits.minute_row(subject, rowtime, ts, state, features) if self.limits else None
        if limit_row is not None:
            score.append(limit_row)
        tagged = tuple((h, "behaviour") for r in self.rules for h in r.evaluate(features))
        gated = self.gate is not None and self.kind == "account" and (features.get("views_1h") or 0) >= self.gate
        if self.kind != "network" and (tagged or gated):
            score.append(Row(rowtime, BEHAVIOUR, self.subject_type, subject, ts, features, tagged, gated))
        group = self._group(state, subject, rowtime, ts, features)
        learn = []
        if self.kind != "path" and in_sample(subject, self.sample_every):
            learnable = not tagged and limit_row is None and self.allow.match(self.subject_type, subject) is None
            learn.append(Observation(rowtime, "sample", self.kind, subject, ts, features, learnable))
        if self.kind == "account" and (score or group):  # whatever may act on it: a verdict learns its features
            learn.append(Observation(rowtime, "remember", self.subject_type, subject, ts, features))
        return Routed(score, learn, group)

    def _group(
        self, state: Any, subject: str, rowtime: int, ts: int, features: dict[str, Any]
    ) -> list[tuple[str, Row]]:
        """The rows for coordination, one per grouping layer: crawling rows, and the first one after crawling
        stopped (so the member leaves its group)."""
        out = []
        was: set[str] = getattr(state, "grouped", set())
        now = {name for name, layer in self.groupings.items() if layer.crawling(features)}
        state.grouped = now
        for name in sorted(now | was):
            key = self.groupings[name].key(features)
            if key is not None:
                out.append((f"{name}|{key}", Row(rowtime, BEHAVIOUR, self.subject_type, subject, ts, features)))
        return out


# -- coordination --------------------------------------------------------------------------------------------


Grouping = Coordination | AddressFleet | BareAccounts | Surge
GROUPED = ("account", "ip", "path")
"""The subject types whose rows coordination layers group."""


def kinds(config: Config) -> list[str]:
    """The kinds of minute summaries the configuration needs: `path` only for the surge layer."""
    c = config.section("coordination")
    return [k for k in KINDS if k != "path" or (c["enabled"] and c["surge"]["enabled"])]


def declares(config: Config) -> Callable[[str], bool] | None:
    """What `facts` asks of a logged-out request's address where the access path is summarised: whether the
    allowlist declares it (`RequestFacts.declared`); None elsewhere, so no other job pays for the look-up."""
    return Allowlist(config).declares if "path" in kinds(config) else None


def every_grouping(config: Config) -> dict[str, Grouping]:
    """The coordination layers of every subject type, by name."""
    return {name: layer for t in GROUPED for name, layer in groupings(config, t).items()}


def groupings(config: Config, subject_type: str) -> dict[str, Grouping]:
    """The coordination layers of a subject type the configuration asks for, by name: `cohort` (accounts of
    one user agent and creation hour), `bare-user_agent` and `bare-network` (bare accounts), `block` (bare
    addresses), `surge` (the access path)."""
    c = config.section("coordination")
    if not c["enabled"]:
        return {}
    if subject_type == "path":
        s = {k: v for k, v in c["surge"].items() if k not in ("enabled", "dismiss_grace")}  # the grace: the policy's
        return {"surge": Surge(**s)} if c["surge"]["enabled"] else {}
    if subject_type == "ip":
        a, r = c["addresses"], c["addresses"]["ranges"]
        scope = {"range_min_addresses": r["min_addresses"] if r["enabled"] else 0, "prefix_v4": r["prefix_v4"],
                 "prefix_v6": r["prefix_v6"], "range_action": r["action"]}  # fmt: skip
        fleet = {k: a[k] for k in ("block", "min_members", "window_minutes", "action", "max_per_id")}
        return {"block": AddressFleet(**fleet, **scope)} if a["enabled"] else {}
    out: dict[str, Grouping] = {
        "cohort": Coordination(**{k: c[k] for k in ("min_members", "min_views_1h", "min_density", "action")})
    }
    b = c["accounts"]
    if b["enabled"]:
        for by in b["by"]:
            params = {k: b[k] for k in ("min_members", "min_views_1h", "window_minutes", "action")}
            out[f"bare-{by}"] = BareAccounts(by, **params)
    return out


def grouping(config: Config, key: str) -> Grouping:
    """A new layer for the group `key` (`<layer name>|<group>`, as `Behave` keys its rows)."""
    name = key.split("|", 1)[0]
    return groupings(config, {"block": "ip", "surge": "path"}.get(name, "account"))[name]


def group(layer: Grouping, rows: list[Row]) -> list[Row]:
    """Step 5: rows of one group, in canonical order, through it; a scorer row for each subject the group flags
    (for the fleets of bare addresses and accounts, the members seen before too; with range scope, network
    ranges). The group sees a row time's rows together (`Layer.ahead`) before it takes them one by one."""
    out: list[Row] = []
    for _, same in groupby(rows, key=lambda r: r.rowtime):
        batch = list(same)
        layer.ahead([(r.subject, r.features) for r in batch])
        for row in batch:
            layer.observe(row.subject, row.ts, row.features)
            out += [
                row._replace(subject_type=f.subject_type, subject=f.subject, ts=f.ts,
                             features=row.features if f.subject == row.subject else {},
                             hits=tuple((h, "coordination") for h in f.hits))
                for f in layer.flagged(row.subject, row.ts, row.features)
            ]  # fmt: skip
        layer.ahead([])
    return out


# -- learner -------------------------------------------------------------------------------------------------


def learn(learner: Learner, o: Observation) -> None:
    """Step 4: one observation into the learner."""
    if o.kind == "sample":
        learner.learn(o.subject_type, o.subject, o.ts, o.features, o.learnable)
    elif o.kind == "remember":
        learner.remember(o.subject_type, o.subject, o.ts, o.features)
    else:
        learner.verdict(o.subject_type, o.subject, o.verdict or "")


def verdict_row(v: Verdict) -> Row:
    """An analyst verdict as a scorer row."""
    return Row(v.ts, VERDICT, v.subject_type, v.subject, v.ts, {}, verdict=v.verdict)


def verdict_observation(v: Verdict) -> Observation:
    """An analyst verdict as a learner observation."""
    return Observation(v.ts, "verdict", v.subject_type, v.subject, v.ts, {}, verdict=v.verdict)


# -- scoring and decisions -----------------------------------------------------------------------------------


class Score:
    """Step 6: a subject's rows of one row time, assessed together and put through its policy state."""

    def __init__(self, config: Config) -> None:
        self.assessor = Assessor(config)
        self.policy = DecisionPolicy(config)
        self.absence = Absence(config, every_grouping(config).values())
        self.limits = Limits(config, "account")

    def run(self, version: Version, state: PolicyState, rows: list[Row]) -> list[Decision]:
        """Rows of one subject and row time, in canonical order: an assessment per source (limits, behaviour,
        verdicts), each through the policy state (updated in place); the decisions it emits.

        A source whose hits could not be stronger than the decision in force is not assessed: its
        decision would be absorbed, and the assessment (models, explanation) is the costly part.
        """
        decisions = []
        carried = self.absence.carried(version.population.logs)
        for source in sorted({r.source for r in rows}):
            # rows of one order (a subject's own row and a fleet's row on it, from different operators) are
            # taken by their hits, so the hits' order (and the explanation) does not depend on arrival
            same = sorted((r for r in rows if r.source == source), key=lambda r: (r.order(), _reasons(r)))
            first = same[0]
            if source == VERDICT:
                for r in same:
                    decision = self.policy.verdict(state, r.subject_type, r.subject, r.ts, r.verdict or "")
                    decisions += [decision] if decision is not None else []
                continue
            if source == LIMITS:
                same = [self.limits.retier(r, carried) for r in same]
            tagged = self.absence.keep(carried, [t for r in same for t in r.hits])
            gated = any(r.gated for r in same)
            ceiling = max((h.action for h, _ in tagged), key=ACTIONS.index, default=None)
            if source == BEHAVIOUR and (gated or len({layer for _, layer in tagged}) > 1):
                ceiling = ACTIONS[-1]  # models may add hits, and two layers escalate
            if ceiling is None or self.policy.absorbs(state, first.ts, ceiling):
                continue
            # the gated row's features, else any row's (a fleet's row for a member other than its own has none,
            # and may tie in order with the member's own row)
            features = next((r.features for r in same if r.gated), None) or next(
                (r.features for r in same if r.features), first.features
            )
            if source == LIMITS:
                a = self.assessor.limits(version, first.subject_type, first.subject, first.ts, features, tagged)
            else:
                a = self.assessor.behaviour(
                    version, first.subject_type, first.subject, first.ts, features, tagged, gated
                )
            if a is not None:
                decision = self.policy.decide(state, a.subject_type, a.subject, a.ts, a.hits, a.top_features)
                decisions += [decision] if decision is not None else []
        return decisions


def _reasons(row: Row) -> list[str]:
    return [h.reason for h, _ in row.hits]


# -- the reference run ---------------------------------------------------------------------------------------


def detect(
    events: Iterable[AccessEvent],
    config: Config,
    verdicts: Iterable[Verdict] = (),
    learner: Learner | None = None,
) -> list[Decision]:
    """Every step over events (and analyst verdicts) in memory; decisions in `decision_order`.

    `learner` warm-starts the models (and ends holding what they learned)."""
    verdicts = list(verdicts)
    routes, declared = config.routes, declares(config)
    requests = [facts(e, routes, declared) for e in sorted(events, key=AccessEvent.sort_key)]
    rows: list[Row] = []
    observations: list[Observation] = [verdict_observation(v) for v in verdicts]
    for subject_type in SUBJECT_TYPES:
        limits = Limits(config, subject_type)
        if limits.windows:
            rows += short_window_rows(requests, limits)
    grouped: list[tuple[str, Row]] = []
    for kind in kinds(config):
        behave = Behave(config, kind)
        states: dict[str, Any] = {}
        for minute in summarise(requests, kind):
            state = states.get(minute.subject)
            if state is None:
                state = states[minute.subject] = behave.new_state()
            routed = behave.step(state, minute)
            rows += routed.score
            observations += routed.learn
            grouped += routed.group
    layers = every_grouping(config)
    for key, same in groupby(sorted(grouped, key=lambda g: (g[0], g[1].order())), key=lambda g: g[0]):
        rows += group(layers[key.split("|", 1)[0]], [row for _, row in same])
    rows += [verdict_row(v) for v in verdicts]
    versions = learn_versions(learner or Learner(config), observations)
    return sorted(score(rows, config, versions), key=decision_order)


def learn_versions(learner: Learner, observations: list[Observation]) -> list[Version]:
    """The learner over its observations in canonical order, with a version at each epoch boundary passed
    (the first version, the learner as given, is in force from the start)."""
    versions = [learner.version(FIRST)]
    boundary: int | None = None
    for o in sorted(observations, key=Observation.order):
        if boundary is not None and o.rowtime >= boundary:
            versions.append(learner.version(boundary))
        if boundary is None or o.rowtime >= boundary:
            boundary = epoch_end(o.rowtime)
        learn(learner, o)
    if boundary is not None:
        versions.append(learner.version(boundary))
    return versions


def score(rows: Iterable[Row], config: Config, versions: list[Version]) -> list[Decision]:
    """Rows per subject in canonical order, a row time at a time, through the scorer and the policy."""
    step = Score(config)
    effective = [v.effective for v in versions]
    states: dict[tuple[str, str], PolicyState] = {}
    decisions = []
    for batch in _batches(sorted(rows, key=lambda r: (r.subject_type, r.subject, *r.order()))):
        version = versions[bisect.bisect_right(effective, batch[0].rowtime) - 1]
        state = states.setdefault((batch[0].subject_type, batch[0].subject), step.policy.new_state())
        decisions += step.run(version, state, batch)
    return decisions


def _batches(rows: list[Row]) -> Iterator[list[Row]]:
    """Consecutive rows of the same row time and subject."""
    batch: list[Row] = []
    for row in rows:
        if batch and (row.rowtime, row.subject_type, row.subject) != (
            batch[0].rowtime,
            batch[0].subject_type,
            batch[0].subject,
        ):
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


def decision_order(d: Decision) -> tuple[int, str, str, str]:
    """Canonical order of decisions in a file: event time, then subject, then id."""
    return (d.event_time, d.subject_type, d.subject, d.decision_id)
