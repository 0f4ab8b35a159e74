"""Analyst verdicts on a handful of cases measurably change later scores (the issue's acceptance test).

Scraper-like and person-like accounts are built from one-minute summaries through `AccountBehaviour`, the
way the job computes their features, and assessed by an `Assessor` with the default configuration.
"""

from __future__ import annotations

from typing import Any

from detectors.assess import Assessment, Assessor
from detectors.config import load_config
from detectors.features.behaviour import AccountBehaviour
from detectors.features.minutes import AccountMinute

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
M, D = 60_000, 86_400_000
CONFIG = load_config()
MIN_LABELS = CONFIG.section("models", "verdicts", "min_labels")
FLAG_ABOVE = CONFIG.section("models", "verdicts", "flag_above")


def scraper_minute(name: str, k: int, i: int) -> AccountMinute:
    """Minute `i` of scraper `k`: a script walking its own id range, 40 profiles a minute, no assets, no referers."""
    start, lo = T0 + i * M, k * 100_000 + i * 40
    return AccountMinute(
        subject=name, minute=start, last_ts=start + 59_000, created_at=T0 - (30 + k) * D, first_ts=start,
        requests=40, views=40, nav=0, noref=40, not_found=0, statics=0, targets=40, tmin=lo, tmax=lo + 39, ips=1,
        scripted=40, browser=0, user_agent="python-requests/2.31.0", network="10.9.0.0/24",
    )  # fmt: skip


def person_minute(name: str, k: int, i: int) -> AccountMinute:
    """Minute `i` of person `k`: a recruiter in a browser, 3 profiles a minute through "people also viewed"
    (referer set, but not search or the feed), loading assets, ids spread over the whole population."""
    start, lo = T0 + i * M, (k * 7919 + i * 104_729) % 900_000
    return AccountMinute(
        subject=name, minute=start, last_ts=start + 59_000, created_at=T0 - (300 + k) * D, first_ts=start,
        requests=12, views=3, nav=1 if i % 4 == 0 else 0, noref=0, not_found=0, statics=5, targets=3, tmin=lo,
        tmax=lo + 50_000, ips=1, scripted=0, browser=12, user_agent="Mozilla/5.0 (X11; Linux) Chrome/120.0",
        network="10.1.0.0/24",
    )  # fmt: skip


def behaviour(kind: str, name: str, k: int, minutes: int) -> tuple[int, dict[str, Any]]:
    """The account's event time and features after `minutes` minutes of its behaviour."""
    make = scraper_minute if kind == "scraper" else person_minute
    b, features = AccountBehaviour(), {}
    for i in range(minutes):
        row = make(name, k, i)
        features = b.update(row)
    return row.last_ts, features


def reasons(a: Assessment | None) -> list[str]:
    return [] if a is None else [h.reason for h in a.hits]


def strongest(a: Assessment | None) -> str | None:
    order = ("throttle", "challenge", "block")
    return None if a is None else max((h.action for h in a.hits), key=order.index)


def assess_cases(assessor: Assessor) -> None:
    """Three scraper-like and three person-like accounts, each hitting a behaviour rule so it is remembered."""
    for k in range(MIN_LABELS):
        for kind, minutes in (("scraper", 20 + k), ("person", 40 + k)):
            ts, features = behaviour(kind, f"{kind}{k}", k, minutes)
            hit = reasons(assessor.behaviour("account", f"{kind}{k}", ts, features))
            assert hit, f"{kind}{k} hit no rule, so its features are not remembered"
            if kind == "person":
                assert hit == ["steady_profile_crawl"]  # a plausible false positive an analyst dismisses


def send_verdicts(assessor: Assessor, ts: int) -> None:
    for k in range(MIN_LABELS):
        assessor.verdict("account", f"scraper{k}", ts, "confirm")
        assessor.verdict("account", f"person{k}", ts, "dismiss")


def test_verdicts_on_a_handful_of_cases_change_later_scores() -> None:
    """After 3 confirmed scrapers and 3 dismissed people the verdict model scores new accounts: a similar
    scraper above 0.5 (and above flag_above, adding a `verdict_model` hit that corroborates the rules into a
    block) and a similar person below 0.5; before the verdicts it scored nothing and the same row only hit rules."""
    assessor = Assessor(CONFIG)
    ts_scraper, new_scraper = behaviour("scraper", "scraper-new", 7, 25)
    ts_person, new_person = behaviour("person", "person-new", 7, 45)
    assert assessor.verdicts is not None

    assert assessor.verdicts.predict(new_scraper) is None
    assert assessor.verdicts.predict(new_person) is None
    before = assessor.behaviour("account", "scraper-new", ts_scraper, new_scraper)
    assert "sequential_targets" in reasons(before) and "verdict_model" not in reasons(before)
    assert strongest(before) == "challenge"

    assess_cases(assessor)
    send_verdicts(assessor, ts_person + M)

    p_scraper, p_person = assessor.verdicts.predict(new_scraper), assessor.verdicts.predict(new_person)
    assert p_scraper is not None and p_person is not None
    assert p_scraper > 0.5 > p_person
    assert p_scraper >= FLAG_ABOVE

    after = assessor.behaviour("account", "scraper-new", ts_scraper + M, new_scraper)
    assert after is not None
    (model_hit,) = [h for h in after.hits if h.reason == "verdict_model"]
    assert (model_hit.action, model_hit.score) == ("challenge", p_scraper)
    assert model_hit.evidence == {"verdict_model_probability": p_scraper}
    assert strongest(after) == "block"  # rules and the verdict model: two layers, corroborated one step up
    person_after = assessor.behaviour("account", "person-new", ts_person + M, new_person)
    assert "verdict_model" not in reasons(person_after)


def test_without_verdicts_the_same_rows_score_nothing() -> None:
    """Control: the same cases and later row without any verdict leave the verdict model silent."""
    assessor = Assessor(CONFIG)
    assess_cases(assessor)
    ts, new_scraper = behaviour("scraper", "scraper-new", 7, 25)
    assert assessor.verdicts is not None and assessor.verdicts.predict(new_scraper) is None
    assert "verdict_model" not in reasons(assessor.behaviour("account", "scraper-new", ts, new_scraper))


def test_verdicts_on_subjects_without_remembered_features_teach_nothing() -> None:
    """A verdict on an account never assessed, or on an IP address, adds no label to the verdict model."""
    assessor = Assessor(CONFIG)
    assess_cases(assessor)
    assert assessor.verdicts is not None
    assessor.verdict("account", "never-seen", T0, "confirm")
    assessor.verdict("ip", "10.9.0.1", T0, "confirm")
    assert assessor.verdicts.labels == {True: 0, False: 0}
    assessor.verdict("account", "scraper0", T0, "confirm")
    assert assessor.verdicts.labels == {True: 1, False: 0}


def test_too_few_verdicts_do_not_count_yet() -> None:
    """With one class short of min_labels the model stays inactive and adds no hit."""
    assessor = Assessor(CONFIG)
    assess_cases(assessor)
    for k in range(MIN_LABELS):
        assessor.verdict("account", f"scraper{k}", T0, "confirm")
    for k in range(MIN_LABELS - 1):
        assessor.verdict("account", f"person{k}", T0, "dismiss")
    ts, new_scraper = behaviour("scraper", "scraper-new", 7, 25)
    assert assessor.verdicts is not None and assessor.verdicts.predict(new_scraper) is None
    assert "verdict_model" not in reasons(assessor.behaviour("account", "scraper-new", ts, new_scraper))
