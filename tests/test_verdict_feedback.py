"""Analyst verdicts on a handful of cases measurably change later scores (the issue's acceptance test).

Scraper-like and person-like accounts are built from one-minute summaries through the pipeline's `Behave` step
(their rolling features, behaviour rules and routing), the way the job computes them. What `Behave` routes to
the learner (and the verdicts) goes into a `Learner`; the rows it routes to the scorer are assessed with the
learner's `Version` by the stateless `Assessor`, and put through `Score.run`, all with the default configuration.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from detectors.assess import Assessment, Assessor
from detectors.config import load_config
from detectors.features.minutes import AccountMinute
from detectors.learner import EPOCH_MS, FIRST, Learner, Version, epoch_end
from detectors.pipeline import (
    BEHAVIOUR,
    Behave,
    Observation,
    Row,
    Score,
    learn,
    learn_versions,
    score,
    verdict_observation,
)
from detectors.policy import Decision
from detectors.verdicts import Verdict

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
M, D = 60_000, 86_400_000
CONFIG = load_config()
MIN_LABELS = CONFIG.section("models", "verdicts", "min_labels")
FLAG_ABOVE = CONFIG.section("models", "verdicts", "flag_above")
BEHAVE = Behave(CONFIG, "account")


def scraper_minute(name: str, k: int, i: int) -> AccountMinute:
    """Minute `i` of scraper `k`: a script walking its own id range, 40 profiles a minute, no assets, no referers."""
    start, lo = T0 + i * M, k * 100_000 + i * 40
    return AccountMinute(
        subject=name, minute=start, last_ts=start + 59_000, created_at=T0 - (30 + k) * D, first_view=start,
        requests=40, views=40, nav=0, noref=40, not_found=0, statics=0, targets=40, tmin=lo, tmax=lo + 39, ips=1,
        scripted=40, browser=0, user_agent="python-requests/2.31.0", network="10.9.0.0/24",
    )  # fmt: skip


def person_minute(name: str, k: int, i: int) -> AccountMinute:
    """Minute `i` of person `k`: a recruiter in a browser, 3 profiles a minute through "people also viewed"
    (referer set, but not search or the feed), loading assets, ids spread over the whole population."""
    start, lo = T0 + i * M, (k * 7919 + i * 104_729) % 900_000
    return AccountMinute(
        subject=name, minute=start, last_ts=start + 59_000, created_at=T0 - (300 + k) * D, first_view=start,
        requests=12, views=3, nav=1 if i % 4 == 0 else 0, noref=0, not_found=0, statics=5, targets=3, tmin=lo,
        tmax=lo + 50_000, ips=1, scripted=0, browser=12, user_agent="Mozilla/5.0 (X11; Linux) Chrome/120.0",
        network="10.1.0.0/24",
    )  # fmt: skip


class Case:
    """One account's minutes through `Behave`: its last scorer row and every learner observation on the way."""

    def __init__(self, kind: str, name: str, k: int, minutes: int) -> None:
        make = scraper_minute if kind == "scraper" else person_minute
        state = BEHAVE.new_state()
        self.learn: list[Any] = []
        for i in range(minutes):
            routed = BEHAVE.step(state, make(name, k, i))
            self.learn += routed.learn
        (self.row,) = [r for r in routed.score if r.source == BEHAVIOUR]
        self.ts, self.features = self.row.ts, self.row.features

    def later(self, ms: int) -> Row:
        """The same row, `ms` later."""
        return self.row._replace(rowtime=self.row.rowtime + ms, ts=self.row.ts + ms)


def assess(version: Version, row: Row) -> Assessment | None:
    return Assessor(CONFIG).behaviour(
        version, row.subject_type, row.subject, row.ts, row.features, list(row.hits), row.gated
    )


def reasons(a: Assessment | None) -> list[str]:
    return [] if a is None else [h.reason for h in a.hits]


def strongest(a: Assessment | None) -> str | None:
    order = ("throttle", "challenge", "block")
    return None if a is None else max((h.action for h in a.hits), key=order.index)


def decide(version: Version, row: Row) -> list[Decision]:
    """The scorer step on one row of a subject seen for the first time."""
    step = Score(CONFIG)
    return step.run(version, step.policy.new_state(), [row])


def assess_cases(learner: Learner) -> None:
    """Three scraper-like and three person-like accounts, each routed to the scorer so that it is remembered."""
    for k in range(MIN_LABELS):
        for kind, minutes in (("scraper", 20 + k), ("person", 40 + k)):
            case = Case(kind, f"{kind}{k}", k, minutes)
            assert [o.kind for o in case.learn if o.kind == "remember"], f"{kind}{k} was never remembered"
            for o in case.learn:
                learn(learner, o)
            hit = reasons(assess(learner.version(FIRST), case.row))
            assert hit, f"{kind}{k} hit nothing"
            if kind == "person":
                assert hit == ["steady_profile_crawl"]  # a plausible false positive an analyst dismisses


