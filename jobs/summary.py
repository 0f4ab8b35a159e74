"""A readable summary of a decisions file: actions, reasons, most-acted-on subjects."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def summarize(decisions: Path) -> str:
    """Text table: decisions per action and reason, and the subjects with the most decisions."""
    rows = [json.loads(line) for line in decisions.read_text(encoding="utf-8").splitlines() if line.strip()]
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
