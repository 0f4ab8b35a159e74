"""The `scrapeguard` command: thin argument handling that launches jobs.

Every input is checked before a job starts; a mistake prints one line naming the
input and the reason, and exits with status 2. `-` reads an input from standard input.
Heavy modules (PyFlink, River, Kafka, matplotlib) are imported inside the handlers that
need them, so `--help` and `--version` answer at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from detectors import __version__
from detectors.config import Config, ConfigError, load_config, parse_duration
from jobs.inputs import STDIN, copy_stdin, is_stdin

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
    args.argv = argv
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
    _stdin_once({"--input": args.input, "--verdicts": [args.verdicts] if args.verdicts else []})
    inputs = [_input("--input", p) for p in args.input]
    _no_repeats("--input", inputs)
    output = Path(args.output)
    if output.is_dir():
        raise UsageError(f"--output {output}: is a directory; give a file name")
    dead_letter = Path(args.dead_letter) if args.dead_letter else output.with_name(output.stem + ".dead-letter.jsonl")
    verdicts = _input("--verdicts", args.verdicts) if args.verdicts else None
    model = _model_file(args.model) if args.model else None
    model_out = Path(args.model_out) if args.model_out else None
    reads = [("--input", p) for p in inputs] + _given(
        ("--verdicts", verdicts), ("--config", Path(args.config) if args.config else None), ("--model", model)
    )
    _no_clashes(reads, [("--output", output), ("--dead-letter", dead_letter), *_given(("--model-out", model_out))])
    if model is not None:
        config = config.with_model(model)
    for option, path in (("--output", output), ("--dead-letter", dead_letter), *_given(("--model-out", model_out))):
        _make_parent(option, path)
    from jobs.detect import run_files  # imported late: starting PyFlink is not free
    from jobs.progress import progress

    with tempfile.TemporaryDirectory(prefix="scrapeguard-stdin-") as tmp:
        # the Flink file source reads paths, so standard input is copied to a file first
        inputs = [copy_stdin(Path(tmp)) if is_stdin(p) else p for p in inputs]
        if verdicts is not None and is_stdin(verdicts):
            verdicts = copy_stdin(Path(tmp))
        with progress(None, "lines", desc="run", quiet=args.quiet) as bar:
            summary = run_files(
                inputs,
                output,
                dead_letter,
                config,
                args.parallelism,
                verdicts,
                str(model) if model else None,
                str(model_out.resolve()) if model_out else None,
                None if bar.disable else bar,
            )
    print(f"scrapeguard run: {summary.line()}")
    print(f"decisions: {output}")
    print(f"dead letters: {dead_letter}" + ("" if summary.rejected else " (none)"))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from benchmarks.suite import BENCHMARKS, run  # imported late: only a checkout or a wheel with benchmarks has it

    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        raise UsageError(f"unknown benchmark {unknown[0]!r}; the benchmarks are {', '.join(BENCHMARKS)}")
    for option in ("events", "cases", "requests", "rate", "seconds"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            raise UsageError(f"--{option} must be at least 1")
    if any(p < 1 for p in args.parallelism):
        raise UsageError("--parallelism must be at least 1")
    if args.input:
        if is_stdin(args.input):
            raise UsageError("--input -: a benchmark reads a file, not standard input")
        _input("--input", args.input)
    run(args.names, args, "scrapeguard " + " ".join(args.argv))
    print(f"docs: {args.docs}")
    return 0


def _model_file(path: str) -> Path:
    """A model file that exists and loads, else a usage error naming it."""
    from detectors.learner import Learner

    try:
        Learner(load_config()).load(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Path(path).resolve()


def _run_stream(args: argparse.Namespace, config: Config) -> int:
    for option in ("output", "dead_letter", "model_out"):
        if getattr(args, option):
            raise UsageError(f"--{option.replace('_', '-')} is for --input; the streaming job writes to Kafka topics")
    if args.verdicts:
        raise UsageError("--verdicts is for --input; the streaming job reads analyst verdicts from the verdicts topic")
    from detectors.pipeline import SUBJECT_TYPES, Limits

    windows = max(
        ms for t in SUBJECT_TYPES for ms in {**Limits(config, t).windows, **Limits(config, t).long_windows}.values()
    )
    ttl = parse_duration(args.state_ttl, "--state-ttl")
    if ttl < windows:
        raise UsageError(f"--state-ttl {args.state_ttl} is shorter than the longest rule window ({windows // 1000} s)")
    if args.restore and args.until_end:
        raise UsageError(
            "--until-end cannot be combined with --restore: a restored bounded Kafka source never finishes "
            "(FLINK-31006, Kafka connector 5.0.0-2.2)"
        )
    restore = _checkpoint(args.restore) if args.restore else None
    model = _model_file(args.model) if args.model else None
    if model is not None:
        config = config.with_model(model)
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
        model=str(model) if model else None,
        until_end=args.until_end,
        parallelism=args.parallelism,
        delivery=args.delivery,
    )
    print(
        f"scrapeguard run: {options.topic('access-logs')} -> {options.topic('decisions')}"
        + (f", restored from {restore}" if restore else ""),
        flush=True,
    )
    try:
        run_stream(options, config)
    except ValueError as exc:  # the broker or the topic, before the job starts
        raise UsageError(str(exc)) from None
    print("scrapeguard run: input ended; decisions committed")
    return 0


def _produce(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    _stdin_once({"--input": args.input})
    inputs = [_input("--input", p) for p in args.input]
    _no_repeats("--input", inputs)
    timeout = parse_duration(args.connect_timeout, "--connect-timeout")
    from jobs.produce import ProduceError, produce
    from jobs.progress import progress

    try:
        with progress(None, "lines", desc="produce", quiet=args.quiet) as bar:
            sent = produce(
                inputs, args.bootstrap_servers, args.topic_prefix + "access-logs", config, timeout, tick=bar.tick
            )
    except ProduceError as exc:
        raise UsageError(str(exc)) from None
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
    from jobs.progress import progress
    from simulator import generate

    try:
        with progress(None, "events", desc="simulate", quiet=args.quiet) as bar:
            summary = generate(
                args.out,
                seed=args.seed,
                hours=args.hours,
                accounts=args.accounts,
                scenario=args.scenario,
                gzip_output=args.gzip,
                max_events=args.max_events,
                tick=bar.tick,
            )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # --out cannot be made or written, a scenario path that is no file
        raise UsageError(f"cannot write {exc.filename} ({exc.strerror})") from None
    print(f"scrapeguard simulate: {summary['events']} events -> {summary['path']}")
    print("actors: " + ", ".join(f"{kind} {n}" for kind, n in sorted(summary["actors"].items())))
    return 0


def _summary(args: argparse.Namespace) -> int:
    from jobs.summary import InvalidDecisions, summarize

    try:
        print(summarize(_input("--decisions", args.decisions)))
    except InvalidDecisions as exc:
        raise UsageError(str(exc)) from None
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    names = {"--events": args.events, "--labels": args.labels, "--decisions": args.decisions}
    _stdin_once({option: [name] for option, name in names.items()})
    events, labels, decisions = (_input(option, name) for option, name in names.items())
    plot = Path(args.plot) if args.plot else None
    if plot is not None:
        if not plot.parent.is_dir():
            raise UsageError(f"--plot {plot}: directory {plot.parent} does not exist")
        _no_clashes([("--events", events), ("--labels", labels), ("--decisions", decisions)], [("--plot", plot)])
    from detectors.allowlist import Allowlist
    from evaluation import InputError, evaluate
    from evaluation.report import render
    from jobs.progress import progress

    config = load_config(args.config)
    declared = Allowlist(config).declares
    delay = parse_duration(args.enforcement_delay, "--enforcement-delay") if args.enforcement_delay else 0
    try:
        with progress(None, "lines", desc="evaluate", quiet=args.quiet) as bar:
            result = evaluate(
                events,
                labels,
                decisions,
                tick=bar.tick,
                routes=config.routes,
                enforcement_delay_ms=delay,
                declared=declared,
            )
    except InputError as exc:
        raise UsageError(str(exc)) from None
    print(render(result, as_json=args.json, anchors=args.anchors))
    if plot is not None:
        from evaluation.plot import plot_views_before

        plot_views_before(result, plot)
        if not args.json:
            print(f"plot: {plot}")
    return 0


def _enforce(args: argparse.Namespace) -> int:
    if not (args.print or args.until_end or args.snapshot):
        raise UsageError("nothing to show: give --print, --until-end or --snapshot")
    timeout = parse_duration(args.connect_timeout, "--connect-timeout")
    from jobs.enforce import ConsumeError, consume  # imported late: only this command needs a broker

    try:
        enforcer = consume(
            args.bootstrap_servers,
            args.topic_prefix,
            show=args.print,
            until_end=args.until_end,
            snapshot=args.snapshot,
            clock=args.clock,
            group=args.group_id,
            connect_timeout_ms=timeout,
        )
    except ConsumeError as exc:
        raise UsageError(str(exc)) from None
    # With --snapshot, stdout carries only JSON Lines.
    print(f"scrapeguard enforce: {enforcer.summary()}", file=sys.stderr if args.snapshot else sys.stdout)
    return 0


# -- inputs and outputs ----------------------------------------------------------------


def _input(option: str, name: str) -> Path:
    """An input file that exists and can be read, or `-` for standard input (which must not be a terminal)."""
    if is_stdin(name):
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError(f"{option} -: standard input is a terminal; pipe the input in (... | scrapeguard ...)")
        return Path(STDIN)
    path = Path(name)
    if not path.exists():
        raise UsageError(f"{option} {name}: file not found")
    if not path.is_file():
        raise UsageError(f"{option} {name}: not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {name}: cannot be read ({exc.strerror})") from None
    return path


def _make_parent(option: str, path: Path) -> None:
    """The directory of an output, created now, so a path that cannot be written stops before the job starts."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot create directory {path.parent} ({exc.strerror})") from None


