"""Detection layers past the rate limits: behaviour rules, allowlist, population, coordination, models, the
stateless assessor (fusion and explanation, given a learner's `Version`) and the learner's warm start."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from detectors.allowlist import Allowlist
from detectors.assess import Assessor, Tagged, explain
from detectors.config import Config, load_config
from detectors.coordination import Coordination, cohort_key
from detectors.events import parse_line
from detectors.features.minutes import AccountMinute, AddressMinute
from detectors.learner import EPOCH_MS, FIRST, Learner, Version, in_sample
from detectors.models.anomaly import AnomalyModel, scale
from detectors.models.supervised import VerdictModel
from detectors.pipeline import BEHAVIOUR, Behave, Row, detect, group
from detectors.population import Population
from detectors.rules import BehaviourRule, Hit, build_behaviour_rules

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
M, H, D = 60_000, 3_600_000, 86_400_000
CONFIG = load_config()


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "platform.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


# --- behaviour rules ---------------------------------------------------------------------------------

RULE = {
    "name": "fast_walk",
    "subject": "account",
    "action": "challenge",
    "when": {"views_1h": ">= 15", "target_density_1h": "> 0.2", "nav_share_1h": "<= 0.1"},
}


def test_behaviour_rule_hits_when_every_condition_holds() -> None:
    """All conditions true: one hit with each feature's value beside its condition."""
    (hit,) = BehaviourRule(RULE).evaluate({"views_1h": 15, "target_density_1h": 0.21, "nav_share_1h": 0.1, "x": 1})
    assert hit == Hit(
        "fast_walk",
        "challenge",
        0.75,
        {
            "views_1h": 15, "limit_views_1h": ">= 15",
            "target_density_1h": 0.21, "limit_target_density_1h": "> 0.2",
            "nav_share_1h": 0.1, "limit_nav_share_1h": "<= 0.1",
        },
    )  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [{"views_1h": 14}, {"target_density_1h": 0.2}, {"nav_share_1h": 0.11}, {"nav_share_1h": None}],
)
def test_behaviour_rule_one_failing_or_missing_condition_is_no_hit(change: dict[str, Any]) -> None:
    """A conjunction: one condition just off its bound, or a missing feature, means no hit."""
    features = {"views_1h": 15, "target_density_1h": 0.21, "nav_share_1h": 0.1, **change}
    features = {k: v for k, v in features.items() if v is not None}
    assert BehaviourRule(RULE).evaluate(features) == []


def test_behaviour_rule_equality_and_strict_less() -> None:
    """`==` and `<` compare as written."""
    rule = BehaviourRule({"name": "r", "subject": "ip", "action": "block", "when": {"a": "== 3", "b": "< -1.5"}})
    assert [h.reason for h in rule.evaluate({"a": 3, "b": -2})] == ["r"]
    assert rule.evaluate({"a": 3, "b": -1.5}) == [] and rule.evaluate({"a": 4, "b": -2}) == []
    assert (rule.subject_type, rule.action, rule.features) == ("ip", "block", ["a", "b"])


def test_build_behaviour_rules_reads_the_config_list(tmp_path: Path) -> None:
    """The configured `[[rules.behaviour]]` list (replacing the defaults) becomes the rules, in order."""
    defaults = build_behaviour_rules(CONFIG)
    assert "sequential_targets" in [r.name for r in defaults]
    assert {r.subject_type for r in defaults} == {"account", "ip"}
    custom = config(
        tmp_path,
        "[[rules.behaviour]]\nname = 'only'\nsubject = 'ip'\naction = 'throttle'\nwhen = { requests_10m = '> 100' }\n",
    )
    (rule,) = build_behaviour_rules(custom)
    assert (rule.name, rule.subject_type, rule.action) == ("only", "ip", "throttle")
    assert rule.evaluate({"requests_10m": 101}) and not rule.evaluate({"requests_10m": 100})


# --- allowlist ----------------------------------------------------------------------------------------

ALLOW_TOML = """
[allowlist]
accounts = ["staff-1"]
cidrs = ["192.0.2.0/24", "2001:db8::/32"]
partners = [{ name = "acme", account = "partner-acme", cidrs = ["198.51.100.0/28"], max_views_per_hour = 100 }]
crawlers = [{ name = "googlebot", user_agent = "Googlebot", cidrs = ["66.249.64.0/19"], max_views_per_minute = 60 }]
"""


@pytest.mark.parametrize(
    "subject_type, subject, match",
    [
        ("account", "staff-1", ("account", None, None)),
        ("account", "partner-acme", ("partner:acme", "views_1h", 100)),
        ("account", "someone", None),
        ("ip", "192.0.2.77", ("cidr", None, None)),
        ("ip", "2001:db8:5::1", ("cidr", None, None)),
        ("ip", "198.51.100.15", ("partner:acme", None, None)),
        ("ip", "198.51.100.16", None),
        ("ip", "66.249.95.255", ("crawler:googlebot", "logged_out_views_1m", 60)),
        ("ip", "66.249.96.0", None),
        ("network", "66.249.64.0/24", ("crawler:googlebot", "logged_out_views_1m", 60)),  # a range it overlaps
        ("network", "66.0.0.0/8", ("crawler:googlebot", "logged_out_views_1m", 60)),  # wider, holding it
        ("network", "66.249.96.0/24", None),
        ("ip", "staff-1", None),
    ],
)
def test_allowlist_match(tmp_path: Path, subject_type: str, subject: str, match: tuple | None) -> None:
    """Accounts by name, partners by account (with an hourly quota) and CIDRs, crawlers only by their ranges; a
    network range by any allowlisted network it overlaps."""
    assert Allowlist(config(tmp_path, ALLOW_TOML)).match(subject_type, subject) == match