def verdicts(ts: int, scrapers: int = MIN_LABELS, people: int = MIN_LABELS) -> list[Verdict]:
    """Analysts confirming the scraper cases and dismissing the person cases, alternately."""
    out = []
    for k in range(max(scrapers, people)):
        out += [Verdict(ts, "account", f"scraper{k}", "confirm")] if k < scrapers else []
        out += [Verdict(ts, "account", f"person{k}", "dismiss")] if k < people else []
    return out


def send_verdicts(learner: Learner, ts: int, scrapers: int = MIN_LABELS, people: int = MIN_LABELS) -> None:
    for v in verdicts(ts, scrapers, people):
        learn(learner, verdict_observation(v))


def test_verdicts_on_a_handful_of_cases_change_later_scores() -> None:
    """After 3 confirmed scrapers and 3 dismissed people the verdict model scores new accounts: a similar
    scraper above 0.5 (and above flag_above, adding a `verdict_model` hit that corroborates the rules into a
    block) and a similar person below 0.5; before the verdicts it scored nothing and the same row only hit rules."""
    learner = Learner(CONFIG)
    new_scraper, new_person = Case("scraper", "scraper-new", 7, 25), Case("person", "person-new", 7, 45)
    assert new_scraper.row.gated and new_person.row.gated  # both reach the models
    assert learner.verdicts is not None

    before_version = learner.version(FIRST)
    assert before_version.verdicts is not None and before_version.verdicts.predict(new_scraper.features) is None
    assert before_version.verdicts.predict(new_person.features) is None
    before = assess(before_version, new_scraper.row)
    assert "sequential_targets" in reasons(before) and "verdict_model" not in reasons(before)
    assert strongest(before) == "challenge"
    assert [d.action for d in decide(before_version, new_scraper.row)] == ["challenge"]

    assess_cases(learner)
    send_verdicts(learner, new_person.ts + M)
    version = learner.version(FIRST)
    assert version.verdicts is not None

    p_scraper, p_person = version.verdicts.predict(new_scraper.features), version.verdicts.predict(new_person.features)
    assert p_scraper is not None and p_person is not None
    assert p_scraper > 0.5 > p_person
    assert p_scraper >= FLAG_ABOVE

    after = assess(version, new_scraper.later(M))
    assert after is not None
    (model_hit,) = [h for h in after.hits if h.reason == "verdict_model"]
    assert (model_hit.action, model_hit.score) == ("challenge", p_scraper)
    assert model_hit.evidence == {"verdict_model_probability": p_scraper}
    assert strongest(after) == "block"  # rules and the verdict model: two layers, corroborated one step up
    (decision,) = decide(version, new_scraper.later(M))
    assert decision.action == "block" and {"verdict_model", "corroborated"} <= set(decision.reasons)
    assert decision.evidence["verdict_model_probability"] == p_scraper
    assert "verdict_model" not in reasons(assess(version, new_person.later(M)))


def verdict_timeline(later: dict[str, int]) -> dict[str, list[str]]:
    """The three scraper and three person cases, the analysts' verdicts a minute after the last case, and the new
    scraper's row at each `later` row time (as the pipeline routes it: to the scorer and, remembered, to the
    learner), through `learn_versions` and `score`: per row, whether the verdict model added its hit."""
    cases = [Case(kind, f"{kind}{k}", k, 20 + k if kind == "scraper" else 40 + k)
             for k in range(MIN_LABELS) for kind in ("scraper", "person")]  # fmt: skip
    new_scraper = Case("scraper", "scraper-new", 7, 25)
    rows = {when: new_scraper.later(t - new_scraper.row.rowtime) for when, t in later.items()}
    observations = [o for c in cases for o in c.learn] + [verdict_observation(v) for v in verdicts(verdicts_at())]
    observations += [Observation(r.rowtime, "remember", "account", r.subject, r.ts, r.features) for r in rows.values()]
    versions = learn_versions(Learner(CONFIG), observations)
    out = {}
    for when, row in rows.items():
        (decision,) = score([row], CONFIG, versions)  # each with a fresh policy state
        out[when] = [r for r in decision.reasons if r == "verdict_model"]
    return out


def verdicts_at() -> int:
    """When the analysts' verdicts come: a minute after the last case's last row."""
    return T0 + (40 + MIN_LABELS - 1) * M + M


