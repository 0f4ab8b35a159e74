"""The plain-Python reference run of one events file, timed by the `embedded` benchmark as its own process.

    python -m benchmarks.reference EVENTS DECISIONS

Reads the file as `scrapeguard run` does (rejected lines skipped), runs `detectors.pipeline.detect` with the
default configuration and writes the decisions as v1 JSON Lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

from detectors.config import Config, load_config
from detectors.events import AccessEvent, BadEvent, LineReader
from detectors.pipeline import detect
from jobs.detect import read_lines


def read_events(path: Path, config: Config) -> list[AccessEvent]:
    """The events of a file as `scrapeguard run` reads them (rejected lines skipped)."""
    reader = LineReader.for_config(config)
    events = []
    for line in read_lines(path):
        try:
            event = reader.feed(line)
        except BadEvent:
            continue
        if event is not None:
            events.append(event)
    return events


def write_decisions(source: Path, target: Path, config: Config) -> None:
    """The reference's decisions of an events file, as v1 JSON Lines."""
    events = read_events(source, config)
    with target.open("wb") as f:
        for decision in detect(events, config):
            f.write(decision.to_bytes() + b"\n")


def main() -> None:
    write_decisions(Path(sys.argv[1]), Path(sys.argv[2]), load_config())


if __name__ == "__main__":
    main()