def test_allowlist_quota_hit_only_over_the_quota() -> None:
    """Over the quota a throttle; at it, or without a quota, nothing. Rate-limit names count too."""
    crawler = ("crawler:googlebot", "logged_out_views_1m", 60)
    assert Allowlist.quota_hit(crawler, {"logged_out_views_1m": 60}) is None
    assert Allowlist.quota_hit(crawler, {"logged_out_views_1m": 61}) == Hit(
        "allowlist_quota",
        "throttle",
        0.5,
        {"allowlist": "crawler:googlebot", "logged_out_views_1m": 61, "limit_logged_out_views_1m": 60},
    )
    assert Allowlist.quota_hit(crawler, {"profile_views_1m": 61}) is not None
    assert Allowlist.quota_hit(crawler, {"views_1h": 10_000}) is None
    assert Allowlist.quota_hit(("cidr", None, None), {"logged_out_views_1m": 10_000}) is None


# --- population -------------------------------------------------------------------------------------


def test_population_percentile_per_subject_type_and_feature() -> None:
    """Percentiles are kept apart per subject type; unseen features and non-numbers have none."""
    p = Population()
    for v in range(10):
        p.add("account", {"views_1h": v, "nav_share_1h": v / 10, "user_agent": "x", "flag": True})
    p.add("ip", {"views_1h": 1000})
    assert p.percentile("account", "views_1h", 4) == 50.0
    assert p.percentile("account", "nav_share_1h", 0.25) == 30.0
    assert p.percentile("ip", "views_1h", 4) == 0.0
    assert p.percentile("account", "views_1h", -1) == 0.0
    assert p.percentile("account", "user_agent", "x") is None
    assert p.percentile("account", "flag", 1) is None
    assert p.percentile("account", "missing", 1) is None
    assert p.percentile("account", "views_1h", "4") is None


def test_population_large_values_to_about_five_percent() -> None:
    """Above 100 the histogram has about 5% steps: 1000 and 1020 share a bucket, 1200 is two buckets up."""
    p = Population()
    for v in (1000, 1020, 1200):
        p.add("account", {"views_24h": v})
    assert p.percentile("account", "views_24h", 1000) == pytest.approx(66.67)
    assert p.percentile("account", "views_24h", 1100) == pytest.approx(66.67)
    assert p.percentile("account", "views_24h", 1300) == 100.0


# --- coordination -------------------------------------------------------------------------------------

CRAWL = {
    "views_1h": 12,
    "target_density_1h": 0.7,
    "user_agent": "bot-ua",
    "account_created_at": "2026-01-05T07:10:00.000Z",
    "network": "10.192.0.0/24",
}


def member(i: int, lo: int | None = None, **kw: Any) -> dict[str, Any]:
    start = 100 * i if lo is None else lo
    return {**CRAWL, "target_min_1h": start, "target_max_1h": start + 20, **kw}


def see(c: Coordination, account: str, ts: int, features: dict[str, Any]) -> list[Hit]:
    """One account row through its cohort, as the pipeline's `group` step does; the fleet hits it gets."""
    rows = group(c, [Row(ts, BEHAVIOUR, "account", account, ts, features)])
    if not rows:
        return []
    (row,) = rows  # a cohort flags only the account of the row
    assert row.subject == account and {layer for _, layer in row.hits} == {"coordination"}
    return [h for h, _ in row.hits]


def test_coordination_fleet_with_disjoint_ranges() -> None:
    """The third crawling member of a cohort with disjoint id ranges completes a fleet; the first two do not."""
    c = Coordination(min_members=3)
    hits = [see(c, f"m{i}", T0 + i * M, member(i, network=f"10.{i}.0.0/24")) for i in range(3)]
    assert hits[:2] == [[], []]
    assert hits[2] == [
        Hit(
            "coordinated_fleet",
            "block",
            0.9,
            {
                "fleet_size": 3, "fleet_user_agent": "bot-ua", "fleet_created_hour": "2026-01-05T07:00Z",
                "fleet_networks": 3, "target_min_1h": 200, "target_max_1h": 220,
            },
        )
    ]  # fmt: skip
    assert see(c, "m0", T0 + 3 * M, member(0)) != []  # every member, when next seen


def test_coordination_overlapping_ranges_are_no_fleet() -> None:
    """Members whose id ranges overlap (or touch) are not splitting a crawl between them."""
    c = Coordination(min_members=3)
    assert [see(c, f"m{i}", T0, member(i, lo=[0, 10, 300][i])) for i in range(3)] == [[], [], []]
    c2 = Coordination(min_members=3)
    assert [see(c2, f"m{i}", T0, member(i, lo=[0, 20, 300][i])) for i in range(3)] == [[], [], []]
    c3 = Coordination(min_members=3)
    assert [see(c3, f"m{i}", T0, member(i, lo=[0, 21, 300][i])) for i in range(3)][2] != []  # just apart: a fleet


def test_coordination_different_creation_hour_is_another_cohort() -> None:
    """Accounts created in different hours (or with other user agents) are not one cohort."""
    c = Coordination(min_members=3)
    see(c, "m0", T0, member(0))
    see(c, "m1", T0, member(1, account_created_at="2026-01-05T08:10:00.000Z"))
    assert see(c, "m2", T0, member(2)) == []
    assert see(c, "m3", T0, member(3, user_agent="other-ua")) == []
    assert see(c, "m4", T0, member(4)) != []  # a third member of the first cohort


def test_coordination_forgets_members_after_an_hour() -> None:
    """Members last seen crawling more than an hour ago no longer count."""
    c = Coordination(min_members=3)
    see(c, "m0", T0, member(0))
    see(c, "m1", T0 + 30 * M, member(1))
    assert see(c, "m2", T0 + H + 1, member(2)) == []
    assert see(c, "m3", T0 + H + 2, member(3)) != []  # m1, m2, m3


def test_coordination_non_crawling_member_leaves_the_cohort() -> None:
    """A member that stops crawling (too few views, sparse targets) leaves; one without cohort keys is ignored."""
    c = Coordination(min_members=3)
    see(c, "m0", T0, member(0))
    see(c, "m1", T0, member(1))
    see(c, "m0", T0 + 1, member(0, views_1h=4))
    assert see(c, "m2", T0 + 2, member(2)) == []
    assert see(c, "m3", T0 + 3, member(3, target_density_1h=0.1)) == []
    assert see(c, "m4", T0 + 4, member(4, user_agent=None)) == []
    assert see(c, "m5", T0 + 5, member(5)) != []


