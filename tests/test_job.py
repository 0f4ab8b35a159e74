"""The embedded job end to end: bad input, several and compressed files, parallelism, overrides, usage errors."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.events import format_ms, parse_timestamp
from tests.conftest import comparable, reference

GOLDEN = Path(__file__).parent / "golden"


def clean_lines() -> list[str]:
    """Valid traffic with decisions on accounts and IPs: two golden inputs merged in time order."""
    lines = []
    for case in ("new_account_crawler", "logged_out_enumerator", "benign_mix"):
        lines += (GOLDEN / case / "input.jsonl").read_text().splitlines()
    return sorted(lines)  # every line starts with {"ts":"<RFC 3339 UTC>", so text order is time order


BAD_LINES = [
    "this is not json",
    '{"ts": "2026-01-05T08:00:00Z", "ip": "10.0.0.1", "method": "GET", "path": "/u/1"}',  # no status
    '{"ts": "2026-01-05T08:00:00Z", "ip": "10.0.0.1", "method": "GET", "path": "/u/1", "status": "200"}',
    '{"ts": "yesterday", "ip": "10.0.0.1", "method": "GET", "path": "/u/1", "status": 200}',
    '{"ts": "2026-01-05T08:00:00Z", "ip": "10.0.0.300", "method": "GET", "path": "/u/1", "status": 200}',
    '{"ts": 1767600000, "ip": "10.0.0.1", "method": "GET", "path": "/u/1", "status": 200}',  # epoch seconds
    '{"ts": "2026-01-05T08:00:00Z", "ip": "10.0.0.1", "method": "GET", "path": "/u/1", "status": 200, "account_id": 7}',
    '{"ts": "2026-01-05T08:00:00Z", "ip": "10.0.0.1", "method": "GET", "path": "/u/1", "status": 200, "user_agent": "'
    + "x" * 70_000
    + '"}',
    "[1, 2, 3]",
    '10.0.0.1 - - [05/Jan/2026:08:00:00 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"',
    '{"ts": "2026-01-05T06:00:00Z", "ip": "10.0.0.1", "method": "GET", "path": "/u/1", "status": 200}',  # late
]


@pytest.mark.flink
def test_malformed_lines_are_dead_lettered_and_valid_ones_all_processed(tmp_path, run_cli):
    clean = clean_lines()
    rng = random.Random(5)
    dirty = list(clean)
    for bad in BAD_LINES:
        dirty.insert(rng.randrange(len(clean) // 10, len(dirty)), bad)  # after the stream's start, so "late" is late
    clean_file, dirty_file = tmp_path / "clean.jsonl", tmp_path / "dirty.jsonl"
    clean_file.write_text("\n".join(clean) + "\n")
    dirty_file.write_text("\n".join(dirty) + "\n\n")  # a trailing blank line is skipped, not rejected

    base, run = run_cli([clean_file], name="decisions-clean"), run_cli([dirty_file], name="decisions-dirty")

    assert base.returncode == 0 and run.returncode == 0, run.stderr[-3000:]
    n_valid, n_bad = len(clean), len(BAD_LINES)
    assert (
        f"read {n_valid + n_bad}, accepted {n_valid}, rejected {n_bad}, decisions {len(base.decisions)}" in run.stdout
    )
    assert len(run.dead_letters) == n_bad
    for record in run.dead_letters:
        assert record["source"] == str(dirty_file)
        assert dirty[record["line"] - 1] == record["raw"]
        assert record["raw"] in BAD_LINES and record["reason"]
    assert {r["raw"] for r in run.dead_letters} == set(BAD_LINES)
    late = next(r for r in run.dead_letters if r["raw"] == BAD_LINES[-1])
    assert late["reason"].startswith("late: event time 2026-01-05T06:00:00.000Z")
    assert base.decisions and comparable(run.decisions) == comparable(base.decisions)
    assert {d["subject_type"] for d in base.decisions} == {"account", "ip"}


@pytest.mark.flink
def test_several_files_gzip_and_parallelism_two_give_the_reference_decisions(tmp_path, run_cli):
    lines = clean_lines()
    first, second = tmp_path / "part-1.jsonl.gz", tmp_path / "part-2.jsonl"
    with gzip.open(first, "wt") as f:
        f.write("\n".join(lines[::2]) + "\n")
    second.write_text("\n".join(lines[1::2]) + "\n")

    run = run_cli([second, first], "--parallelism", "2")

    assert run.returncode == 0, run.stderr[-3000:]
    assert f"read {len(lines)}, accepted {len(lines)}, rejected 0" in run.stdout
    assert comparable(run.decisions) == reference([first, second]) != []


@pytest.mark.flink
def test_standard_input_is_an_input_too(tmp_path):
    """`--input -` (here gzip, beside a plain file): the Flink file source needs a path, so standard input is
    copied to a temporary file first; the decisions are those of the same lines read from files."""
    lines = clean_lines()
    second = tmp_path / "part-2.jsonl"
    second.write_text("\n".join(lines[1::2]) + "\n")
    piped = gzip.compress(("\n".join(lines[::2]) + "\nnot json\n").encode())
    output = tmp_path / "decisions.jsonl"
    cmd = [sys.executable, "-m", "jobs.cli", "run", "--input", "-", str(second), "--output", str(output)]
    proc = subprocess.run(cmd, input=piped, capture_output=True, timeout=600)

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"read {len(lines) + 1}, accepted {len(lines)}, rejected 1" in proc.stdout.decode()
    first = tmp_path / "part-1.jsonl.gz"
    first.write_bytes(piped)
    decisions = [json.loads(line) for line in output.read_text().splitlines()]
    assert comparable(decisions) == reference([first, second]) != []
    (dead,) = [json.loads(line) for line in (tmp_path / "decisions.dead-letter.jsonl").read_text().splitlines()]
    assert dead["raw"] == "not json" and dead["source"].endswith("/stdin.gz")


@pytest.mark.flink
def test_platform_config_overrides_routes_and_limits(tmp_path, run_cli):
    config = tmp_path / "platform.toml"
    config.write_text(
        """
