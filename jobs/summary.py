"""A readable summary of a decisions file: actions, reasons, most-acted-on subjects.

A line that is not a decision stops it with `InvalidDecisions`, naming the file, the line and the reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from jobs.inputs import Source

READ = {"subject_type": str, "subject": str, "action": str, "reasons": list}
"""The fields of a v1 decision the summary reads, and their JSON types."""
_TYPE_NAMES = {str: "string", list: "list"}


class InvalidDecisions(ValueError):
    """A decisions file that cannot be summarised; the message names the file, the line and the reason."""


def read_decisions(path: Path) -> list[dict[str, Any]]:
    """The decisions of a v1 JSON Lines file (or `-`), blank lines skipped, each checked for what the summary reads."""
    rows = []
    with Source(path) as source:
        for line_no, line in enumerate(source.lines(), 1):
            if not line.strip():
                continue
            where = f"decisions {path} line {line_no}"
            try:
                d = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidDecisions(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(d, dict):
                raise InvalidDecisions(f"{where}: not a JSON object but {type(d).__name__}")
            for name, kind in READ.items():
                if not isinstance(d.get(name), kind):
                    got = "missing" if name not in d else f"{d[name]!r}"
                    raise InvalidDecisions(f"{where}: field '{name}' is not a {_TYPE_NAMES[kind]} ({got})")
            if not all(isinstance(r, str) for r in d["reasons"]):
                raise InvalidDecisions(f"{where}: field 'reasons' is not a list of strings ({d['reasons']!r})")
            rows.append(d)
    return rows


def summarize(decisions: Path) -> str:
    """Text table: decisions per action and reason, and the subjects with the most decisions."""
    rows = read_decisions(decisions)
    out = [f"{len(rows)} decisions on {len({(d['subject_type'], d['subject']) for d in rows})} subjects"]
    by_action = Counter(d["action"] for d in rows)
    out += [f"  {action:<10} {n}" for action, n in sorted(by_action.items())]
    reasons = Counter(r for d in rows for r in d["reasons"])
    out.append("reasons:")
    out += [f"  {reason:<40} {n}" for reason, n in reasons.most_common()]
    subjects = Counter(f"{d['subject_type']}:{d['subject']}" for d in rows)
    out.append("most acted-on subjects:")
    out += [f"  {subject:<40} {n}" for subject, n in subjects.most_common(10)]
    return "\n".join(out)
