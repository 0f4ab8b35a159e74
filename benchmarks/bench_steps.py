"""Where the Python time goes: the reference run (`detectors.pipeline.detect`) under cProfile, by step.

    python benchmarks/bench_steps.py --events out/quality/seed-1/events.jsonl

The Flink job calls the same step functions, so this is the cost of each Python step per
row it sees (the job adds the crossings, serialisation and state access around them).
Prints, per step: calls, total seconds (the step and what it calls) and microseconds per call.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

from detectors.config import load_config
from detectors.events import LineReader
from detectors.pipeline import detect
from jobs.detect import read_lines

STEPS = {  # (module path suffix, function name) -> what it is
    ("events.py", "feed"): "parse (contract + input clock), per line",
    ("request.py", "facts"): "request facts, per event",
    ("pipeline.py", "short_window_rows"): "short-window limits (the SQL LAG OVER in the job), per subject",
    ("minutes.py", "summarise"): "minute summaries (SQL TUMBLE in the job), per subject type",
    ("pipeline.py", "step"): "Behave: rolling features, long limits, behaviour rules, per subject-minute",
    ("pipeline.py", "group"): "coordination, per crawling account-minute",
    ("pipeline.py", "learn"): "learner (population, HalfSpaceTrees, verdicts), per observation",
    ("anomaly.py", "observe"): "  of which HalfSpaceTrees score + learn",
    ("pipeline.py", "run"): "ScoreAndDecide (models, fusion, explanation, policy), per batch of rows",
    ("learner.py", "version"): "versions published (a copy of the learner), per epoch",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", required=True, type=Path)
    args = parser.parse_args()
    config = load_config()
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    reader = LineReader.for_config(config)
    events = [e for e in (reader.feed(line) for line in read_lines(args.events)) if e is not None]
    decisions = detect(events, config)
    profile.disable()
    print(f"{len(events):,} events, {len(decisions):,} decisions in {time.perf_counter() - started:.1f} s (profiled)")
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (suffix, name), what in STEPS.items():
        found = [(v[1], v[3]) for (file, _, func), v in stats.items() if func == name and file.endswith(suffix)]
        calls, seconds = sum(c for c, _ in found), sum(s for _, s in found)
        per = f"{1e6 * seconds / calls:9.1f} us/call" if calls else ""
        print(f"{what:80s} {calls:>10,} calls {seconds:7.1f} s {per}")


if __name__ == "__main__":
    main()
