"""The `scrapeguard` command: thin argument handling that launches jobs.

Every input is checked before a job starts; a mistake prints one line naming the
input and the reason, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detectors.config import Config, ConfigError, load_config, parse_duration
from detectors.engine import build_detectors

USAGE_ERROR = 2


class UsageError(Exception):
    """A bad command line, input path or configuration: reported in one line, exit 2."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `scrapeguard` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["review"]:  # the review console parses its own options (review/cli.py)
        from review.cli import main as review  # imported late: Django is not free

        return review(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (UsageError, ConfigError) as exc:
        print(f"scrapeguard {args.command}: {exc}", file=sys.stderr)
        return USAGE_ERROR


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.parallelism < 1:
        raise UsageError(f"--parallelism must be at least 1, not {args.parallelism}")
    if args.bootstrap_servers:
        return _run_stream(args, config)
    if args.output is None:
        raise UsageError("--output is required with --input")
    inputs = [_existing_file(p) for p in args.input]
    output = Path(args.output)
    dead_letter = Path(args.dead_letter) if args.dead_letter else output.with_name(output.stem + ".dead-letter.jsonl")
    for option, path in (("--output", output), ("--dead-letter", dead_letter)):
        if any(path.resolve() == p.resolve() for p in inputs):
            raise UsageError(f"{option} {path} is also an input; it would be overwritten")
    verdicts = _existing_file(args.verdicts) if args.verdicts else None
    model = str(_model_file(args.model)) if args.model else None
    from jobs.detect import run_files  # imported late: starting PyFlink is not free

    summary = run_files(
        inputs,
        output,
        dead_letter,
        config,
        args.parallelism,
        verdicts,
        model,
        str(Path(args.model_out).resolve()) if args.model_out else None,
    )
    print(f"scrapeguard run: {summary.line()}")
    print(f"decisions: {output}")
    print(f"dead letters: {dead_letter}" + ("" if summary.rejected else " (none)"))
    return 0


def _model_file(path: str) -> Path:
    """A model file that exists and loads, else a usage error naming it."""
    from detectors.assess import Assessor

    try:
        Assessor(load_config()).load(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Path(path).resolve()


def _run_stream(args: argparse.Namespace, config: Config) -> int:
    for option in ("output", "dead_letter", "model_out"):
        if getattr(args, option):
            raise UsageError(f"--{option.replace('_', '-')} is for --input; the streaming job writes to Kafka topics")
    if args.verdicts:
        raise UsageError("--verdicts is for --input; the streaming job reads analyst verdicts from the verdicts topic")
    windows = max(ms for detector in build_detectors(config) for ms in detector.windows.values())
    ttl = parse_duration(args.state_ttl, "--state-ttl")
    if ttl < windows:
        raise UsageError(f"--state-ttl {args.state_ttl} is shorter than the longest rule window ({windows // 1000} s)")
    if args.restore and args.until_end:
        raise UsageError(
            "--until-end cannot be combined with --restore: a restored bounded Kafka source never finishes "
            "(FLINK-31006, Kafka connector 5.0.0-2.2)"
        )
    restore = _checkpoint(args.restore) if args.restore else None
    from jobs.stream import StreamOptions, run_stream

    options = StreamOptions(
        bootstrap_servers=args.bootstrap_servers,
        topic_prefix=args.topic_prefix,
        group_id=args.group_id,
        transactional_id_prefix=args.transactional_id_prefix,
        checkpoint_interval_ms=parse_duration(args.checkpoint_interval, "--checkpoint-interval"),
        checkpoint_dir=_uri(args.checkpoint_dir),
        state_backend=args.state_backend,
        state_ttl_ms=ttl,
        idle_timeout_ms=parse_duration(args.idle_timeout, "--idle-timeout"),
        starting_offsets=args.starting_offsets,
        restore=restore,
        model=str(_model_file(args.model)) if args.model else None,
        until_end=args.until_end,
        parallelism=args.parallelism,
    )
    print(
        f"scrapeguard run: {options.topic('access-logs')} -> {options.topic('decisions')}"
        + (f", restored from {restore}" if restore else ""),
        flush=True,
    )
    run_stream(options, config)
    print("scrapeguard run: input ended; decisions committed")
    return 0


def _produce(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    inputs = [_existing_file(p) for p in args.input]
    from jobs.produce import produce

    sent = produce(inputs, args.bootstrap_servers, args.topic_prefix + "access-logs", config)
    print(
        f"scrapeguard produce: {sent.messages} messages ({sent.unparsed} unparsed, sent without key) "
        f"to {args.topic_prefix}access-logs in {sent.seconds:.1f} s"
    )
    return 0


def _uri(location: str) -> str:
    """A checkpoint location as a URI: local paths become absolute file:// URIs."""
    return location if "://" in location else Path(location).resolve().as_uri()


def _checkpoint(location: str) -> str:
    """The checkpoint to restore: a `chk-N` (or savepoint) directory, or the newest complete one under `location`."""
    if "://" in location and not location.startswith("file://"):
        return location
    path = Path(location.removeprefix("file://"))
    if (path / "_metadata").is_file():
        return path.resolve().as_uri()
    found = sorted(path.glob("**/_metadata"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UsageError(f"--restore {location}: no completed checkpoint (no _metadata file) there")
    return found[-1].parent.resolve().as_uri()


def _simulate(args: argparse.Namespace) -> int:
    from simulator import generate

    try:
        summary = generate(
            args.out,
            seed=args.seed,
            hours=args.hours,
            accounts=args.accounts,
            scenario=args.scenario,
            gzip_output=args.gzip,
            max_events=args.max_events,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"scrapeguard simulate: {summary['events']} events -> {summary['path']}")
    print("actors: " + ", ".join(f"{kind} {n}" for kind, n in sorted(summary["actors"].items())))
    return 0


def _summary(args: argparse.Namespace) -> int:
    from jobs.summary import summarize

    print(summarize(_existing_file(args.decisions)))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    events, labels, decisions = (_existing_file(p) for p in (args.events, args.labels, args.decisions))
    plot = Path(args.plot) if args.plot else None
    if plot is not None:
        if not plot.parent.is_dir():
            raise UsageError(f"--plot {plot}: directory {plot.parent} does not exist")
        if any(plot.resolve() == p.resolve() for p in (events, labels, decisions)):
            raise UsageError(f"--plot {plot} is also an input; it would be overwritten")
    from evaluation import InputError, evaluate
    from evaluation.report import render

    try:
        result = evaluate(events, labels, decisions)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    print(render(result, as_json=args.json, anchors=args.anchors))
    if plot is not None:
        from evaluation.plot import plot_views_before

        plot_views_before(result, plot)
        if not args.json:
            print(f"plot: {plot}")
    return 0


def _existing_file(name: str) -> Path:
    path = Path(name)
    if not path.exists():
        raise UsageError(f"input {name}: file not found")
    if not path.is_file():
        raise UsageError(f"input {name}: not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"input {name}: cannot be read ({exc.strerror})") from None
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scrapeguard", description="Streaming anti-scraping detector.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="detect: files in the embedded Flink mini-cluster, or Kafka to Kafka")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", nargs="+", metavar="PATH", help="v1 JSON Lines or combined log files, .gz allowed")
    source.add_argument("--bootstrap-servers", metavar="HOST:PORT", help="stream from and to Kafka instead")
    run.add_argument("--output", metavar="PATH", help="with --input: decisions, v1 JSON Lines")
    run.add_argument(
        "--dead-letter", metavar="PATH", help="with --input: rejected lines (default: <output>.dead-letter.jsonl)"
    )
    run.add_argument("--config", metavar="TOML", help="configuration merged over the defaults")
    run.add_argument("--parallelism", type=int, default=1, help="parallelism of the job (default 1)")
    run.add_argument("--verdicts", metavar="PATH", help="with --input: analyst verdicts, v1 JSON Lines")
    run.add_argument("--model", metavar="PATH", help="warm-start the River models from this file (--model-out)")
    run.add_argument("--model-out", metavar="PATH", help="with --input: write the learned models here at the end")
    kafka = run.add_argument_group("streaming (with --bootstrap-servers)")
    kafka.add_argument("--topic-prefix", default="", metavar="PREFIX", help="before every topic name, e.g. staging.")
    kafka.add_argument("--group-id", default="scrapeguard-detect", metavar="ID", help="consumer group of the source")
    kafka.add_argument(
        "--transactional-id-prefix",
        default="scrapeguard",
        metavar="ID",
        help="of the exactly-once sinks; keep it across restarts, unique per running job",
    )
    kafka.add_argument(
        "--checkpoint-interval",
        default="30s",
        metavar="DURATION",
        help="decisions become visible to read_committed consumers at each checkpoint (default 30s)",
    )
    kafka.add_argument("--checkpoint-dir", default="checkpoints", metavar="PATH|URI", help="retained checkpoints")
    kafka.add_argument(
        "--state-backend",
        choices=("hashmap", "rocksdb"),
        default="hashmap",
        help="rocksdb for state larger than memory (incremental checkpoints)",
    )
    kafka.add_argument(
        "--state-ttl",
        default="7d",
        metavar="DURATION",
        help="forget a subject's state after this long without updates (default 7d)",
    )
    kafka.add_argument(
        "--idle-timeout",
        default="30s",
        metavar="DURATION",
        help="a partition without messages this long stops holding back the watermark",
    )
    kafka.add_argument(
        "--starting-offsets",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a start without --restore reads from (default earliest: rebuilds state)",
    )
    kafka.add_argument(
        "--restore", metavar="PATH|URI", help="resume from this checkpoint, or the newest one under this directory"
    )
    kafka.add_argument(
        "--until-end", action="store_true", help="stop at the end offsets seen at start (backfills, tests)"
    )
    run.set_defaults(handler=_run)

    produce = commands.add_parser("produce", help="send access-log files to the access-logs topic, keyed and timed")
    produce.add_argument("--input", nargs="+", required=True, metavar="PATH", help="v1 JSON Lines or combined logs")
    produce.add_argument("--bootstrap-servers", required=True, metavar="HOST:PORT")
    produce.add_argument("--topic-prefix", default="", metavar="PREFIX")
    produce.add_argument("--config", metavar="TOML", help="configuration merged over the defaults")
    produce.set_defaults(handler=_produce)

    sim = commands.add_parser("simulate", help="write labeled synthetic traffic")
    sim.add_argument("--out", required=True, metavar="DIR")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--hours", type=float, help="simulated hours (default: the scenario's)")
    sim.add_argument("--accounts", type=int, help="number of accounts (default: the scenario's)")
    sim.add_argument("--scenario", default="small", metavar="NAME|FILE")
    sim.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    sim.add_argument("--gzip", action="store_true", help="write events.jsonl.gz")
    sim.set_defaults(handler=_simulate)

    summary = commands.add_parser("summary", help="summarise a decisions file: actions, reasons, subjects")
    summary.add_argument("--decisions", required=True, metavar="PATH")
    summary.set_defaults(handler=_summary)

    evaluate = commands.add_parser(
        "evaluate", help="score decisions against simulator labels, beside a static rate limit and a CrowdSec bucket"
    )
    evaluate.add_argument("--events", required=True, metavar="PATH", help="v1 JSON Lines sorted by ts, .gz allowed")
    evaluate.add_argument("--labels", required=True, metavar="PATH", help="labels.json of `scrapeguard simulate`")
    evaluate.add_argument("--decisions", required=True, metavar="PATH", help="decisions, v1 JSON Lines")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object with every figure (and no table)")
    evaluate.add_argument("--anchors", action="store_true", help="print the detector beside the two anchors")
    evaluate.add_argument("--plot", metavar="PNG", help="bar chart of profile views served before detection")
    evaluate.set_defaults(handler=_evaluate)

    enforce = commands.add_parser(
        "enforce", help="reference enforcement consumer: rebuild the decisions in force from the decisions topic"
    )
    enforce.add_argument("--bootstrap-servers", required=True, metavar="HOST:PORT")
    enforce.add_argument("--topic-prefix", default="", metavar="PREFIX", help="before the topic name, e.g. staging.")
    enforce.add_argument("--print", action="store_true", help="print each change in force, one line each")
    enforce.add_argument("--until-end", action="store_true", help="stop at the end offsets seen at start; summarise")
    enforce.add_argument("--snapshot", action="store_true", help="print the decisions in force as JSON Lines, at end")
    enforce.add_argument("--clock", choices=("wall", "event"), default="wall", help="now = wall clock or newest event")
    enforce.add_argument("--group", metavar="ID", help="commit offsets under this group (lag monitoring only)")
    enforce.set_defaults(handler=_enforce)

    commands.add_parser(
        "review", add_help=False, help="analyst review console: serve, ingest, feed, user (scrapeguard review --help)"
    )
    return parser


def _enforce(args: argparse.Namespace) -> int:
    if not (args.print or args.until_end or args.snapshot):
        raise UsageError("nothing to show: give --print, --until-end or --snapshot")
    from jobs.enforce import ConsumeError, consume  # imported late: only this command needs a broker

    try:
        enforcer = consume(
            args.bootstrap_servers,
            args.topic_prefix,
            show=args.print,
            until_end=args.until_end,
            snapshot=args.snapshot,
            clock=args.clock,
            group=args.group,
        )
    except ConsumeError as exc:
        raise UsageError(str(exc)) from None
    # With --snapshot, stdout carries only JSON Lines.
    print(f"scrapeguard enforce: {enforcer.summary()}", file=sys.stderr if args.snapshot else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
