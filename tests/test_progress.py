"""Progress bars: drawn on a terminal (a real pty here), silent on pipes and with --quiet; in the CLI too."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from jobs.progress import progress

T0 = 1_767_600_000_000  # 2026-01-05T08:00:00Z
ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "tests" / "fixtures" / "evaluation"


def terminal(columns: int = 120) -> tuple[int, int]:
    """A pty (master, slave) with a window size, as a terminal has."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return master, slave


def drain(master: int, proc: subprocess.Popen | None = None, timeout: float = 120.0) -> str:
    """Everything written to the pty, until the process ends (or, without one, until nothing more comes)."""
    out, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other side is closed
                break
            if not chunk:
                break
            out += chunk
        elif proc is None or proc.poll() is not None:
            break
    return out.decode("utf-8", "replace")


def work(bar, batches: int = 4) -> None:
    """Four batches of 1,000 units an hour of event time apart, slowly enough to be drawn."""
    for i in range(batches):
        time.sleep(0.3)
        bar.tick(1000, T0 + i * 3_600_000, (i + 1) / batches)
    bar.close()


def test_on_a_terminal_the_bar_shows_count_rate_event_time_and_time_left():
    master, slave = terminal()
    with os.fdopen(slave, "w", encoding="utf-8") as tty:
        bar = progress(None, "events", desc="simulate", file=tty)
        assert not bar.disable
        work(bar)
    shown = drain(master).replace("\r", "\n").splitlines()
    drawn = [line for line in shown if line.startswith("simulate: ")]
    assert len(drawn) >= 3, shown  # the first state, then redrawn as it goes
    last = drawn[-1]
    assert "100%|" in last and "4.00k/~4.00k events" in last
    assert " events/s" in last and "event time 2026-01-05 11:00:00" in last
    middle = next(line for line in drawn if "2.00k/~4.00k events" in line)
    assert " 50%|" in middle and "event time 2026-01-05 09:00:00" in middle
    assert middle.split("[")[1].split(",")[0].count("<") == 1  # elapsed<time left


def test_with_a_known_total_the_bar_has_a_percentage_without_estimate():
    master, slave = terminal()
    with os.fdopen(slave, "w", encoding="utf-8") as tty:
        bar = progress(4000, "lines", file=tty)
        work(bar)
    last = drain(master).replace("\r", "\n").strip().splitlines()[-1]
    assert "100%|" in last and "4.00k/4.00k lines" in last and "~" not in last


def test_not_a_terminal_or_quiet_draws_nothing():
    read, write = os.pipe()
    with os.fdopen(write, "w") as pipe:
        bar = progress(4000, "lines", file=pipe)
        assert bar.disable
        work(bar)
    with os.fdopen(read) as pipe:
        assert pipe.read() == ""
    master, slave = terminal()
    with os.fdopen(slave, "w", encoding="utf-8") as tty:
        bar = progress(4000, "lines", file=tty, quiet=True)
        assert bar.disable
        work(bar)
    assert drain(master) == ""
    buffer = io.StringIO()
    work(progress(4000, "lines", file=buffer))
    assert buffer.getvalue() == ""


def test_a_terminal_that_reports_no_width_still_gets_the_bar():
    master, slave = pty.openpty()  # 0 x 0, as some CI runners' ptys
    with os.fdopen(slave, "w", encoding="utf-8") as tty:
        work(progress(4000, "lines", file=tty))
    assert "4.00k/4.00k lines" in drain(master)


def cli_on_terminal(*args: str, cwd: Path) -> tuple[int, str, str]:
    """`scrapeguard ...` with standard error on a terminal and standard output on a pipe."""
    master, slave = terminal()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    shown = drain(master, proc)
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    return proc.wait(timeout=60), stdout, shown


@pytest.mark.slow
def test_simulate_and_evaluate_show_progress_on_a_terminal_and_nothing_on_pipes_or_with_quiet(tmp_path):
    sim = ["simulate", "--out", str(tmp_path / "sim"), "--scenario", "small", "--seed", "3", "--hours", "1"]
    code, stdout, shown = cli_on_terminal(*sim, cwd=tmp_path)
    assert code == 0 and stdout.startswith("scrapeguard simulate: ")
    last = shown.replace("\r", "\n").strip().splitlines()[-1]
    events = int(stdout.split()[2])
    assert last.startswith("simulate: 100%|") and f"{events / 1000:.1f}k/~{events / 1000:.1f}k events" in last
    assert "event time 2026-01-05 08:59:" in last  # the last event of the simulated hour

    code, stdout, shown = cli_on_terminal(*sim, "--quiet", cwd=tmp_path)
    assert code == 0 and shown == "" and stdout.startswith("scrapeguard simulate: ")
    piped = subprocess.run([sys.executable, "-m", "jobs.cli", *sim], capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""

    ev = ["evaluate", "--events", str(tmp_path / "sim/events.jsonl"), "--labels", str(tmp_path / "sim/labels.json")]
    ev += ["--decisions", str(ROOT / "tests/golden/logged_out_enumerator/expected.jsonl")]
    code, stdout, shown = cli_on_terminal(*ev, cwd=tmp_path)
    assert code == 0 and "macro recall" in stdout
    last = shown.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("evaluate: 100%|") and f"{events / 1000:.1f}k/" in last and " lines" in last
    assert "event time 2026-01-05 08:59:" in last
    piped = subprocess.run([sys.executable, "-m", "jobs.cli", *ev], capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""
    assert untimed(piped.stdout) == untimed(stdout)  # the same report, with a bar or without


def untimed(report: str) -> list[str]:
    """The report's lines without the seconds the evaluation took (end of its first line)."""
    first, *rest = report.split("\n")
    return [first.rsplit(";", 1)[0], *rest]