def test_coordination_cohort_key_is_creation_hour_and_user_agent() -> None:
    """The cohort (the job's key for this layer) is `<creation hour>|<user agent>`; None without either."""
    assert cohort_key(member(0)) == "2026-01-05T07|bot-ua"
    assert cohort_key(member(0, account_created_at="2026-01-05T07:59:59.999Z")) == "2026-01-05T07|bot-ua"
    assert cohort_key(member(0, user_agent=None)) is None
    assert cohort_key(member(0, account_created_at=None)) is None


def test_coordination_observing_a_cohort_expires_its_stale_members_and_drops_it_when_empty() -> None:
    """Replaces the old `evict(now)` sweep (each cohort is now keyed state of its own in the job, with a TTL):
    observing a cohort forgets its members not seen crawling for an hour, and a cohort left empty is dropped."""
    c = Coordination()
    c.observe("m0", T0, member(0))
    c.observe("m1", T0 + 30 * M, member(1))
    c.observe("m2", T0 + H + 1, member(2))
    assert c.cohorts == {
        "2026-01-05T07|bot-ua": {
            "m1": (T0 + 30 * M, 100, 120, "10.192.0.0/24"),
            "m2": (T0 + H + 1, 200, 220, "10.192.0.0/24"),
        }
    }
    c.observe("m1", T0 + H + 2, member(1, views_1h=0))
    c.observe("m2", T0 + H + 3, member(2, target_density_1h=0.0))
    assert c.cohorts == {}


def test_configured_coordination_action_reaches_the_fleet_hit(tmp_path: Path) -> None:
    """`[coordination] action` is the action of the fleet hits, in the coordination layer the pipeline builds."""
    layer = Behave(config(tmp_path, "[coordination]\naction = 'throttle'\n"), "account").groupings["cohort"]
    assert layer is not None
    for i in range(2):
        see(layer, f"m{i}", T0, member(i))
    assert [h.action for h in see(layer, "m2", T0, member(2))] == ["throttle"]


# --- anomaly model ------------------------------------------------------------------------------------

CRAWLER = {
    "views_1m": 40, "views_10m": 400, "views_1h": 1500, "views_24h": 3000, "ips_per_minute_10m": 1.0,
    "profile_share_1h": 1.0, "nav_share_1h": 0.0, "noref_share_1h": 1.0, "not_found_ratio_1h": 0.0,
    "static_share_1h": 0.0, "scripted_share_1h": 1.0, "browser_share_1h": 0.0, "target_density_1h": 1.0,
    "minute_cv_1h": 0.0,
}  # fmt: skip


def quiet_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """People browsing: few views, navigation and assets, a bursty pace."""
    rng = random.Random(seed)
    return [
        {
            "views_1m": rng.randint(0, 3),
            "views_10m": rng.randint(0, 15),
            "views_1h": rng.randint(0, 40),
            "views_24h": rng.randint(0, 200),
            "ips_per_minute_10m": 1.0,
            "profile_share_1h": rng.uniform(0.2, 0.6),
            "nav_share_1h": rng.uniform(0.4, 0.9),
            "noref_share_1h": rng.uniform(0, 0.2),
            "not_found_ratio_1h": 0.0,
            "static_share_1h": rng.uniform(0.3, 0.7),
            "scripted_share_1h": 0.0,
            "browser_share_1h": 1.0,
            "target_density_1h": rng.uniform(0, 0.05),
            "minute_cv_1h": rng.uniform(1, 3),
        }
        for _ in range(n)
    ]


def small_model(seed: int = 3) -> AnomalyModel:
    return AnomalyModel(seed=seed, window_size=50, warmup=200)


def warmed(rows: list[dict[str, Any]], seed: int = 3) -> AnomalyModel:
    model = small_model(seed)
    for row in rows:
        model.observe("p", T0, row)
    return model


def test_anomaly_nothing_flagged_during_warm_up() -> None:
    """Before `warmup` rows were learned even a crawler scoring above the threshold is not flagged."""
    model = warmed(quiet_rows(150))
    assert model.learned == 150 < model.warmup
    threshold = model.threshold.get()
    assert threshold is not None and model.score("c", T0, CRAWLER) > threshold  # only the warm-up holds it back
    assert [model.hits(f"c{i}", T0, CRAWLER) for i in range(5)] == [[]] * 5


def test_anomaly_after_warm_up_flags_a_busy_outlier_only() -> None:
    """Warmed up on people, a crawler with many views is flagged; a quiet row, or an outlier with few views, is not."""
    model = warmed(quiet_rows(400))
    assert model.learned >= 396  # the 0.995 quantile lets through about 0.5% of busy people, no more
    (hit,) = model.hits("c", T0, CRAWLER)
    score, threshold = model.score("c", T0, CRAWLER), model.threshold.get()
    assert threshold is not None and score > threshold
    assert hit == Hit("anomaly_score", "throttle", score, {"anomaly_score": score, "anomaly_threshold": threshold})
    assert model.hits("p", T0, {**quiet_rows(1, seed=9)[0], "views_1h": 25}) == []
    assert model.hits("c", T0, {**CRAWLER, "views_1h": 19}) == []


def test_anomaly_flagged_rows_are_not_learned() -> None:
    """A row the model flags is kept out of it even when observed; a quiet one is learned."""
    model = warmed(quiet_rows(400))
    assert 396 <= model.learned < 400  # the few people flagged while learning were kept out too
    before = model.learned
    assert model.hits("c", T0, CRAWLER) != []
    model.observe("c", T0, CRAWLER)
    assert model.learned == before
    model.observe("p", T0, quiet_rows(1, seed=5)[0])
    assert model.learned == before + 1


