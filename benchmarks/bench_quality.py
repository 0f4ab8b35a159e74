"""Detection quality over several seeds: the command every change to detection is judged by.

    python benchmarks/bench_quality.py [--scenario default] [--seeds 1 2 3] [--out out/quality] [--config TOML]

For each seed: `scrapeguard simulate`, `scrapeguard run` (the real embedded Flink job), then
`scrapeguard evaluate --anchors --json`. Prints one Markdown table, mean over the seeds with
(min-max), of the detector beside the tuned static rate limit and the CrowdSec-style leaky
bucket, and writes the first seed's plot of profile views served before detection.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ENGINES = {"detector": "detector", "static_rate_limit": "static rate limit", "leaky_bucket": "leaky bucket"}


def cli(*args: str) -> str:
    """Run `scrapeguard ARGS...`; stop with its error output if it fails."""
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"scrapeguard {args[0]} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def run_seed(seed: int, scenario: str, out: Path, config: str | None, plot: Path | None) -> dict:
    """Simulate, detect and evaluate one seed; returns the evaluation JSON."""
    folder = out / f"seed-{seed}"
    cli("simulate", "--out", str(folder), "--scenario", scenario, "--seed", str(seed))
    events, decisions = folder / "events.jsonl", folder / "decisions.jsonl"
    run = cli("run", "--input", str(events), "--output", str(decisions), *(["--config", config] if config else []))
    print(f"seed {seed}: {run.splitlines()[0]}", file=sys.stderr)
    inputs = ["--events", str(events), "--labels", str(folder / "labels.json"), "--decisions", str(decisions)]
    evaluation = cli("evaluate", "--anchors", "--json", *inputs, *(["--plot", str(plot)] if plot else []))
    (folder / "evaluation.json").write_text(evaluation)
    return json.loads(evaluation)


def evaluated(events: Path, labels: Path, decisions: Path) -> tuple[str, float, float]:
    """`scrapeguard evaluate` of a decisions file: every benign kind acted on, "<kind> <actors acted on> of
    <actors> (<blocked>)" ("none" if none), and the detector's macro recall and leak ratio."""
    inputs = ["--events", str(events), "--labels", str(labels), "--decisions", str(decisions)]
    detector = json.loads(cli("evaluate", "--json", *inputs))["engines"]["detector"]
    benign = [(kind, k) for kind, k in sorted(detector["kinds"].items()) if kind.startswith("benign")]
    acted = [f"{kind} {k['flagged']} of {k['actors']:,} ({k['blocked']})" for kind, k in benign if k["flagged"]]
    return "; ".join(acted) or "none", detector["overall"]["macro_recall"], detector["overall"]["leak_ratio"]


def cell(values: list[float], fmt: str) -> str:
    """Mean, and the range when the seeds differ."""
    mean = statistics.fmean(values)
    if max(values) - min(values) < 1e-12:
        return fmt.format(mean)
    return f"{fmt.format(mean)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def table(results: list[dict]) -> str:
    """Markdown: rows are figures, columns are the engines."""
    engines = [e for e in ENGINES if e in results[0]["engines"]]
    kinds = sorted(k for k in results[0]["engines"]["detector"]["kinds"] if k.startswith("scraper_"))
    benign = sorted(k for k in results[0]["engines"]["detector"]["kinds"] if k.startswith("benign_"))

    def values(engine: str, get) -> list[float]:
        return [get(r["engines"][engine]) for r in results]

    rows: list[tuple[str, object, str]] = [
        ("macro recall", lambda e: e["overall"]["macro_recall"], "{:.3f}"),
        ("benign flag rate", lambda e: 100 * e["overall"]["benign_flag_rate"], "{:.3f}%"),
        ("benign actors blocked", lambda e: e["overall"]["benign_blocked"], "{:.1f}"),
        ("leak ratio", lambda e: e["overall"]["leak_ratio"], "{:.3f}"),
        ("leak ratio, profile views only", lambda e: e["overall"]["leak_ratio_profile_views"], "{:.3f}"),
    ]
    rows += [(f"recall {k}", lambda e, k=k: e["kinds"][k]["recall"], "{:.2f}") for k in kinds]
    rows += [
        (f"median views before 1st action, {k}", lambda e, k=k: e["kinds"][k]["views_before_first_action"]["median"],
         "{:.0f}")
        for k in kinds
    ]  # fmt: skip
    rows += [(f"flag rate {k}", lambda e, k=k: 100 * e["kinds"][k]["flag_rate"], "{:.3f}%") for k in benign]
    static = [r["engines"]["static_rate_limit"]["parameters"] for r in results]
    header = ["figure", *(ENGINES[e] for e in engines)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, get, fmt in rows:
        lines.append(f"| {name} | " + " | ".join(cell(values(e, get), fmt) for e in engines) + " |")
    tuned = ", ".join(f"A={p['account_profile_views_per_hour']}, B={p['ip_requests_per_minute']}" for p in static)
    return (
        "\n".join(lines)
        + f"\n\nStatic rate limit tuned per seed (views/account-hour A, requests/IP-minute B): {tuned}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", default="out/quality")
    parser.add_argument("--config", help="detector configuration to judge (default: the built-in one)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot = out / f"views-before-detection-seed{args.seeds[0]}.png"
    results = [run_seed(s, args.scenario, out, args.config, plot if i == 0 else None) for i, s in enumerate(args.seeds)]
    print(f"scenario {args.scenario}, seeds {', '.join(map(str, args.seeds))}: mean (min-max)\n")
    print(table(results))
    print(f"\nplot: {plot}")


if __name__ == "__main__":
    main()