def test_verdicts_take_effect_at_the_next_epoch_boundary() -> None:
    """The learner learns the verdicts at once, but scorers get them with the version published at the first
    epoch boundary after them (so every run, at any parallelism, scores a row with the same model): the new
    scraper's rows before that boundary get no `verdict_model` hit, rows from it on do."""
    at, boundary = verdicts_at(), epoch_end(verdicts_at())
    assert boundary - at > M
    later = {"after the verdicts": at + 1, "before the boundary": boundary - 1, "at the boundary": boundary,
             "an epoch later": boundary + EPOCH_MS}  # fmt: skip
    assert verdict_timeline(later) == {
        "after the verdicts": [],
        "before the boundary": [],
        "at the boundary": ["verdict_model"],
        "an epoch later": ["verdict_model"],
    }


def test_without_verdicts_the_same_rows_score_nothing() -> None:
    """Control: the same cases and later row without any verdict leave the verdict model silent."""
    learner = Learner(CONFIG)
    assess_cases(learner)
    new_scraper = Case("scraper", "scraper-new", 7, 25)
    version = learner.version(FIRST)
    assert version.verdicts is not None and version.verdicts.predict(new_scraper.features) is None
    assert "verdict_model" not in reasons(assess(version, new_scraper.row))


def test_verdicts_on_subjects_without_remembered_features_teach_nothing() -> None:
    """A verdict on an account never assessed, or on an IP address, adds no label to the verdict model."""
    learner = Learner(CONFIG)
    assess_cases(learner)
    assert learner.verdicts is not None
    learn(learner, verdict_observation(Verdict(T0, "account", "never-seen", "confirm")))
    learn(learner, verdict_observation(Verdict(T0, "ip", "10.9.0.1", "confirm")))
    learner.remember("ip", "10.9.0.1", T0, {"logged_out_views_10m": 30})  # remembered, but not an account
    learn(learner, verdict_observation(Verdict(T0, "ip", "10.9.0.1", "confirm")))
    assert learner.verdicts.labels == {True: 0, False: 0}
    learn(learner, verdict_observation(Verdict(T0, "account", "scraper0", "confirm")))
    assert learner.verdicts.labels == {True: 1, False: 0}


def test_too_few_verdicts_do_not_count_yet() -> None:
    """With one class short of min_labels the model stays inactive and adds no hit."""
    learner = Learner(CONFIG)
    assess_cases(learner)
    send_verdicts(learner, T0, people=MIN_LABELS - 1)
    assert learner.verdicts is not None and learner.verdicts.labels == {True: MIN_LABELS, False: MIN_LABELS - 1}
    new_scraper = Case("scraper", "scraper-new", 7, 25)
    version = learner.version(FIRST)
    assert version.verdicts is not None and version.verdicts.predict(new_scraper.features) is None
    assert "verdict_model" not in reasons(assess(version, new_scraper.row))
    learn(learner, verdict_observation(Verdict(T0, "account", f"person{MIN_LABELS - 1}", "dismiss")))
    assert learner.verdicts.active  # the missing one: now it counts
    assert "verdict_model" in reasons(assess(learner.version(FIRST), new_scraper.row))


def test_the_review_queue_benchmark_confirms_scrapers_acted_on_and_dismisses_heavy_people_not_acted_on() -> None:
    from benchmarks.bench_verdicts import queue

    def decision(subject: str, t: int, action: str = "challenge", subject_type: str = "account") -> Decision:
        return Decision("id", subject_type, subject, action, 0.5, [], {}, t, t + M, "v")

    labels = {f"account:{s}": kind for s, kind in
              (("s1", "scraper_low_and_slow"), ("s2", "scraper_botnet"), ("p1", "benign_user"),
               ("p2", "benign_power_recruiter"), ("p3", "benign_user"))}  # fmt: skip
    decisions = [decision("s1", T0 + 5 * M), decision("s1", T0 + 9 * M, "block"), decision("p1", T0 + M),
                 decision("p3", T0, "unblock"), decision("10.0.0.1", T0, subject_type="ip")]  # fmt: skip
    requests = Counter({"p1": 900, "p2": 500, "s2": 400, "p3": 300, "p4": 200})
    assert queue(decisions, labels, requests, T0, dismiss=5) == [
        Verdict(T0 + 20 * M, "account", "s1", "confirm"),  # 15 minutes after its first action; s2 was never acted on
        Verdict(T0 + 30 * M, "account", "p2", "dismiss"),  # the heaviest people not acted on (p4 has no label)
        Verdict(T0 + 31 * M, "account", "p3", "dismiss"),  # an unblock is no action
    ]