def _stdin_once(names: dict[str, list[str]]) -> None:
    """Standard input can be read once: `-` may stand for one input only."""
    given = [option for option, values in names.items() for value in values if is_stdin(value)]
    if len(given) > 1:
        raise UsageError(f"standard input (-) is given {len(given)} times ({', '.join(given)}); it can be read once")


def _no_repeats(option: str, paths: list[Path]) -> None:
    """The same file given twice would be read twice (each event counted twice)."""
    for i, path in enumerate(paths):
        if any(_same(path, earlier) for earlier in paths[:i]):
            raise UsageError(f"{option} {path} is given twice; each event would be counted twice")


def _given(*pairs: tuple[str, Path | None]) -> list[tuple[str, Path]]:
    return [(option, path) for option, path in pairs if path is not None]


def _no_clashes(reads: Iterable[tuple[str, Path]], writes: list[tuple[str, Path]]) -> None:
    """No output is a directory or also an input, and no two outputs are the same file."""
    reads = list(reads)
    for i, (option, path) in enumerate(writes):
        if path.is_dir():
            raise UsageError(f"{option} {path}: is a directory; give a file name")
        for read_option, read in reads:
            if _same(path, read):
                raise UsageError(f"{option} {path} is also an input ({read_option}); it would be overwritten")
        for other_option, other in writes[:i]:
            if _same(path, other):
                raise UsageError(f"{option} and {other_option} are the same file ({path}); each needs its own")