def test_anomaly_calibrate_moves_the_threshold_without_learning() -> None:
    """Rows a rule hit are only calibrated (the learner's `learnable=False`): their scores enter the threshold
    quantile, the model does not learn them."""
    model = warmed(quiet_rows(400))
    learned, threshold, score = model.learned, model.threshold.get(), model.score("c", T0, CRAWLER)
    assert threshold is not None and score > threshold
    for _ in range(50):
        assert model.calibrate(CRAWLER) == score
    assert model.learned == learned
    assert model.score("c", T0, CRAWLER) == score  # nothing learned: the same score
    raised = model.threshold.get()
    assert raised is not None and raised > threshold


def test_anomaly_same_seed_same_scores() -> None:
    """Two models with the same seed fed the same rows give identical scores and hits; another seed does not."""
    rows = [*quiet_rows(300), CRAWLER, *quiet_rows(20, seed=2), CRAWLER]

    def run(model: AnomalyModel) -> list[tuple[float, list[Hit]]]:
        out = []
        for row in rows:
            out.append((model.score("s", T0, row), model.hits("s", T0, row)))
            model.observe("s", T0, row)
        return out

    sa, sb, so = run(small_model(7)), run(small_model(7)), run(small_model(8))
    assert sa == sb
    assert len({s for s, _ in sa}) > 10  # the scores vary, so equality means something
    assert any(hits for _, hits in sa)
    assert [s for s, _ in so] != [s for s, _ in sa]


# --- verdict model ------------------------------------------------------------------------------------


def test_verdict_model_inactive_until_min_labels_of_each_class() -> None:
    """predict is None until both classes have min_labels verdicts, however many of one class there are."""
    model = VerdictModel(min_labels=3)
    person = quiet_rows(1)[0]
    for _ in range(5):
        model.learn(CRAWLER, True)
    model.learn(person, False)
    model.learn(person, False)
    assert model.predict(CRAWLER) is None and not model.active
    assert model.hits("b", T0, CRAWLER) == []
    model.learn(person, False)
    assert model.active
    p_bot, p_person = model.predict(CRAWLER), model.predict(person)
    assert p_bot is not None and p_person is not None and p_bot > 0.5 > p_person


def test_verdict_model_hits_only_above_flag_above() -> None:
    """Active, it adds a hit (its configured action, the probability as score) only at or above `flag_above`."""
    person = quiet_rows(1)[0]
    model = VerdictModel(min_labels=1, flag_above=0.8, action="block")
    for _ in range(5):
        model.learn(CRAWLER, True)
        model.learn(person, False)
    p = model.predict(CRAWLER)
    assert p is not None and p >= 0.8
    assert model.hits("b", T0, CRAWLER) == [Hit("verdict_model", "block", p, {"verdict_model_probability": p})]
    assert model.score("b", T0, CRAWLER) == p
    assert model.hits("p", T0, person) == []
    strict = VerdictModel(min_labels=1, flag_above=min(1.0, p + 0.0001))
    for _ in range(5):
        strict.learn(CRAWLER, True)
        strict.learn(person, False)
    assert strict.predict(CRAWLER) == p and strict.hits("b", T0, CRAWLER) == []


APP_USER = {
    "views_1m": 2, "views_10m": 15, "views_1h": 25, "views_24h": 60, "ips_per_minute_10m": 1.0,
    "profile_share_1h": 0.6, "nav_share_1h": 0.0, "noref_share_1h": 1.0, "not_found_ratio_1h": 0.0,
    "static_share_1h": 0.0, "scripted_share_1h": 0.0, "browser_share_1h": 0.0, "target_density_1h": 0.0,
    "minute_cv_1h": 1.0,
}  # fmt: skip
"""A person in the platform's app: no referers, no assets, like a crawler on those two features."""
CAMPAIGN = [{**CRAWLER, "views_1h": 200 + 40 * i} for i in range(30)]


def verdict_model(verdicts: list[tuple[dict[str, Any], bool]], **params: Any) -> VerdictModel:
    model = VerdictModel(min_labels=3, **params)
    for features, scraper in verdicts:
        model.learn(features, scraper)
    return model


def test_verdict_model_is_fitted_the_same_whatever_the_order_and_mix_of_verdicts() -> None:
    """Three people dismissed, then a campaign of 30 crawlers confirmed, or the other way round: the same model,
    under which a person scores far under a half though nine verdicts in ten were confirms."""
    people = [(p, False) for p in quiet_rows(3, seed=2)]
    confirms = [(c, True) for c in CAMPAIGN]
    first, last = verdict_model(people + confirms), verdict_model(confirms + people)
    person = quiet_rows(1, seed=9)[0]
    assert first.predict(person) == last.predict(person) < 0.1
    assert first.predict(CRAWLER) == last.predict(CRAWLER) > 0.9


def test_verdict_model_fits_the_unflagged_population_as_people() -> None:
    """The dismissed people were in a browser, so the verdicts alone flag a person in the app, who sends no
    referer and loads no assets; fitted with the population's rows that nothing flagged (`observe`), the model
    leaves that person alone and still flags the crawler."""
    verdicts = [(c, True) for c in CAMPAIGN] + [(p, False) for p in quiet_rows(3, seed=2)]

    def with_population(background: int) -> VerdictModel:
        model = verdict_model(verdicts, background=background)
        for i in range(10):
            model.observe("p", T0, {**APP_USER, "views_1h": 20 + i, "minute_cv_1h": 0.5 + i / 10})
        return model

    assert with_population(0).predict(APP_USER) >= 0.8 > with_population(100).predict(APP_USER)
    assert with_population(100).predict(CRAWLER) >= 0.8
    assert list(with_population(4).unflagged) == list(with_population(100).unflagged)[-4:]  # the last rows


# --- assessor -----------------------------------------------------------------------------------------

SCRAPER = {
    **CRAWLER,
    "account_age_s": 90 * 86_400.0,
    "account_created_at": "2025-10-07T08:00:00.000Z",
    "account_created_at_source": "account_created_at",
    "user_agent": "python-requests/2.31",
    "network": "10.9.0.0/24",
    "target_min_1h": 10_000,
    "target_max_1h": 11_499,
}
"""A behaviour row that hits several account behaviour rules (all `challenge`)."""


