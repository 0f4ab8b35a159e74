"""The `scrapeguard` command as a new user meets it: --version, fast --help with defaults, `-` for standard input,
one line and exit 2 for every bad input, flags spelled one way."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.broker import free_port
from detectors import __version__
from jobs.cli import _parser, main

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
EVAL = ROOT / "tests" / "fixtures" / "evaluation"
COMMANDS = ("run", "produce", "simulate", "summary", "evaluate", "enforce")
EVENT = '{"ts": 1767600000000, "ip": "10.0.0.1", "method": "GET", "path": "/", "status": 200}\n'
HEAVY = ("pyflink", "river", "kafka", "matplotlib", "numpy", "tqdm", "detectors.assess", "detectors.pipeline")


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},  # help text wraps at hyphens otherwise
    )


def one_line_exit_2(proc: subprocess.CompletedProcess, command: str, message: str) -> None:
    err = proc.stderr.decode() if isinstance(proc.stderr, bytes) else proc.stderr
    assert proc.returncode == 2, err
    assert err == f"scrapeguard {command}: {message}\n"


# -- conventions -----------------------------------------------------------------------


def test_version_is_the_package_version():
    proc = cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.decode() == f"scrapeguard {__version__}\n"
    assert __version__ == importlib.metadata.version("scrapeguard")


def test_help_imports_no_heavy_module_and_answers_well_under_a_second():
    probe = (
        "import sys, contextlib, io\n"
        "from jobs.cli import main\n"
        f"for command in {COMMANDS!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main([command, '--help'])\n"
        "names = {m if m.startswith('detectors') else m.split('.')[0] for m in sys.modules}\n"
        f"print(sorted(names & set({HEAVY!r})))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
    for command in COMMANDS:
        started = time.monotonic()
        proc = cli(command, "--help")
        took = time.monotonic() - started
        assert proc.returncode == 0 and proc.stdout.decode().startswith(f"usage: scrapeguard {command}")
        assert took < 1.0, f"{command} --help took {took:.2f} s"  # measured 0.05-0.07 s on the project machine


def test_help_shows_the_defaults_and_no_empty_ones():
    texts = {command: cli(command, "--help").stdout.decode() for command in COMMANDS}
    flat = {command: " ".join(text.split()) for command, text in texts.items()}
    assert "--checkpoint-interval DURATION decisions become visible" in flat["run"]
    assert "(default: 30s)" in flat["run"] and "(default: 7d)" in flat["run"] and "(default: 1)" in flat["run"]
    assert "(default: scrapeguard-detect)" in flat["run"] and "(default: hashmap)" in flat["run"]
    assert "(default: small)" in flat["simulate"] and "(default: 1)" in flat["simulate"]
    assert "(default: wall)" in flat["enforce"] and "(default: 10s)" in flat["produce"]
    for command, text in flat.items():
        assert "(default: None)" not in text and "(default: False)" not in text and "(default: )" not in text, command


def test_one_spelling_per_flag_group_id_and_topic_prefix(capsys):
    args = _parser().parse_args(["enforce", "--bootstrap-servers", "b:1", "--print", "--group-id", "lag"])
    assert args.group_id == "lag"
    old = _parser().parse_args(["enforce", "--bootstrap-servers", "b:1", "--print", "--group", "lag"])
    assert old.group_id == "lag"  # the old spelling still works ...
    assert capsys.readouterr().err == "scrapeguard enforce: --group is deprecated; use --group-id\n"
    assert "--group " not in " ".join(cli("enforce", "--help").stdout.decode().split()) + " "  # ... hidden from help
    from jobs.topics import parser

    assert parser().parse_args(["--topic-prefix", "staging."]).topic_prefix == "staging."
    assert parser().parse_args(["--prefix", "staging."]).topic_prefix == "staging."
    assert capsys.readouterr().err == "infra/topics.py: --prefix is deprecated; use --topic-prefix\n"
    topics_help = subprocess.run(
        [sys.executable, str(ROOT / "infra/topics.py"), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "--topic-prefix PREFIX" in topics_help and "--prefix" not in topics_help.replace("--topic-prefix", "")


# -- standard input ----------------------------------------------------------------------


def test_summary_and_evaluate_read_standard_input():
    decisions = GOLDEN / "logged_out_enumerator" / "expected.jsonl"
    from_file = cli("summary", "--decisions", str(decisions))
    from_stdin = cli("summary", "--decisions", "-", stdin=decisions.read_bytes())
    assert from_stdin.returncode == 0 and from_stdin.stdout == from_file.stdout
    assert from_stdin.stdout.decode().startswith("2 decisions on 1 subjects")
    args = ["evaluate", "--json", "--labels", str(EVAL / "labels.json"), "--decisions", str(EVAL / "decisions.jsonl")]
    from_file = cli(*args, "--events", str(EVAL / "events.jsonl"))
    import gzip

    from_stdin = cli(*args, "--events", "-", stdin=gzip.compress((EVAL / "events.jsonl").read_bytes()))
    assert from_file.returncode == 0 and from_stdin.returncode == 0, from_stdin.stderr
    file_json, stdin_json = json.loads(from_file.stdout), json.loads(from_stdin.stdout)
    assert stdin_json["inputs"]["events"] == "-"
    for result in (file_json, stdin_json):
        del result["inputs"]["events"], result["seconds"]
    assert stdin_json == file_json


def test_standard_input_is_read_once_and_never_from_a_terminal(tmp_path):
    proc = cli("evaluate", "--events", "-", "--labels", "-", "--decisions", "x.jsonl", stdin=b"")
    one_line_exit_2(proc, "evaluate", "standard input (-) is given 2 times (--events, --labels); it can be read once")
    proc = cli("run", "--input", "-", "--verdicts", "-", "--output", str(tmp_path / "d.jsonl"), stdin=b"")
    one_line_exit_2(proc, "run", "standard input (-) is given 2 times (--input, --verdicts); it can be read once")
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "jobs.cli", "summary", "--decisions", "-"],
            stdin=slave,
            capture_output=True,
            timeout=60,
        )
    finally:
        os.close(slave)
        os.close(master)
    one_line_exit_2(
        proc, "summary", "--decisions -: standard input is a terminal; pipe the input in (... | scrapeguard ...)"
    )


# -- one line and exit 2 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"subject_type": "ip",\n', "line 1: not valid JSON (unexpected end of data"),
        (b"\n[1, 2]\n", "line 2: not a JSON object but list"),
        (b'{"subject_type": "ip", "subject": "a", "action": "block"}\n', "line 1: field 'reasons' is not a list"),
        (b'{"subject_type": "ip", "subject": 7, "action": "block", "reasons": []}\n', "line 1: field 'subject' is not"),
        (b"\xff\xfe{}\n", "line 1: not valid JSON"),
    ],
)
def test_summary_of_a_malformed_decisions_file_is_one_line_and_exit_2(tmp_path, capsys, content, reason):
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(content)
    assert main(["summary", "--decisions", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"scrapeguard summary: decisions {path} {reason}")


def test_evaluate_refuses_events_with_no_valid_event_or_no_labeled_actor_and_empty_labels(tmp_path, capsys):
    labels, decisions = str(EVAL / "labels.json"), str(EVAL / "decisions.jsonl")
    junk = tmp_path / "junk.jsonl"
    junk.write_text('not json\n{"ts": 5}\n\n')
    assert main(["evaluate", "--events", str(junk), "--labels", labels, "--decisions", decisions]) == 2
    assert capsys.readouterr().err == (
        f"scrapeguard evaluate: events {junk}: no valid event in 3 lines (first rejected: line 1: not a JSON object "
        "and not a combined log line); nothing to score\n"
    )
    other = GOLDEN / "logged_out_enumerator" / "input.jsonl"  # valid events of actors these labels do not know
    assert main(["evaluate", "--events", str(other), "--labels", labels, "--decisions", decisions]) == 2
    assert capsys.readouterr().err == (
        f"scrapeguard evaluate: events {other}: none of its 720 events comes from an actor of labels {labels}; "
        "are they from the same simulation?\n"
    )
    empty = tmp_path / "labels.json"
    empty.write_text("{}")
    assert main(["evaluate", "--events", str(EVAL / "events.jsonl"), "--labels", str(empty), "--decisions", decisions])
    assert capsys.readouterr().err == f"scrapeguard evaluate: labels {empty}: no labeled actor; nothing to score\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "in.jsonl", "--output", "in.jsonl"], "--output in.jsonl is also an input (--input)"),
        (["--input", "in.jsonl", "--output", "d.jsonl", "--dead-letter", "d.jsonl"], "--dead-letter and --output are"),
        (["--input", "in.jsonl", "--output", "v.jsonl", "--verdicts", "v.jsonl"], "--output v.jsonl is also an input"),
        (["--input", "in.jsonl", "--output", "d.jsonl", "--dead-letter", "v.jsonl", "--verdicts", "v.jsonl"],
         "--dead-letter v.jsonl is also an input (--verdicts)"),
        (["--input", "in.jsonl", "--output", "p.toml", "--config", "p.toml"], "--output p.toml is also an input"),
        (["--input", "in.jsonl", "--output", "d.jsonl", "--model-out", "in.jsonl"], "--model-out in.jsonl is also an"),
        (["--input", "in.jsonl", "--output", "d.jsonl", "--model-out", "d.jsonl"], "--model-out and --output are the"),
        (["--input", "in.jsonl", "--output", "link.jsonl"], "--output link.jsonl is also an input (--input)"),
        (["--input", "in.jsonl", "link.jsonl", "--output", "d.jsonl"], "--input link.jsonl is given twice"),
        (["--input", "in.jsonl", "--output", "."], "--output .: is a directory; give a file name"),
        (["--input", "in.jsonl", "--output", "p.toml/d.jsonl"],
         "--output p.toml/d.jsonl: cannot create directory p.toml (File exists)"),
    ],
)  # fmt: skip
def test_run_refuses_an_output_that_is_an_input_or_another_output(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text(EVENT)
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "in.jsonl")
    (tmp_path / "v.jsonl").write_text("")
    (tmp_path / "p.toml").write_text("")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"scrapeguard run: {message}") and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written, nothing started


def test_simulate_into_a_directory_that_cannot_be_made_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    out = tmp_path / "afile" / "sim"
    assert main(["simulate", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == f"scrapeguard simulate: cannot write {out} (Not a directory)\n"


def test_produce_to_a_broker_that_does_not_answer_fails_fast_in_one_line(tmp_path):
    port = free_port()  # nothing listens there
    started = time.monotonic()
    proc = cli("produce", "--input", str(GOLDEN / "logged_out_enumerator/input.jsonl"),
               "--bootstrap-servers", f"127.0.0.1:{port}", "--connect-timeout", "2s")  # fmt: skip
    took = time.monotonic() - started
    one_line_exit_2(
        proc,
        "produce",
        f"--bootstrap-servers 127.0.0.1:{port}: no Kafka broker answers "
        f"(KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:{port})",
    )
    assert took < 10, took  # the default --connect-timeout is 10 s; it was 30 s and a traceback
    bad = cli("produce", "--input", "x", "--bootstrap-servers", "b:1", "--connect-timeout", "soon")
    one_line_exit_2(bad, "produce", "--input x: file not found")


def test_enforce_with_a_broker_that_does_not_answer_stops_at_the_connect_timeout():
    port = free_port()
    started = time.monotonic()
    proc = cli("enforce", "--bootstrap-servers", f"127.0.0.1:{port}", "--until-end", "--connect-timeout", "2s")
    assert time.monotonic() - started < 10
    one_line_exit_2(
        proc,
        "enforce",
        f"--bootstrap-servers 127.0.0.1:{port}: no Kafka broker answers "
        f"(KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:{port})",
    )


@pytest.mark.kafka
def test_produce_reads_standard_input_and_names_a_missing_topic(kafka_broker, topic_prefix):
    from kafka import KafkaConsumer, TopicPartition

    events = GOLDEN / "logged_out_enumerator" / "input.jsonl"
    proc = cli("produce", "--input", "-", "--bootstrap-servers", kafka_broker.bootstrap, "--topic-prefix",
               topic_prefix, stdin=events.read_bytes())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith("scrapeguard produce: 720 messages (0 unparsed, sent without key)")
    consumer = KafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, enable_auto_commit=False)
    topic = f"{topic_prefix}access-logs"
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    assert sum(consumer.end_offsets(tps).values()) == 720
    consumer.close()
    missing = cli("produce", "--input", str(events), "--bootstrap-servers", kafka_broker.bootstrap,
                  "--topic-prefix", "nowhere.", "--connect-timeout", "3s")  # fmt: skip
    one_line_exit_2(
        missing,
        "produce",
        f"topic nowhere.access-logs does not exist on {kafka_broker.bootstrap} "
        f"(create it: python infra/topics.py --bootstrap-servers {kafka_broker.bootstrap})",
    )
