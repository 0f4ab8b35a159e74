"""Command line: `python -m simulator OUT_DIR [--scenario small] [--seed 1] ...`.

Hours and accounts default to the scenario's intended size.
"""

from __future__ import annotations

import argparse
import json

from . import SCENARIOS, generate
from .scenarios import load_scenario


def main(argv: list[str] | None = None) -> None:
    """Generate a labelled run and print its summary as JSON."""
    ap = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    ap.add_argument("out_dir")
    ap.add_argument("--scenario", default="small", help=f"one of {', '.join(SCENARIOS)} or a JSON file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hours", type=float, help="default: the scenario's")
    ap.add_argument("--accounts", type=int, help="default: the scenario's")
    ap.add_argument("--start", default="2026-01-05T08:00:00Z")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--max-events", type=int)
    args = ap.parse_args(argv)
    params = load_scenario(args.scenario)
    summary = generate(args.out_dir, seed=args.seed, scenario=args.scenario, start=args.start,
                       hours=args.hours if args.hours is not None else params["hours"],
                       accounts=args.accounts if args.accounts is not None else params["accounts"],
                       gzip_output=args.gzip, max_events=args.max_events)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