def fleet_member(i: int) -> dict[str, Any]:
    """SCRAPER crawling its own id range, so that three make a fleet."""
    return {**SCRAPER, "target_min_1h": 1000 * i, "target_max_1h": 1000 * i + 9}


def rule_hits(features: dict[str, Any], kind: str = "account", cfg: Config = CONFIG) -> list[Tagged]:
    """The behaviour rules' hits on a row, tagged with their layer, as `Behave.step` passes them to the scorer."""
    return [(h, "behaviour") for r in Behave(cfg, kind).rules for h in r.evaluate(features)]


def version_of(population: list[dict[str, Any]] | None = None) -> Version:
    """A learner's version after it learned `population` (account rows, not for the anomaly model)."""
    learner = Learner(CONFIG)
    for row in population or []:
        learner.learn("account", "p", T0, row, False)
    return learner.version(FIRST)


def test_assessor_behaviour_rules_hit_one_layer_without_corroboration() -> None:
    """Several behaviour rules on one row are one layer: hits, but no `corroborated`."""
    tagged = rule_hits(SCRAPER)
    a = Assessor(CONFIG).behaviour(version_of(), "account", "s1", T0, SCRAPER, tagged, True)
    assert a is not None
    reasons = [h.reason for h in a.hits]
    assert {"sequential_targets", "automation_user_agent", "steady_profile_crawl"} <= set(reasons)
    assert reasons == [h.reason for h, _ in tagged]  # one hit per reason, in the rules' order, nothing added
    assert "corroborated" not in reasons


def test_assessor_quiet_row_is_no_assessment_and_not_remembered() -> None:
    """A row that hits nothing gives no assessment; `Behave` sends a quiet account's minute (under the models'
    volume gate) neither to the scorer nor to the learner's memory, so a later verdict cannot learn from it."""
    quiet = quiet_rows(1)[0]
    assert Assessor(CONFIG).behaviour(version_of(), "account", "p1", T0, quiet, [], True) is None
    behave = Behave(CONFIG, "account")
    minute = AccountMinute(
        subject="p1", minute=T0, last_ts=T0 + 30_000, created_at=T0 - 400 * D, first_view=T0 + 1_000, requests=12,
        views=3, nav=2, noref=0, not_found=0, statics=6, targets=3, tmin=10, tmax=900_000, ips=1, scripted=0,
        browser=12, user_agent="Mozilla/5.0", network="10.1.0.0/24",
    )  # fmt: skip
    routed = behave.step(behave.new_state(), minute)
    assert routed.score == []
    assert [o.kind for o in routed.learn if o.kind == "remember"] == []
    busy = behave.step(behave.new_state(), minute._replace(subject="p2", views=25, targets=25))
    assert [r.gated for r in busy.score] == [True]  # over the volume gate: to the scorer, and remembered
    assert [o.kind for o in busy.learn if o.kind == "remember"] == ["remember"]


def test_behave_remembers_an_account_a_fleet_groups_and_no_address() -> None:
    """An account's minute that only a fleet groups (under the volume gate, no rule hit) is remembered: the fleet
    may act on it, and a verdict on it must be learned with its features. An address's rows are never
    remembered: verdicts teach the model about accounts only."""
    behave, state = Behave(CONFIG, "account"), None
    for i in range(4):  # a bare account: browser, no assets, no referers, 2 views a minute
        minute = AccountMinute(
            subject="f1", minute=T0 + i * 60_000, last_ts=T0 + i * 60_000 + 30_000, created_at=T0 - 3 * 86_400_000,
            first_view=T0 + i * 60_000 + 1_000, requests=2, views=2, nav=0, noref=2, not_found=0, statics=0,
            targets=2, tmin=1_000 + 7 * i, tmax=1_001 + 7 * i, ips=1, scripted=0, browser=2, user_agent="Mozilla/5.0",
            network="10.1.0.0/24",
        )  # fmt: skip
        state = state or behave.new_state()
        routed = behave.step(state, minute)
    assert routed.score == [] and routed.group  # grouped only
    assert [(o.kind, o.subject) for o in routed.learn if o.kind == "remember"] == [("remember", "f1")]
    ip = Behave(CONFIG, "ip")
    enumerator = AddressMinute(
        subject="10.0.0.1", minute=T0, last_ts=T0 + 50_000, requests=90, views=90, not_found=0, statics=0, noref=90,
        ips=1, crawler_ua=0, targets=90, tmin=500, tmax=589,
    )  # fmt: skip
    routed = ip.step(ip.new_state(), enumerator)
    assert routed.score  # the scorer sees it ...
    assert [o for o in routed.learn if o.kind == "remember"] == []  # ... and the learner does not keep it


def test_assessor_two_layers_add_a_corroborated_hit_one_step_stronger() -> None:
    """Behaviour rule (challenge) plus coordination (throttle here): `corroborated` asks for block."""
    fleet = Coordination(action="throttle")
    tagged = [*rule_hits(fleet_member(2))]
    for i in range(3):
        hits = see(fleet, f"m{i}", T0, fleet_member(i))
    assert [h.action for h in hits] == ["throttle"]
    tagged += [(h, "coordination") for h in hits]
    assert {h.action for h, _ in tagged} == {"challenge", "throttle"}  # the strongest is challenge
    a = Assessor(CONFIG).behaviour(version_of(), "account", "m2", T0, fleet_member(2), tagged, False)
    assert a is not None
    (corroborated,) = [h for h in a.hits if h.reason == "corroborated"]
    assert corroborated.action == "block"
    assert corroborated.evidence == {"layers": ["behaviour", "coordination"]}
    assert corroborated.score == 0.9  # the strongest score among the hits (the fleet's)
    weak = [*((h, "coordination") for h in hits), (Hit("weak", "throttle", 0.1), "behaviour")]
    one_step = Assessor(CONFIG).behaviour(version_of(), "account", "m2", T0, fleet_member(2), weak, False)
    assert one_step is not None and one_step.hits[-1].action == "challenge"  # throttle + throttle: one step up


