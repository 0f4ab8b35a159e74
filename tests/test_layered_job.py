"""The layered detector inside the real Flink job: analyst verdicts, model export and warm start, determinism."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from detectors.config import load_config
from detectors.events import BadEvent, LineReader, parse_timestamp
from detectors.learner import Learner
from detectors.pipeline import detect
from detectors.verdicts import parse_verdict
from jobs.detect import read_lines
from tests.conftest import Run, _as_json, cli_runner, comparable

pytestmark = [pytest.mark.flink, pytest.mark.slow]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The `small` scenario, seed 7: every scraper strategy and every benign kind, 2.5 simulated hours (long enough
    for the anomaly model to pass its warm-up)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("sim")
    made = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "simulate", "--out", str(out), "--scenario", "small", "--seed", "7",
         "--hours", "2.5"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return out / "events.jsonl", json.loads((out / "labels.json").read_text())


def events_of(path: Path) -> list:
    reader = LineReader.for_config(load_config())
    return [e for e in (reader.feed(line.rstrip("\n")) for line in read_lines(path)) if e is not None]


def expected(
    path: Path, verdicts: Path | None = None, learner: Learner | None = None, model: Path | None = None
) -> list[dict]:
    found = []
    for line in verdicts.read_text().splitlines() if verdicts else []:
        try:
            found.append(parse_verdict(line))
        except BadEvent:
            continue
    config = load_config() if model is None else load_config().with_model(model)
    return comparable([_as_json(d) for d in detect(events_of(path), config, found, learner)])


@pytest.fixture(scope="module")
def cold(sample, tmp_path_factory) -> tuple[Run, Path]:
    """The job at parallelism 2 from no state, writing its models at the end."""
    out = tmp_path_factory.mktemp("cold")
    model = out / "model.pkl"
    run = cli_runner(out)([sample[0]], "--parallelism", "2", "--model-out", str(model))
    assert run.returncode == 0, run.stderr[-3000:]
    return run, model


def test_every_layer_runs_in_the_job_as_in_the_reference(sample, cold):
    """Rate limits, behaviour rules, the anomaly model, coordination and allowlists: the job at parallelism 2
    gives the plain-Python reference's decisions, ids and content, explanations included."""
    events, labels = sample
    run = cold[0]
    assert comparable(run.decisions) == expected(events)
    reasons = {r for d in run.decisions for r in d["reasons"]}
    assert {"coordinated_fleet", "ip_profile_views_1m"} <= reasons
    assert any(r.startswith("new_account_profile_views_") for r in reasons)
    assert any(r in reasons for r in ("steady_profile_crawl", "profiles_only", "automation_user_agent"))
    flagged = {labels.get(f"{d['subject_type']}:{d['subject']}", "") for d in run.decisions}
    assert not {k for k in flagged if k.startswith("benign_")}  # heavy recruiters included: their tier's quota
    assert {"address_fleet", "mass_lookup"} <= reasons  # spread crawls and look-ups (issue 12)
    assert all(d["evidence"]["top_features"] for d in run.decisions)


def test_a_dismissed_subject_is_unblocked_and_bad_verdicts_are_dead_lettered(sample, cold, run_cli, tmp_path):
    events, _ = sample
    blocked = next(d for d in cold[0].decisions if d["action"] == "block")
    # A minute after the block's event time: a block from a minute's behaviour row is made at the minute's end.
    verdict = {"ts": parse_timestamp(blocked["event_time"]) + 60_000, "subject_type": blocked["subject_type"],
               "subject": blocked["subject"], "verdict": "dismiss", "analyst": "t&s-1"}  # fmt: skip
    verdicts = tmp_path / "verdicts.jsonl"
    verdicts.write_text(json.dumps(verdict) + '\n{"ts": 1, "subject": "x"}\n')
    run = run_cli([events], "--verdicts", str(verdicts), name="with-verdicts")
    assert run.returncode == 0, run.stderr[-3000:]
    assert comparable(run.decisions) == expected(events, verdicts)
    subject = [d for d in run.decisions if d["subject"] == blocked["subject"]]
    unblock = next(d for d in subject if d["action"] == "unblock")
    assert unblock["reasons"] == ["analyst_dismissed"] and unblock["event_time"] >= blocked["event_time"]
    (bad,) = run.dead_letters
    assert (bad["source"], bad["line"], bad["reason"]) == (str(verdicts), 2, "missing required field 'subject_type'")


def test_models_are_exported_at_the_end_and_a_warm_start_continues_from_them(sample, cold, run_cli):
    events, _ = sample
    first, model = cold
    state = pickle.loads(model.read_bytes())
    cold_reference = Learner(load_config())
    expected(events, learner=cold_reference)
    assert state["anomaly"].learned == cold_reference.anomaly.learned > 1000  # past the warm-up: it was scoring
    assert state["population"].__dict__ == cold_reference.population.__dict__
    warm = run_cli([events], "--model", str(model), name="warm")
    assert warm.returncode == 0, warm.stderr[-3000:]
    learner = Learner(load_config())
    learner.load(model)
    assert comparable(warm.decisions) == expected(events, learner=learner, model=model)
    assert comparable(warm.decisions) != comparable(first.decisions)  # e.g. percentiles over a population seen before
    # provenance: the warm run's decisions name the model file, so the two runs never share a detector_version
    (cold_version,) = {d["detector_version"] for d in first.decisions}
    (warm_version,) = {d["detector_version"] for d in warm.decisions}
    assert warm_version == f"{cold_version}.m{load_config().with_model(model).model}" != cold_version


def test_a_model_file_that_is_not_one_is_a_usage_error(sample, run_cli, tmp_path):
    events, _ = sample
    bogus = tmp_path / "model.pkl"
    bogus.write_text("not a model")
    run = run_cli([events], "--model", str(bogus))
    assert run.returncode == 2
    assert run.stderr.strip().startswith(f"scrapeguard run: model file {bogus}: not a scrapeguard model")