[[routes]]
action = "profile_view"
pattern = '^/people/(?P<target>[^/]+)$'

[rules.account_profile_rate]
limits = [{ window = "10m", max_views = 20, action = "block" }]
"""
    )
    events = tmp_path / "people.jsonl"
    rows = [
        f'{{"ts": {1767600000000 + i * 5000}, "ip": "10.1.1.1", "method": "GET", "path": "/people/p{i}", '
        f'"status": 200, "account_id": "acme", "account_created_at": "2020-01-01T00:00:00Z"}}'
        for i in range(30)
    ]
    rows += [
        f'{{"ts": {1767600000000 + i * 500}, "ip": "10.1.1.2", "method": "GET", "path": "/u/{i}", "status": 200}}'
        for i in range(100)
    ]
    events.write_text("\n".join(rows) + "\n")

    run = run_cli([events], "--config", str(config))

    assert run.returncode == 0, run.stderr[-3000:]
    got = comparable(run.decisions)
    assert got == reference([events], config)
    # /people/<id> counts as a profile view now; /u/<id> no longer does, so the IP is not flagged.
    assert [(d["subject"], d["action"], d["reasons"]) for d in got] == [
        ("acme", "block", ["account_profile_views_10m"])
    ]
    assert got[0]["evidence"]["profile_views_10m"] == 24  # a 10-minute window is counted per minute: at 1:55


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (None, ["--input", "missing.jsonl"], "--input missing.jsonl: file not found"),
        ("dir", ["--input", "adir"], "--input adir: not a regular file"),
        ("ok", ["--input", "ok.jsonl", "--config", "nope.toml"], "config nope.toml: file not found"),
        ("bad_toml", ["--input", "ok.jsonl", "--config", "bad.toml"], "config bad.toml: not valid TOML"),
        ("unknown_key", ["--input", "ok.jsonl", "--config", "typo.toml"], "unknown key 'acount_profile_rate'"),
        ("bad_duration", ["--input", "ok.jsonl", "--config", "dur.toml"], "'1 hour' is not a duration"),
        ("ok", ["--input", "ok.jsonl", "--parallelism", "0"], "--parallelism must be at least 1"),
        ("ok", ["--input", "ok.jsonl", "--dead-letter", "ok.jsonl"], "--dead-letter ok.jsonl is also an input"),
    ],
)
def test_usage_errors_stop_before_any_work_with_one_line_and_exit_2(tmp_path, monkeypatch, setup, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "ok.jsonl").write_text(
        '{"ts": 1767600000000, "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200}\n'
    )
    (tmp_path / "bad.toml").write_text("[rules\n")
    (tmp_path / "typo.toml").write_text("[rules.acount_profile_rate]\nenabled = false\n")
    (tmp_path / "dur.toml").write_text(
        '[rules.account_profile_rate]\nlimits = [{window = "1 hour", max_views = 5, action = "block"}]\n'
    )

    proc = cli("run", *args, "--output", "out/decisions.jsonl")

    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--output", "d.jsonl"], "--output is for --input; the streaming job writes to Kafka topics"),
        (["--verdicts", "v.jsonl"], "--verdicts is for --input; the streaming job reads analyst verdicts from the"),
        (["--model", "missing.pkl"], "model file missing.pkl: not found"),
        (["--state-ttl", "1h"], "--state-ttl 1h is shorter than the longest rule window (86400 s)"),
        (["--checkpoint-interval", "soon"], "--checkpoint-interval: 'soon' is not a duration"),
        (["--restore", "chk"], "--restore chk: no completed checkpoint (no _metadata file) there"),
        (["--restore", "chk", "--until-end"], "--until-end cannot be combined with --restore"),
    ],
)
def test_streaming_usage_errors_stop_before_any_job_with_one_line_and_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chk" / "job" / "chk-3").mkdir(parents=True)  # a checkpoint that never completed

    proc = cli("run", "--bootstrap-servers", "127.0.0.1:1", *args)

    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_one_event_far_in_the_future_is_rejected_alone_and_changes_no_decision(tmp_path, run_cli):
    """Issue 11: a line stamped 21 hours after its neighbours (a skewed server) goes to dead-letter as too far
    ahead, and does not move the input's clock: every later line is still accepted, the decisions are the same."""
    case = Path(__file__).parent / "golden" / "new_account_crawler"
    lines = (case / "input.jsonl").read_text().splitlines()
    future = json.loads(lines[100])
    future["ts"] = format_ms(parse_timestamp(future["ts"]) + 21 * 3_600_000)
    hostile = tmp_path / "with-future.jsonl"
    hostile.write_text("\n".join([*lines[:101], json.dumps(future), *lines[101:]]) + "\n")
    run = run_cli([hostile])
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"read {len(lines) + 1}, accepted {len(lines)}, rejected 1" in run.stdout
    (dead,) = run.dead_letters
    assert (dead["line"], dead["reason"][:14]) == (102, "too far ahead:")
    assert comparable(run.decisions) == comparable(
        [json.loads(x) for x in (case / "expected.jsonl").read_text().splitlines()]
    )