def test_assessor_corroboration_can_be_switched_off(tmp_path: Path) -> None:
    """With `policy.corroborate = false` two layers stay as they are."""
    fleet = Coordination()
    for i in range(3):
        hits = see(fleet, f"m{i}", T0, fleet_member(i))
    tagged = [*rule_hits(fleet_member(2)), *((h, "coordination") for h in hits)]
    assessor = Assessor(config(tmp_path, "[policy]\ncorroborate = false\n"))
    a = assessor.behaviour(version_of(), "account", "m2", T0, fleet_member(2), tagged, False)
    assert a is not None
    assert "coordinated_fleet" in [h.reason for h in a.hits] and "corroborated" not in [h.reason for h in a.hits]
    on = Assessor(CONFIG).behaviour(version_of(), "account", "m2", T0, fleet_member(2), tagged, False)
    assert on is not None and "corroborated" in [h.reason for h in on.hits]  # the same hits with it on


def test_assessor_allowlisted_account_keeps_only_a_quota_throttle() -> None:
    """The partner account hitting behaviour rules gets nothing under its quota, and only a throttle over it."""
    assessor, version = Assessor(CONFIG), version_of()
    assert rule_hits(SCRAPER)
    assert assessor.behaviour(version, "account", "partner-acme", T0, SCRAPER, rule_hits(SCRAPER), True) is None
    busy = {**SCRAPER, "views_1h": 30_001}
    over = assessor.behaviour(version, "account", "partner-acme", T0 + M, busy, rule_hits(busy), True)
    assert over is not None
    assert [(h.reason, h.action) for h in over.hits] == [("allowlist_quota", "throttle")]


def test_assessor_allowlisted_crawler_rate_limit_becomes_a_quota_throttle() -> None:
    """A verified crawler over an IP rate limit: the rate hit is replaced by its quota throttle, if over quota."""
    assessor, version = Assessor(CONFIG), version_of()
    hit = Hit("ip_profile_views_1m", "challenge", 1.0, {"profile_views_1m": 120})
    assert assessor.limits(version, "ip", "66.249.64.7", T0, {"profile_views_1m": 120}, [(hit, "limits")]) is None
    a = assessor.limits(version, "ip", "66.249.64.7", T0, {"profile_views_1m": 700}, [(hit, "limits")])
    assert a is not None and [(h.reason, h.action) for h in a.hits] == [("allowlist_quota", "throttle")]
    other = assessor.limits(version, "ip", "10.0.0.1", T0, {"profile_views_1m": 120}, [(hit, "limits")])
    assert other is not None and other.hits == [hit]


def test_assessor_models_only_score_rows_through_the_volume_gate(tmp_path: Path) -> None:
    """The models' hits are added to a behaviour row only when it passed the volume gate (`gated`), and only
    for accounts."""
    learner = Learner(config(tmp_path, "[models.anomaly]\nwarmup = 100\nwindow_size = 50\n"))
    for row in quiet_rows(400):
        learner.learn("account", "p", T0, row, True)
    version, assessor = learner.version(FIRST), Assessor(config(tmp_path, "[models.anomaly]\nalone = true\n"))
    gated = assessor.behaviour(version, "account", "c", T0, CRAWLER, [], True)
    assert gated is not None and [h.reason for h in gated.hits] == ["anomaly_score"]
    assert assessor.behaviour(version, "account", "c", T0, CRAWLER, [], False) is None
    assert assessor.behaviour(version, "ip", "10.0.0.1", T0, CRAWLER, [], True) is None


def test_assessor_anomaly_alone_is_evidence_not_an_action(tmp_path: Path) -> None:
    """By default the anomaly model's hit acts only beside another layer's: an unusual account with nothing else
    against it gets no assessment; beside a rule's hit, it is kept and corroborates it."""
    learner = Learner(config(tmp_path, "[models.anomaly]\nwarmup = 100\nwindow_size = 50\n"))
    for row in quiet_rows(400):
        learner.learn("account", "p", T0, row, True)
    version, assessor = learner.version(FIRST), Assessor(CONFIG)
    assert assessor.behaviour(version, "account", "c", T0, CRAWLER, [], True) is None
    rule = [(Hit("profiles_only", "challenge", 0.75, {"views_10m": 400}), "behaviour")]
    both = assessor.behaviour(version, "account", "c", T0, CRAWLER, rule, True)
    assert both is not None
    assert [(h.reason, h.action) for h in both.hits] == [
        ("profiles_only", "challenge"), ("anomaly_score", "throttle"), ("corroborated", "block")
    ]  # fmt: skip


def test_assessor_verdict_model_alone_is_evidence_not_an_action(tmp_path: Path) -> None:
    """By default the verdict model's hit, like the anomaly model's, acts only beside a hit of a layer that is not
    a model: alone, or beside the anomaly model's, the crawler gets no assessment; beside a rule's, every hit
    stands and corroborates."""
    learner = Learner(config(tmp_path, "[models.anomaly]\nwarmup = 100\nwindow_size = 50\n"))
    for row in quiet_rows(400):
        learner.learn("account", "p", T0, row, True)
    assert learner.verdicts is not None
    for features, scraper in [(c, True) for c in CAMPAIGN] + [(p, False) for p in quiet_rows(3, seed=2)]:
        learner.verdicts.learn(features, scraper)
    version = learner.version(FIRST)
    models_alone = Assessor(config(tmp_path, "[models.anomaly]\nalone = true\n[models.verdicts]\nalone = true\n"))
    both_models = models_alone.behaviour(version, "account", "c", T0, CRAWLER, [], True)
    assert both_models is not None
    assert [h.reason for h in both_models.hits] == ["anomaly_score", "verdict_model", "corroborated"]
    assessor = Assessor(CONFIG)
    assert assessor.behaviour(version, "account", "c", T0, CRAWLER, [], True) is None
    rule = [(Hit("profiles_only", "challenge", 0.75, {"views_10m": 400}), "behaviour")]
    beside = assessor.behaviour(version, "account", "c", T0, CRAWLER, rule, True)
    assert beside is not None
    assert [h.reason for h in beside.hits] == ["profiles_only", "anomaly_score", "verdict_model", "corroborated"]


