"""The `scrapeguard` command: thin argument handling that launches jobs.

Every input is checked before a job starts; a mistake prints one line naming the
input and the reason, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detectors.config import ConfigError, load_config

USAGE_ERROR = 2


class UsageError(Exception):
    """A bad command line, input path or configuration: reported in one line, exit 2."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `scrapeguard` console script."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (UsageError, ConfigError) as exc:
        print(f"scrapeguard {args.command}: {exc}", file=sys.stderr)
        return USAGE_ERROR


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    inputs = [_existing_file(p) for p in args.input]
    output = Path(args.output)
    dead_letter = Path(args.dead_letter) if args.dead_letter else output.with_name(output.stem + ".dead-letter.jsonl")
    for option, path in (("--output", output), ("--dead-letter", dead_letter)):
        if any(path.resolve() == p.resolve() for p in inputs):
            raise UsageError(f"{option} {path} is also an input; it would be overwritten")
    if args.parallelism < 1:
        raise UsageError(f"--parallelism must be at least 1, not {args.parallelism}")
    from jobs.detect import run_files  # imported late: starting PyFlink is not free

    summary = run_files(inputs, output, dead_letter, config, parallelism=args.parallelism)
    print(f"scrapeguard run: {summary.line()}")
    print(f"decisions: {output}")
    print(f"dead letters: {dead_letter}" + ("" if summary.rejected else " (none)"))
    return 0


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

    run = commands.add_parser("run", help="detect on access-log files with the embedded Flink mini-cluster")
    run.add_argument(
        "--input", nargs="+", required=True, metavar="PATH", help="v1 JSON Lines or combined log files, .gz allowed"
    )
    run.add_argument("--output", required=True, metavar="PATH", help="decisions, v1 JSON Lines")
    run.add_argument("--dead-letter", metavar="PATH", help="rejected lines (default: <output>.dead-letter.jsonl)")
    run.add_argument("--config", metavar="TOML", help="configuration merged over the defaults")
    run.add_argument("--parallelism", type=int, default=1, help="parallelism of the keyed detectors (default 1)")
    run.set_defaults(handler=_run)

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
    return parser


if __name__ == "__main__":
    sys.exit(main())
