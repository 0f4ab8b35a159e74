"""Progress of long work on a terminal: events done, events/s, event-time position and time left (tqdm).

`progress(total, unit, event_time)` returns a bar to `update(n)`, or `tick(n, event_time, fraction)`,
as work is done; it draws on standard error only when that is a terminal and `quiet` is not
set, so pipes, files and CI logs get nothing. `total` may be unknown (None): then `fraction`,
if given, estimates how much is done (event time covered, or bytes of a file read), which
gives an estimated total and the time left; without either the bar shows the count and the
rate only.

>>> bar = progress(2_000, "events", lambda: 1_767_600_000_000, file=io.StringIO(), force=True)
>>> bar.update(500)
>>> line = str(bar)
>>> line.split("|")[0].strip(), "500/2000 events" in line, "event time 2026-01-05 08:00:00" in line
('25%', True, True)
>>> progress(10, "events", file=io.StringIO()).disable  # not a terminal: quiet
True
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm

from detectors.events import format_ms

# tqdm appends the unit to the numbers itself, so the unit carries its leading space (" events")
WITH_TOTAL = "{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
ESTIMATED = "{desc}{percentage:3.0f}%|{bar}| {n_fmt}/~{total_fmt}{unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
WITHOUT_TOTAL = "{desc}{n_fmt}{unit} [{elapsed}, {rate_fmt}{postfix}]"


class Bar(tqdm):  # type: ignore[misc]
    """A tqdm bar whose postfix is the event time reached, and whose total may be estimated from a fraction done.

    Both come from the getters, if given, else from the last `tick`; they are read only when the bar is drawn
    (at most every `mininterval`), not on every update."""

    def __init__(
        self,
        *args: Any,
        event_time: Callable[[], int | None] | None = None,
        fraction: Callable[[], float | None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.event_time, self.fraction = event_time, fraction
        self.latest: int | None = None
        self.done: float | None = None
        super().__init__(*args, **kwargs)

    def tick(self, n: int, event_time: int | None = None, fraction: float | None = None) -> None:
        """Count `n` more units, and remember the event time reached and the share done (for bars without getters):
        the shape of the `tick` callbacks of `simulate`, `evaluate` and `produce`."""
        if event_time is not None:
            self.latest = event_time
        if fraction is not None:
            self.done = fraction
        self.update(n)

    @property
    def format_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = super().format_dict
        if not hasattr(self, "event_time"):  # tqdm reads this while it is being constructed
            return d
        d["unit_scale"] = d["n"] >= 1000  # 1.23M, but 5 rather than 5.00
        ts = self.event_time() if self.event_time else self.latest
        d["postfix"] = f"event time {format_ms(ts)[:19].replace('T', ' ')}" if ts is not None else None
        d["bar_format"] = WITH_TOTAL
        if d["total"] is None:
            done = self.fraction() if self.fraction else self.done
            if done and 0 < done <= 1 and d["n"]:
                d["total"], d["bar_format"] = max(d["n"], round(d["n"] / done)), ESTIMATED
            else:
                d["bar_format"] = WITHOUT_TOTAL
        if d["prefix"]:
            d["prefix"] = d["prefix"].rstrip(": ") + ": "
        return d


def progress(
    total: int | None,
    unit: str,
    event_time: Callable[[], int | None] | None = None,
    *,
    fraction: Callable[[], float | None] | None = None,
    desc: str = "",
    quiet: bool = False,
    file: TextIO | None = None,
    force: bool = False,
) -> Bar:
    """A progress bar over `total` units (None: unknown), drawn on `file` (standard error) only if it is a terminal
    and not `quiet`; `force` draws it anyway (tests). Use it as a context manager, or `close()` it."""
    file = file or sys.stderr
    shown = force or (not quiet and _is_terminal(file))
    # follow the terminal's width, unless it reports none (tqdm would then draw nothing)
    dynamic = shown and not force and _columns(file) > 0
    return Bar(
        total=total,
        unit=" " + unit,
        desc=desc,
        file=file,
        disable=not shown,
        dynamic_ncols=dynamic,
        nrows=None if dynamic else 20,
        mininterval=0.25,
        leave=True,
        event_time=event_time,
        fraction=fraction,
    )


def _columns(file: TextIO) -> int:
    try:
        return os.get_terminal_size(file.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return 0


def _is_terminal(file: TextIO) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False