def _same(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (symbolic and hard links included); `-` is no file."""
    if is_stdin(a) or is_stdin(b):
        return False
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# -- the parser ------------------------------------------------------------------------


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, where it has one worth showing (not None, False or '')."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == "":
            return action.help
        return super()._get_help_string(action)


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option: still accepted, hidden from the help, with a note on standard error."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        print(f"{parser.prog}: {option} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrapeguard", description="Streaming anti-scraping detector.", formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"scrapeguard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, formatter_class=HelpFormatter)

    run = command("run", "detect: files in the embedded Flink mini-cluster, or Kafka to Kafka")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--input", nargs="+", metavar="PATH", help="v1 JSON Lines or combined log files, .gz allowed; - reads stdin"
    )
    source.add_argument("--bootstrap-servers", metavar="HOST:PORT", help="stream from and to Kafka instead")
    run.add_argument("--output", metavar="PATH", help="with --input: decisions, v1 JSON Lines")
    run.add_argument(
        "--dead-letter", metavar="PATH", help="with --input: rejected lines (default: <output>.dead-letter.jsonl)"
    )
    run.add_argument("--config", metavar="TOML", help="configuration merged over the defaults")
    run.add_argument("--parallelism", type=int, default=1, metavar="N", help="parallelism of the job")
    run.add_argument("--verdicts", metavar="PATH", help="with --input: analyst verdicts, v1 JSON Lines; - reads stdin")
    run.add_argument("--model", metavar="PATH", help="warm-start the River models from this file (--model-out)")
    run.add_argument("--model-out", metavar="PATH", help="with --input: write the learned models here at the end")
    run.add_argument("--quiet", action="store_true", help="no progress bar (there is none unless on a terminal)")
    kafka = run.add_argument_group("streaming (with --bootstrap-servers)")
    kafka.add_argument("--topic-prefix", default="", metavar="PREFIX", help="before every topic name, e.g. staging.")
    kafka.add_argument("--group-id", default="scrapeguard-detect", metavar="ID", help="consumer group of the source")
    kafka.add_argument(
        "--delivery",
        choices=("exactly-once", "at-least-once"),
        default="exactly-once",
        help="exactly-once: decisions commit with each checkpoint (read_committed consumers see them then, each "
        "once); at-least-once: readable as soon as written, and after a failure some are written again with the "
        "same decision_id",
    )
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
        help="decisions become visible to read_committed consumers at each checkpoint",
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
        help="forget a subject's state after this long without updates",
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
        help="where a start without --restore reads from (earliest rebuilds state)",
    )
    kafka.add_argument(
        "--restore", metavar="PATH|URI", help="resume from this checkpoint, or the newest one under this directory"
    )
    kafka.add_argument(
        "--until-end", action="store_true", help="stop at the end offsets seen at start (backfills, tests)"
    )
    run.set_defaults(handler=_run)

    produce = command("produce", "send access-log files to the access-logs topic, keyed and timed")
    produce.add_argument(
        "--input", nargs="+", required=True, metavar="PATH", help="v1 JSON Lines or combined logs, .gz; - reads stdin"
    )
    produce.add_argument("--bootstrap-servers", required=True, metavar="HOST:PORT", help="the Kafka broker(s)")
    produce.add_argument("--topic-prefix", default="", metavar="PREFIX", help="before the topic name, e.g. staging.")
    produce.add_argument("--config", metavar="TOML", help="configuration merged over the defaults")
    produce.add_argument(
        "--connect-timeout",
        default="10s",
        metavar="DURATION",
        help="give up when the broker does not answer (or accept messages) for this long",
    )
    produce.add_argument("--quiet", action="store_true", help="no progress bar (there is none unless on a terminal)")
    produce.set_defaults(handler=_produce)

    sim = command("simulate", "write labeled synthetic traffic")
    sim.add_argument("--out", required=True, metavar="DIR", help="directory for events.jsonl[.gz] and labels.json")
    sim.add_argument("--seed", type=int, default=1, metavar="N", help="random seed: the same seed gives the same bytes")
    sim.add_argument("--hours", type=float, metavar="H", help="simulated hours (default: the scenario's)")
    sim.add_argument("--accounts", type=int, metavar="N", help="number of accounts (default: the scenario's)")
    sim.add_argument("--scenario", default="small", metavar="NAME|FILE", help="small, default, large or a JSON file")
    sim.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    sim.add_argument("--gzip", action="store_true", help="write events.jsonl.gz")
    sim.add_argument("--quiet", action="store_true", help="no progress bar (there is none unless on a terminal)")
    sim.set_defaults(handler=_simulate)

    summary = command("summary", "summarise a decisions file: actions, reasons, subjects")
    summary.add_argument("--decisions", required=True, metavar="PATH", help="decisions, v1 JSON Lines; - reads stdin")
    summary.set_defaults(handler=_summary)

    evaluate = command(
        "evaluate", "score decisions against simulator labels, beside a static rate limit and a CrowdSec bucket"
    )
    evaluate.add_argument(
        "--events", required=True, metavar="PATH", help="v1 JSON Lines sorted by ts, .gz allowed; - reads stdin"
    )
    evaluate.add_argument(
        "--labels", required=True, metavar="PATH", help="labels.json of `scrapeguard simulate`; - reads stdin"
    )
    evaluate.add_argument("--decisions", required=True, metavar="PATH", help="decisions, v1 JSON Lines; - reads stdin")
    evaluate.add_argument(
        "--config",
        metavar="TOML",
        help="the platform's configuration: its routes say what discloses personal data, and its allowlisted ranges "
        "which addresses an action on the access path lets through (default: the built-in one)",
    )
    evaluate.add_argument(
        "--enforcement-delay",
        metavar="DURATION",
        help="the detector's decisions take effect this long after their event time (a live deployment's measured "
        "latency), so the leak ratio counts what was served meanwhile (default: none)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object with every figure (and no table)")
    evaluate.add_argument("--anchors", action="store_true", help="print the detector beside the two anchors")
    evaluate.add_argument("--plot", metavar="PNG", help="bar chart of profile views served before detection")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar (there is none unless on a terminal)")
    evaluate.set_defaults(handler=_evaluate)

    enforce = command(
        "enforce", "reference enforcement consumer: rebuild the decisions in force from the decisions topic"
    )
    enforce.add_argument("--bootstrap-servers", required=True, metavar="HOST:PORT", help="the Kafka broker(s)")
    enforce.add_argument("--topic-prefix", default="", metavar="PREFIX", help="before the topic name, e.g. staging.")
    enforce.add_argument("--print", action="store_true", help="print each change in force, one line each")
    enforce.add_argument("--until-end", action="store_true", help="stop at the end offsets seen at start; summarise")
    enforce.add_argument("--snapshot", action="store_true", help="print the decisions in force as JSON Lines, at end")
    enforce.add_argument("--clock", choices=("wall", "event"), default="wall", help="now = wall clock or newest event")
    enforce.add_argument("--group-id", metavar="ID", help="commit offsets under this group (lag monitoring only)")
    enforce.add_argument("--group", dest="group_id", metavar="ID", action=DeprecatedAlias, new="--group-id")
    enforce.add_argument(
        "--connect-timeout",
        default="10s",
        metavar="DURATION",
        help="give up when the broker does not answer for this long",
    )
    enforce.set_defaults(handler=_enforce)

    bench = command("bench", "benchmarks beside the engine's ceiling: JSON per benchmark and docs/benchmarks.md")
    bench.add_argument(
        "names", nargs="*", metavar="NAME", help="embedded, threads, kafka, steps, simulate, review (default: all)"
    )
    bench.add_argument("--events", type=int, metavar="N", help="events to simulate (default: each benchmark's own)")
    bench.add_argument("--input", metavar="PATH", help="embedded, threads, kafka, steps: this file, not simulated")
    bench.add_argument("--parallelism", type=int, nargs="+", default=[1], metavar="N", help="embedded, kafka: job runs")
    bench.add_argument("--rate", type=int, metavar="N", help="kafka: live events/s (default: half the drain rate)")
    bench.add_argument("--seconds", type=int, default=180, metavar="S", help="kafka: length of each live run")
    bench.add_argument("--cases", type=int, default=10_000, metavar="N", help="review: open cases")
    bench.add_argument("--requests", type=int, default=40, metavar="N", help="review: timed requests per URL")
    bench.add_argument("--out", default="out/bench", metavar="DIR", help="where each benchmark's JSON is written")
    bench.add_argument(
        "--docs", default="docs/benchmarks.md", metavar="PATH", help="rewritten from every JSON in --out"
    )
    bench.set_defaults(handler=_bench)

    commands.add_parser(
        "review", add_help=False, help="analyst review console: serve, ingest, feed, user (scrapeguard review --help)"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
