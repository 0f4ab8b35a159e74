"""Input files named on the command line: `-` is standard input, `.gz` is decompressed.

A file is gzip by its `.gz` suffix, as the Flink file source decides; standard input by its
first two bytes (the gzip magic), since it has no name. A `Source` also tells how far into
its file the reading is (compressed bytes for `.gz`), for progress bars.

>>> is_stdin("-"), is_stdin(Path("-")), is_stdin("events.jsonl")
(True, True, False)
"""

from __future__ import annotations

import gzip
import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"


def is_stdin(path: str | Path) -> bool:
    """Whether an input name means standard input."""
    return str(path) == STDIN


def _stdin() -> io.BufferedReader:
    raw = sys.stdin.buffer
    return raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]


class Source:
    """One input being read: a file or standard input, its bytes gzip decompressed.

    Use it as a context manager; `stream` gives the bytes, `lines()` the raw lines, `text_lines()` the
    lines as the file job reads them, and `position` how many bytes of the file were consumed so far.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.stdin = is_stdin(path)
        self.size: int | None = None if self.stdin else self.path.stat().st_size
        self.raw: io.BufferedReader = _stdin() if self.stdin else open(self.path, "rb")  # noqa: SIM115
        gz = self.raw.peek(2)[:2] == GZIP_MAGIC if self.stdin else self.path.suffix == ".gz"
        self.stream: gzip.GzipFile | io.BufferedReader = gzip.GzipFile(fileobj=self.raw, mode="rb") if gz else self.raw

    @property
    def position(self) -> int:
        """Bytes of the file (compressed, for `.gz`) consumed so far."""
        return self.raw.tell()

    def lines(self) -> Iterator[bytes]:
        """The raw lines (gzip decompressed)."""
        yield from self.stream

    def text_lines(self) -> Iterator[str]:
        """Lines decoded as the file job reads them: universal newlines, bad UTF-8 replaced."""
        yield from io.TextIOWrapper(self.stream, encoding="utf-8", errors="replace", newline=None)

    def close(self) -> None:
        if self.stream is not self.raw:
            self.stream.close()
        if not self.stdin:
            self.raw.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def copy_stdin(directory: Path) -> Path:
    """Standard input copied to `directory/stdin` (`stdin.gz` if it is gzip), for readers that need a path."""
    stdin = _stdin()
    target = directory / ("stdin.gz" if stdin.peek(2)[:2] == GZIP_MAGIC else "stdin")
    with open(target, "wb") as out:
        shutil.copyfileobj(stdin, out, 1 << 20)
    return target
