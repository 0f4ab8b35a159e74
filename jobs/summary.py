"""A readable summary of a decisions file, by action and reason, and by actor kind when labels are given."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def summarize(decisions: Path, labels: Path | None = None) -> str:
    """Text table: decisions per action and reason, distinct subjects, and (with labels) subjects acted on per kind."""
    rows = [json.loads(line) for line in decisions.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = [f"{len(rows)} decisions on {len({(d['subject_type'], d['subject']) for d in rows})} subjects"]
    by_action = Counter(d["action"] for d in rows)
    out += [f"  {action:<10} {n}" for action, n in sorted(by_action.items())]
    reasons = Counter(r for d in rows for r in d["reasons"])
    out.append("reasons:")
    out += [f"  {reason:<40} {n}" for reason, n in reasons.most_common()]
    if labels is not None:
        kinds = json.loads(labels.read_text(encoding="utf-8"))
        actors = Counter(kinds.values())
        acted = Counter(
            kinds.get(f"{d['subject_type']}:{d['subject']}", "unlabeled")
            for d in {(d["subject_type"], d["subject"]): d for d in rows}.values()
        )
        out.append("actors acted on, by kind (labels):")
        out += [f"  {kind:<34} {acted.get(kind, 0):>5} of {n}" for kind, n in sorted(actors.items())]
        if acted.get("unlabeled"):
            out.append(f"  {'unlabeled subjects':<34} {acted['unlabeled']:>5}")
    return "\n".join(out)