PLAN = """
import collections, json, sys
from pathlib import Path
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment
from detectors.config import load_config
from jobs.detect import _union, build, file_requests, flink_configuration

env = StreamExecutionEnvironment.get_execution_environment(flink_configuration())
t_env = StreamTableEnvironment.create(env)
config = load_config()
tables, rejects = zip(*(file_requests(t_env, Path(p), config, i) for i, p in enumerate(sys.argv[1:])))
decisions, dead = build(t_env, _union(tables), _union(rejects), config)
decisions.union(dead).print()
nodes = json.loads(env.get_execution_plan())["nodes"]
print(json.dumps(collections.Counter(n["contents"].split("(")[0].split(":")[-1] for n in nodes)))
"""


@pytest.mark.flink
def test_the_queries_convert_and_watermark_the_parse_rows_once_per_input(tmp_path):
    """The SQL queries (dead letters, short-window limits, minute summaries) are planned together, so each input's
    parse rows are converted into the table runtime and watermarked once, not once per query."""
    inputs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in inputs:
        path.write_text("\n".join(clean_lines()[:10]) + "\n")
    plan = subprocess.run(
        [sys.executable, "-c", PLAN, *map(str, inputs)], capture_output=True, text=True, check=True, timeout=300
    )
    counts = json.loads(plan.stdout.strip().splitlines()[-1])
    assert counts["WatermarkAssigner"] == 2 and counts["TableSourceScan"] == 4  # 2 files + 2 parse streams
    assert counts["OverAggregate"] == 2 and counts["GlobalWindowAggregate"] == 3  # the queries are all there
