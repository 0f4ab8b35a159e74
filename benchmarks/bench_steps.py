"""Where the Python time goes: the reference run (`detectors.pipeline.detect`) under cProfile, by step
(`scrapeguard bench steps [--input FILE]`).

The Flink job calls the same step functions, so this is the cost of each Python step per
row it sees (the job adds the crossings, serialisation and state access around them):
per step, calls and total seconds (the step and what it calls).
"""

from __future__ import annotations

import cProfile
import pstats
import time
from pathlib import Path

from benchmarks.reference import read_events
from detectors.config import load_config
from detectors.pipeline import detect

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


def profile(path: Path) -> tuple[float, list[tuple[str, int, float]]]:
    """The reference run on an events file under cProfile: its seconds, and (step, calls, seconds) per step."""
    config = load_config()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    detect(read_events(path, config), config)
    profiler.disable()
    seconds = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    out = []
    for (suffix, name), what in STEPS.items():
        found = [(v[1], v[3]) for (file, _, func), v in stats.items() if func == name and file.endswith(suffix)]
        out.append((what, sum(c for c, _ in found), sum(s for _, s in found)))
    return seconds, out