def test_the_learner_gives_the_verdict_model_the_gated_rows_nothing_flagged() -> None:
    """The verdict model's population is the learner's sampled account rows through the models' volume gate that
    nothing flagged; a published version carries the model fitted to every verdict so far."""
    learner, person = Learner(CONFIG), quiet_rows(1)[0]
    assert learner.verdicts is not None
    learner.learn("account", "p", T0, {**person, "views_1h": 25}, True)
    learner.learn("account", "q", T0, {**person, "views_1h": 19}, True)  # under the gate
    learner.learn("account", "r", T0, {**person, "views_1h": 30}, False)  # a rule hit it
    learner.learn("ip", "10.0.0.1", T0, {**person, "views_1h": 30}, True)
    assert list(learner.verdicts.unflagged) == [scale({**person, "views_1h": 25})]
    for features, scraper in [(CRAWLER, True), (person, False)] * 3:
        learner.verdicts.learn(features, scraper)
    assert not learner.verdicts.fitted
    version = learner.version(FIRST)
    assert version.verdicts is not None and version.verdicts.fitted and learner.verdicts.fitted


def test_a_verdict_model_pickled_before_refitting_restores() -> None:
    """A model file or checkpoint of the online model (no examples kept) restores and scores as it did."""
    model = verdict_model([(CRAWLER, True), (quiet_rows(1)[0], False)] * 3)
    p = model.predict(CRAWLER)
    old = {k: v for k, v in model.__dict__.items() if k not in ("labelled", "unflagged", "fitted_on", "learning_rate")}
    restored = pickle.loads(pickle.dumps(model))
    restored.__dict__.clear()
    restored.__setstate__(old)
    assert restored.predict(CRAWLER) == p and restored.fitted


def test_assessor_explain_names_the_features_with_value_and_percentile() -> None:
    """The top features are those the hits' evidence names, each with its value and population percentile."""
    version = version_of(population=[*quiet_rows(99), SCRAPER])
    rule = next(r for r in build_behaviour_rules(CONFIG) if r.name == "sequential_targets")
    a = Assessor(CONFIG).behaviour(version, "account", "s1", T0, SCRAPER, rule_hits(SCRAPER), False)
    assert a is not None
    assert a.top_features[: len(rule.features)] == [
        {"feature": "views_1h", "value": 1500, "percentile": 100.0},
        {"feature": "target_density_1h", "value": 1.0, "percentile": 100.0},
    ]
    assert len(a.top_features) == 5 and len({f["feature"] for f in a.top_features}) == 5
    explained = explain(version, "account", {"views_1h": 20}, [Hit("r", "throttle", 0.5, {"views_1h": 20})], {})
    below = sum(row["views_1h"] <= 20 for row in quiet_rows(99))  # of 100 rows: the scraper's is above 20
    assert explained == [{"feature": "views_1h", "value": 20, "percentile": float(below)}]


def test_assessor_explain_rate_limit_counts_under_their_behaviour_feature() -> None:
    """A rate-limit count is explained with the percentile of the behaviour feature of the same meaning."""
    version = version_of(population=quiet_rows(100))
    hit = Hit("account_profile_views_1h", "throttle", 0.6, {"profile_views_1h": 30, "limit_profile_views_1h": 20})
    a = Assessor(CONFIG).limits(version, "account", "a1", T0, {"profile_views_1h": 30}, [(hit, "limits")])
    below = sum(row["views_1h"] <= 30 for row in quiet_rows(100))
    assert a is not None and a.top_features == [{"feature": "profile_views_1h", "value": 30, "percentile": below}]


def test_assessor_explain_anomaly_names_the_most_unusual_features() -> None:
    """For an anomaly hit, the features where the row stands apart from the population are named.

    Regression: ranked by the "at most" percentile, a value that every row shares (404 ratio 0, one address a
    minute) was at the 100th percentile, ranked as maximally unusual and pushed out a feature that really is
    unusual (no assets at all, where people load 30-70%); `explain` now ranks by `Population.midrank`.
    """
    people = quiet_rows(200)
    version = version_of(population=people)
    odd = {**people[0], "views_24h": 5000, "static_share_1h": 0.0}
    top = explain(version, "account", odd, [Hit("anomaly_score", "throttle", 0.9, {"anomaly_score": 0.9})], {})
    assert len(top) == 3 and all(f["percentile"] is not None for f in top)
    assert {"views_24h", "static_share_1h"} <= {f["feature"] for f in top}


# --- learner: warm start ------------------------------------------------------------------------------


def warm_config(tmp_path: Path) -> Config:
    return config(tmp_path, "[models.anomaly]\nwarmup = 100\nwindow_size = 50\n")


