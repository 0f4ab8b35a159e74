"""The promises every detection layer keeps (`detectors.layers.Layer`), checked for every implementation.

The layers are found, not listed: every module of `detectors` is imported and every subclass of `Layer`
(but the `Rule` interface) is checked, so a new rule family, model or detector is covered as soon as it
exists. Each is checked on the instances the default configuration builds (rate rules whole and split in
short and long windows as `Limits` runs them, every behaviour rule, the learner's models, the pipeline's
coordination layer) and on a small anomaly model that warms up within the rows below. A new layer the
default configuration does not build fails here until it gets an example in `EXTRA`.

The promises (see `detectors/layers.py`): it pickles (the Flink job keeps it in state: a copy taken
midway goes on exactly as the original), it is deterministic for its parameters and seed, it survives
rows with features absent or None, and `clone` gives a layer that behaves like a new one (and shares
nothing with the original).

Layers are fed synthetic but realistic rows: one-minute summaries of people, several kinds of scrapers and
a fleet, rolled into features by the real `AccountBehaviour` / `AddressBehaviour`, with the rate-limit
counts (`profile_views_<window>`) of every configured window added.
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import random
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

import detectors
import detectors.models
import detectors.rules
from detectors.config import load_config
from detectors.coordination import _Group
from detectors.features.behaviour import AccountBehaviour, AddressBehaviour
from detectors.features.minutes import MINUTE_MS, PATH, AccountMinute, AddressMinute
from detectors.layers import Hit, Layer
from detectors.learner import Learner
from detectors.models.anomaly import AnomalyModel
from detectors.models.supervised import VerdictModel
from detectors.pipeline import Behave
from detectors.rules import Rule, build_behaviour_rules, build_rules
from detectors.surge import Surge

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
M, D = MINUTE_MS, 86_400_000
MINUTES = 60
CONFIG = load_config()

# -- discovery -----------------------------------------------------------------------------------------------

BASES: set[type[Layer]] = {Rule, _Group}
"""Interfaces that are not layers themselves."""


def _subclasses(cls: type) -> set[type]:
    return {s for c in cls.__subclasses__() for s in {c, *_subclasses(c)}}


def discover() -> list[type[Layer]]:
    """Every `Layer` implementation in `detectors` (importing all its modules first)."""
    for module in pkgutil.walk_packages(detectors.__path__, "detectors."):
        importlib.import_module(module.name)
    found = {c for c in _subclasses(Layer) if c.__module__.startswith("detectors.")} - BASES
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


IMPLEMENTATIONS = discover()

# -- examples ------------------------------------------------------------------------------------------------

Make = Callable[[], Layer]


def _configured() -> list[tuple[str, Make]]:
    """(label, factory) for every layer the default configuration builds; a factory makes a new instance."""
    out: list[tuple[str, Make]] = []
    for i, rule in enumerate(build_rules(CONFIG)):
        out.append((rule.name, lambda i=i: build_rules(CONFIG)[i]))
        for j, half in enumerate(("short", "long")):
            if rule.split()[j] is not None:
                out.append((f"{rule.name}-{half}", lambda i=i, j=j: build_rules(CONFIG)[i].split()[j]))
    for i, rule in enumerate(build_behaviour_rules(CONFIG)):
        out.append((rule.name, lambda i=i: build_behaviour_rules(CONFIG)[i]))
    out.append(("configured", lambda: Learner(CONFIG).anomaly))  # type: ignore[arg-type,return-value]
    out.append(("configured", lambda: Learner(CONFIG).verdicts))  # type: ignore[arg-type,return-value]
    for kind in ("account", "ip"):
        for name in Behave(CONFIG, kind).groupings:
            out.append((name, lambda kind=kind, name=name: Behave(CONFIG, kind).groupings[name]))  # type: ignore[misc]
    return out


EXTRA: list[tuple[str, Make]] = [
    ("small", lambda: AnomalyModel(seed=3, window_size=50, warmup=200)),  # flags within the rows below
    ("small", lambda: Surge(min_views_10m=50, factor=2.0, half_life_minutes=20, warmup_minutes=20)),  # off by default
]
"""Examples beyond what the default configuration builds."""

EXAMPLES = [(label, make, type(make())) for label, make in [*_configured(), *EXTRA]]

# -- rows ----------------------------------------------------------------------------------------------------


class FeatureRow(NamedTuple):
    """One subject-minute: its features, and whether the subject is a scraper (what an analyst would say)."""

    subject: str
    ts: int
    features: dict[str, Any]
    scraper: bool


WINDOWS = {
    label: ms
    for rule in build_rules(CONFIG)
    for label, ms in rule.windows.items()  # every window a rate rule counts in
}


def _account_minute(name: str, i: int, rng: random.Random) -> AccountMinute | None:
    """Minute `i` of account `name` (its kind is its name's prefix), or None when it is idle."""
    start = T0 + i * M
    base: dict[str, Any] = dict(
        subject=name, minute=start, last_ts=start + 50_000, created_at=T0 - 90 * D, first_view=start + 1_000,
        nav=0, noref=0, not_found=0, statics=0, ips=1, scripted=0, browser=0, user_agent="Mozilla/5.0 Chrome/120",
        network="10.1.0.0/24",
    )  # fmt: skip
    kind = name.split("-")[0]
    if kind == "person":
        if rng.random() < 0.4:
            return None
        views = rng.randint(0, 4)
        lo = rng.randint(0, 900_000)
        statics = rng.randint(2, 8)
        return AccountMinute(**{**base, "requests": views + statics + 2, "views": views, "nav": min(views, 1),
                                "statics": statics, "targets": views, "tmin": lo if views else None,
                                "tmax": lo + rng.randint(0, 90_000) if views else None, "browser": views + statics + 2,
                                "first_view": start + 1_000 if views else None})  # fmt: skip
    if kind == "walker":  # a script walking ids in order: most account rules and limits
        lo = 10_000 + i * 40
        return AccountMinute(**{**base, "requests": 40, "views": 40, "noref": 40, "targets": 40, "tmin": lo,
                                "tmax": lo + 39, "scripted": 40, "user_agent": "python-requests/2.31"})  # fmt: skip
    if kind == "headless":  # claims a browser, loads no assets, sends no referers
        lo = rng.randint(0, 900_000)
        return AccountMinute(**{**base, "requests": 15, "views": 15, "noref": 15, "targets": 15, "tmin": lo,
                                "tmax": lo + 500_000, "browser": 15})  # fmt: skip
    if kind == "rotator":  # a new address every few requests
        lo = rng.randint(0, 900_000)
        return AccountMinute(**{**base, "requests": 14, "views": 12, "nav": 2, "statics": 2, "targets": 12,
                                "tmin": lo, "tmax": lo + 400_000, "ips": 4, "browser": 14})  # fmt: skip
    if kind == "newcomer":  # created five minutes before it starts viewing 30 profiles a minute
        lo = rng.randint(0, 900_000)
        return AccountMinute(**{**base, "created_at": T0 - 5 * M, "requests": 36, "views": 30, "nav": 10,
                                "statics": 6, "targets": 30, "tmin": lo, "tmax": lo + 600_000,
                                "browser": 36})  # fmt: skip
    if kind == "fleet":  # members sharing a user agent and creation hour, each walking its own id range
        k = int(name.split("-")[1])
        lo = 1_000_000 * (k + 1) + i * 8
        return AccountMinute(**{**base, "created_at": T0 - 3 * 3_600_000, "requests": 8, "views": 8,
                                "nav": 2, "statics": 4, "targets": 8, "tmin": lo, "tmax": lo + 7,
                                "browser": 8, "user_agent": "fleet-ua/1.0",
                                "network": f"10.{50 + k}.0.0/24"})  # fmt: skip
    if kind == "pooled":  # aged accounts taking turns on one address, a bare view every other minute each
        if (i + int(name.split("-")[1])) % 2:
            return None
        lo = rng.randint(0, 900_000)
        return AccountMinute(**{**base, "requests": 1, "views": 1, "noref": 1, "targets": 1, "tmin": lo, "tmax": lo,
                                "browser": 1, "network": "10.9.0.0/24"})  # fmt: skip
    if kind == "lookup":  # looks people up by phone number, 25 a minute, and views one profile
        return AccountMinute(**{**base, "requests": 26, "views": 1, "lookups": 25, "targets": 1, "tmin": 7,
                                "tmax": 7, "user_agent": "python-requests/2.31"})  # fmt: skip
    if kind == "harvester":  # pages through search results, 5 a minute, and opens none of the people listed
        return AccountMinute(**{**base, "requests": 5, "views": 0, "searches": 5, "targets": 0, "tmin": None,
                                "tmax": None, "first_view": None, "browser": 5})  # fmt: skip
    raise AssertionError(name)


def _address_minute(name: str, i: int, rng: random.Random) -> AddressMinute | None:
    """Minute `i` of address `name`'s logged-out requests, or None when it is idle."""
    start = T0 + i * M
    kind = name.split("-")[0]
    lo = rng.randint(0, 900_000)
    base: dict[str, Any] = dict(subject=name, minute=start, last_ts=start + 50_000, not_found=0, noref=0, ips=1,
                                crawler_ua=0)  # fmt: skip
    if kind == "visitor":
        if rng.random() < 0.5:
            return None
        views = rng.randint(0, 3)
        return AddressMinute(**{**base, "requests": views + 6, "views": views, "statics": 6, "targets": views,
                                "tmin": lo if views else None, "tmax": lo + 50_000 if views else None})  # fmt: skip
    if kind == "enumerator":  # walks ids in order, over the hourly limit after 20 minutes
        lo = 500 + i * 31
        return AddressMinute(**{**base, "requests": 31, "views": 31, "statics": 0, "noref": 31, "targets": 31,
                                "tmin": lo, "tmax": lo + 30})  # fmt: skip
    if kind == "prober":  # ids that mostly do not exist
        return AddressMinute(**{**base, "requests": 25, "views": 25, "not_found": 20, "statics": 0,
                                "targets": 25, "tmin": lo, "tmax": lo + 800_000})  # fmt: skip
    if kind == "burst":  # over the one-minute limit every third minute
        views = 70 if i % 3 == 0 else 2
        return AddressMinute(**{**base, "requests": views, "views": views, "statics": 0, "targets": views,
                                "tmin": lo, "tmax": lo + 800_000, "crawler_ua": views})  # fmt: skip
    if kind == "spread":  # one of 14 addresses of a crawl: a bare view a minute, together walking the ids
        target = 5000 + 14 * i + int(name.split("-")[1])
        return AddressMinute(**{**base, "requests": 1, "views": 1, "statics": 0, "noref": 1, "targets": 1,
                                "tmin": target, "tmax": target})  # fmt: skip
    if kind == "lister":  # pages through search results logged out, 5 a minute, and opens none
        return AddressMinute(**{**base, "requests": 5, "views": 0, "statics": 0, "targets": 0, "tmin": None,
                                "tmax": None, "searches": 5})  # fmt: skip
    if kind == "scripter":  # a script client on scattered ids, 12 a minute, under every limit
        return AddressMinute(**{**base, "requests": 12, "views": 12, "statics": 0, "noref": 12, "targets": 12,
                                "tmin": lo, "tmax": lo + 800_000, "scripted": 12})  # fmt: skip
    if kind == "bare":  # a browser without assets or referers on scattered ids, 2 a minute
        return AddressMinute(**{**base, "requests": 2, "views": 2, "statics": 0, "noref": 2, "targets": 2,
                                "tmin": lo, "tmax": lo + 800_000, "browser": 2})  # fmt: skip
    raise AssertionError(name)


def feature_rows(subject_type: str) -> list[FeatureRow]:
    """Every subject-minute of the synthetic population of one subject type, in (minute, subject) order."""
    rng = random.Random(11)
    if subject_type == "account":
        names = [*(f"person-{k}" for k in range(14)), "walker-0", "headless-0", "rotator-0", "newcomer-0", "lookup-0",
                 "harvester-0",
                 *(f"pooled-{k}" for k in range(5)),
                 *(f"fleet-{k}" for k in range(3))]  # fmt: skip
        make, state = _account_minute, lambda: AccountBehaviour()
    else:
        names = [*(f"visitor-{k}" for k in range(10)), "enumerator-0", "prober-0", "burst-0", "lister-0",
                 "scripter-0", "bare-0", *(f"spread-{k}" for k in range(14))]  # fmt: skip
        make, state = _address_minute, lambda: AddressBehaviour()  # type: ignore[assignment]
    states: dict[str, Any] = {}
    rows = []
    for i in range(MINUTES):
        for name in names:
            minute = make(name, i, rng)
            if minute is None:
                continue
            s = states.setdefault(name, state())
            features = s.update(minute)  # type: ignore[arg-type]
            features.update({f"profile_views_{label}": s.views_in(minute.minute, ms) for label, ms in WINDOWS.items()})
            scraper = not name.startswith(("person", "visitor"))
            rows.append(FeatureRow(name, minute.last_ts, features, scraper))
    return rows


def path_rows() -> list[FeatureRow]:
    """The platform's logged-out minutes (the access path's): the visitors' throughout, the address scrapers' from
    minute 30 on, summed as the `path` summaries sum them."""
    rng = random.Random(12)
    names = [*(f"visitor-{k}" for k in range(10)), "enumerator-0", "prober-0", *(f"spread-{k}" for k in range(14))]
    state, rows = AddressBehaviour(), []
    for i in range(MINUTES):
        active = [name for name in names if i >= 30 or name.startswith("visitor")]
        minutes = [m for name in active if (m := _address_minute(name, i, rng)) is not None]
        if not minutes:
            continue
        total = {f: sum(getattr(m, f) for m in minutes) for f in ("requests", "views", "not_found", "statics", "noref",
                                                                  "ips", "crawler_ua", "targets")}  # fmt: skip
        ids = [t for m in minutes for t in (m.tmin, m.tmax) if t is not None]
        minute = AddressMinute(PATH, minutes[0].minute, max(m.last_ts for m in minutes), **total,
                               tmin=min(ids, default=None), tmax=max(ids, default=None))  # fmt: skip
        rows.append(FeatureRow(PATH, minute.last_ts, state.update(minute), i >= 30))
    return rows


ROWS = {"account": feature_rows("account"), "ip": feature_rows("ip"), "path": path_rows()}
ROWS["network"] = ROWS["ip"]

# -- running a layer -----------------------------------------------------------------------------------------

Output = tuple[list[Hit], float | None]


def teach(layer: Layer, row: FeatureRow) -> None:
    """What a layer learns from: every layer from `observe`, the verdict model from an analyst's label too."""
    if isinstance(layer, VerdictModel):
        layer.learn(row.features, row.scraper)
    layer.observe(row.subject, row.ts, row.features)


def run(layer: Layer, rows: list[FeatureRow]) -> list[Output]:
    """Each row taught to the layer, then its hits and score on it."""
    out = []
    for row in rows:
        teach(layer, row)
        out.append((layer.hits(row.subject, row.ts, row.features), layer.score(row.subject, row.ts, row.features)))
    return out


def exercised(outputs: list[Output]) -> bool:
    """Whether the outputs vary (some hit, or more than one score), so that comparing them can fail."""
    return any(hits for hits, _ in outputs) or len({score for _, score in outputs}) > 1


class MissingFeatures(AssertionError):
    """A layer raised on a row with features absent or None."""


def missing_feature_rows(rows: list[FeatureRow]) -> list[tuple[str, FeatureRow]]:
    """Rows with features absent or None: none at all, all None, and each feature of a full row (one the layer
    is likely to act on: the busiest) absent, or None, in turn."""
    full = max(rows, key=lambda r: (bool(r.scraper), r.features.get("views_1h") or r.features.get("requests_10m") or 0))
    variants = [("no features", full._replace(features={})),
                ("every feature None", full._replace(features=dict.fromkeys(full.features)))]  # fmt: skip
    for name in full.features:
        variants.append((f"without {name}", full._replace(features={k: v for k, v in full.features.items()
                                                                    if k != name})))  # fmt: skip
        variants.append((f"{name} None", full._replace(features={**full.features, name: None})))
    return variants


# -- the contract --------------------------------------------------------------------------------------------

RAISES_ON_MISSING: dict[type, str] = {}
"""Known to break the missing-features promise (the reason says how); none today."""


def _params() -> list[Any]:
    params = []
    for cls in IMPLEMENTATIONS:
        examples = [(label, make) for label, make, kind in EXAMPLES if kind is cls]
        marks = []
        if cls in RAISES_ON_MISSING:
            marks.append(pytest.mark.xfail(raises=MissingFeatures, strict=True, reason=RAISES_ON_MISSING[cls]))
        for label, make in examples or [("no example", None)]:
            params.append(pytest.param(cls, make, id=f"{cls.__name__}-{label}", marks=marks))
    return params


@pytest.mark.parametrize("cls, make", _params())
def test_layer_contract(cls: type[Layer], make: Make | None) -> None:
    """Deterministic for its parameters and seed, scores in 0..1, pickles midway without changing what follows,
    `clone` starts fresh and shares nothing, and survives rows with features absent or None."""
    assert make is not None, f"{cls.__name__}: no example; the default configuration builds none, add one to EXTRA"
    layer = make()
    assert type(layer) is cls and layer.layer, f"{cls.__name__} names no `layer` (used in fusion and evidence)"
    rows = ROWS[layer.subject_type]
    half = len(rows) // 2

    # deterministic: two instances fed the same rows give the same hits and scores
    outputs = run(layer, rows)
    assert run(make(), rows) == outputs
    assert exercised(outputs), f"{cls.__name__}: no hit and a constant score on every row: nothing is compared"
    assert all(score is None or 0.0 <= score <= 1.0 for _, score in outputs)
    for hits, _ in outputs:
        assert all(isinstance(h, Hit) and 0.0 <= h.score <= 1.0 for h in hits)
    if not isinstance(layer, Rule) and "seed" in layer.params:
        reseeded = cls(**{**layer.params, "seed": layer.params["seed"] + 1})
        assert run(reseeded, rows) != outputs, "the seed changes nothing"

    # pickles: a copy taken midway goes on exactly as the original and as an uninterrupted run
    original = make()
    run(original, rows[:half])
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is cls
    assert run(copy, rows[half:]) == outputs[half:]
    assert run(original, rows[half:]) == outputs[half:]

    # a clone of a trained layer behaves like a new one, and training it leaves the original alone
    trained, twin = make(), make()
    run(trained, rows[:half])
    run(twin, rows[:half])
    clone = trained.clone()
    assert type(clone) is cls
    fresh = run(make(), rows[half:])
    assert run(clone, rows[half:]) == fresh
    assert run(trained, rows[half:]) == run(twin, rows[half:]) == outputs[half:]
    if not isinstance(layer, Rule):  # rules learn nothing; for the others training must show, or the above is moot
        assert fresh != outputs[half:], f"{cls.__name__}: training changes nothing, so 'starts fresh' is not tested"

    # missing features: nothing raises, on a new layer and on a trained one
    for subject in (make(), trained):
        for what, row in missing_feature_rows(rows):
            try:
                (hits, score), *_ = run(subject, [row])
            except Exception as exc:
                raise MissingFeatures(f"{cls.__name__} on a row {what}: {type(exc).__name__}: {exc}") from exc
            assert isinstance(hits, list) and (score is None or 0.0 <= score <= 1.0), what


def test_every_layer_family_is_discovered_and_has_an_example() -> None:
    """Discovery finds every rule family module, each model module and the coordination detector, and each
    implementation it finds has an example (and no example is of a class discovery missed)."""
    families = {f"detectors.rules.{m.name}" for m in pkgutil.iter_modules(detectors.rules.__path__)} - {
        "detectors.rules.base"
    }
    models = {f"detectors.models.{m.name}" for m in pkgutil.iter_modules(detectors.models.__path__)} - {
        "detectors.models.halfspace"  # the anomaly model's trees, not a layer
    }
    assert families >= {"detectors.rules.profile_rate", "detectors.rules.new_account", "detectors.rules.behaviour"}
    assert models >= {"detectors.models.anomaly", "detectors.models.supervised"}
    assert IMPLEMENTATIONS
    assert {c.__module__ for c in IMPLEMENTATIONS} >= families | models | {"detectors.coordination"}
    example_classes = {kind for _, _, kind in EXAMPLES}
    assert example_classes == set(IMPLEMENTATIONS)