def test_a_verdict_the_verdict_model_cannot_learn_is_counted_and_logged_without_the_subject(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    learner = Learner(warm_config(tmp_path))
    learner.remember("account", "seen", T0, dict(SCRAPER))
    learner.verdict("account", "seen", "confirm")
    learner.verdict("ip", "10.0.0.1", "confirm")  # the verdict model is for accounts: nothing to learn, nothing lost
    assert learner.unlearned == 0 and not caplog.records

    learner.verdict("account", "never-assessed", "confirm")

    assert learner.unlearned == 1
    assert "not learned" in caplog.text and "never-assessed" not in caplog.text


def test_learner_save_load_round_trip_gives_identical_later_assessments(tmp_path: Path) -> None:
    """A fresh learner loaded from a saved one publishes versions that assess the next rows exactly as the
    original's do, and goes on learning exactly as the original does."""
    cfg = warm_config(tmp_path)
    original = Learner(cfg)
    for row in quiet_rows(200):
        original.learn("account", "p", T0, row, True)
    for i in range(3):
        original.remember("account", f"s{i}", T0, {**SCRAPER, "user_agent": f"ua{i}"})
        original.verdict("account", f"s{i}", "confirm")
        profiles_only = {"views_10m": 30, "profile_share_1h": 0.95, "nav_share_1h": 0.1, "account_age_s": 1e7}
        original.remember("account", f"q{i}", T0, {**quiet_rows(1, seed=i)[0], **profiles_only})
        original.verdict("account", f"q{i}", "dismiss")
    path = tmp_path / "model.pkl"
    original.save(path)
    loaded = Learner(cfg)
    loaded.load(path)
    assessor = Assessor(cfg)
    later = [*quiet_rows(30, seed=11), dict(CRAWLER), {**SCRAPER, "user_agent": None}]

    def assess(learner: Learner) -> list[Any]:
        version = learner.version(T0 + M)
        return [
            assessor.behaviour(version, "account", f"x{i}", T0 + M, row, rule_hits(row), True)
            for i, row in enumerate(later)
        ]

    outputs = [assess(original), assess(loaded)]
    assert outputs[0] == outputs[1]
    reasons = {h.reason for a in outputs[0] if a is not None for h in a.hits}
    assert {"anomaly_score", "verdict_model"} <= reasons  # the models' state matters to what is compared
    assert any(f["percentile"] is not None for a in outputs[0] if a for f in a.top_features)  # and the population's
    assert outputs[0] != assess(Learner(cfg))  # a learner without the file assesses them otherwise
    for learner in (original, loaded):
        for row in quiet_rows(100, seed=12):
            learner.learn("account", "p", T0 + M, row, True)
    assert assess(original) == assess(loaded)


def test_learner_load_keeps_the_configured_models_off(tmp_path: Path) -> None:
    """A model file warm-starts only the models the configuration enables."""
    path = tmp_path / "model.pkl"
    Learner(CONFIG).save(path)
    off = Learner(config(tmp_path, "[models.anomaly]\nenabled = false\n[models.verdicts]\nenabled = false\n"))
    off.load(path)
    assert (off.anomaly, off.verdicts) == (None, None)
    on = Learner(CONFIG)
    on.load(path)
    assert isinstance(on.anomaly, AnomalyModel) and isinstance(on.verdicts, VerdictModel)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("missing.pkl", None, "not found"),
        ("models", "directory", "cannot be read (Is a directory)"),
        ("empty.pkl", b"", "not a scrapeguard model (EOFError: "),
        ("truncated.pkl", "truncated", "not a scrapeguard model ("),
        ("garbage.pkl", b"\x00\xff not a pickle", "not a scrapeguard model ("),
        ("list.pkl", pickle.dumps([1, 2, 3]), "not a scrapeguard model (unexpected content)"),
        ("other.pkl", pickle.dumps({"population": None, "rows": 0}), "not a scrapeguard model (unexpected content)"),
        (
            "v1.pkl",
            pickle.dumps({"population": None, "anomaly": None, "verdicts": None, "rows": 0}),
            "not a scrapeguard model (unexpected content)",
        ),
    ],
)
def test_learner_load_bad_file_names_the_file(
    tmp_path: Path, name: str, content: bytes | str | None, reason: str
) -> None:
    """Loading anything but a saved learner state is a ValueError naming the file and what is wrong."""
    path = tmp_path / name
    if content == "truncated":
        Learner(CONFIG).save(path)
        path.write_bytes(path.read_bytes()[:100])
    elif content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(ValueError) as exc:
        Learner(CONFIG).load(path)
    assert str(exc.value).startswith(f"model file {path}: {reason}")


def test_learner_load_text_file_names_the_file(tmp_path: Path) -> None:
    """A log file given by mistake is reported as not a model, naming the file.

    Regression: text starting with `I`, `L`, `F` or `g` is read by pickle as an opcode whose argument is not a
    number, which raises a plain ValueError ("invalid literal for int()"); `load` once let it through, so the
    message named neither the file nor the problem.
    """
    path = tmp_path / "scrapeguard.log"
    path.write_text("INFO starting scrapeguard\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"model file .*scrapeguard\.log: not a scrapeguard model"):
        Learner(CONFIG).load(path)


# --- learner: versions --------------------------------------------------------------------------------


def burst_decision(unrelated_in_next_epoch: bool) -> list[dict[str, Any]]:
    """The explanation of the decision on an address that goes over the 1-minute limit in the second epoch, after
    twenty sampled addresses browsed in the first (and, if asked, one more sampled request early in the second).
    The address and its network are outside the learner's sample and it views ids spread apart (no behaviour
    rule), so nothing the learner observes in the second epoch comes from it."""
    every = CONFIG.section("models", "sample_every")
    sampled = [ip for ip in (f"10.0.{i}.1" for i in range(200)) if in_sample(ip, every)][:20]
    burst = next(
        ip for ip in (f"10.1.{i}.1" for i in range(200))
        if not in_sample(ip, every) and not in_sample(ip[: ip.rindex(".")] + ".0/24", every)
    )  # fmt: skip
    line = '{"ts": %d, "ip": "%s", "method": "GET", "path": "/u/%d", "status": 200}'
    lines = [line % (T0 + j * 1000, ip, 7 + j) for ip in sampled for j in range(5)]
    lines += [line % (T0 + EPOCH_MS + M + j * 500, burst, 100 + j * 104_729) for j in range(61)]
    if unrelated_in_next_epoch:
        lines.append(line % (T0 + EPOCH_MS + 1000, sampled[0], 5))
    (decision,) = [d for d in detect([parse_line(x) for x in lines], CONFIG) if d.subject == burst]
    assert decision.reasons == ["ip_profile_views_1m"]
    return decision.evidence["top_features"]


def test_a_decision_does_not_depend_on_unrelated_traffic_in_its_epoch() -> None:
    """`detectors.learner`: at every epoch boundary the learner publishes what it learned before it, and a row is
    scored with the newest version whose boundary is not after it. So the explanation of a decision in the second
    epoch uses the population learned in the first, whether or not the learner observed anything else in the
    second epoch (as the Flink job does)."""
    with_unrelated = burst_decision(unrelated_in_next_epoch=True)
    assert with_unrelated == [{"feature": "profile_views_1m", "value": 61, "percentile": 100.0}]
    assert burst_decision(unrelated_in_next_epoch=False) == with_unrelated
