"""Text reports of an `Evaluation`: the detector's table, and the detector beside the two anchors.

>>> pct(0.5), pct(0.0004, 3), pct(None), views(12.5), views(3.0), views(4.95), views(None)
('50.0%', '0.040%', '-', '12.5', '3', '4.95', '-')
"""

from __future__ import annotations

import json

from evaluation.core import Evaluation
from evaluation.metrics import Score, percentile


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage, '-' when undefined."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def views(value: float | None) -> str:
    """A view count (a median or p95 may be fractional: at most 2 decimals), '-' when undefined."""
    if value is None:
        return "-"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def headline(ev: Evaluation) -> str:
    """One line: what was read and how long it took."""
    i = ev.inputs
    rejected = f", {i['events_rejected']:,} rejected ({i['first_rejected']})" if i["events_rejected"] else ""
    return (
        f"scrapeguard evaluate: {i['events_read']:,} events{rejected}, {i['labeled_actors']:,} labeled actors, "
        f"{i['decisions_read']:,} decisions on {i['subjects_flagged']:,} subjects "
        f"({i['unlabeled_subjects_flagged']:,} unlabeled); {ev.seconds:.1f} s"
        + (f"; the detector's decisions take effect {delay:g} s late" if (delay := _delay(ev)) else "")
    )


def _delay(ev: Evaluation) -> float:
    return float(ev.detector.parameters.get("enforcement_delay_s", 0))


def overall(s: Score) -> list[str]:
    """The overall figures of one engine."""
    return [
        f"macro recall {pct(s.macro_recall)}; leak ratio {pct(s.leak_ratio)} of the personal-data records "
        f"scrapers were given before detection ({pct(s.leak_ratio_profile_views)} of their profile views)",
        f"benign flag rate {pct(s.benign_flag_rate, 3)} ({s.benign_flagged:,} of {s.benign_actors:,}; "
        f"blocked {s.benign_blocked:,}): " + ", ".join(f"{k.kind} {pct(k.flag_rate, 3)}" for k in s.benign_kinds),
    ]


def kind_table(s: Score) -> list[str]:
    """Per-kind table of one engine."""
    head = (
        f"{'kind':<32} {'actors':>7} {'flagged':>8} {'blocked':>8} {'rate':>7}   "
        f"{'views served before 1st action: median':>38} {'p95':>7} {'total':>8} {'of served':>10}   "
        f"{'records before 1st action: median':>33} {'total':>8} {'of disclosed':>12}"
    )
    rows = [head]
    for k in s.benign_kinds + s.scraper_kinds:
        row = f"{k.kind:<32} {k.actors:>7,} {k.flagged:>8,} {k.blocked:>8,} {pct(k.flag_rate):>7}"
        if k.views_before or k.records_before:
            row += (
                f"   {views(percentile(k.views_before, 50)):>38} {views(percentile(k.views_before, 95)):>7} "
                f"{sum(k.views_before):>8,} {k.views_served:>10,}   "
                f"{views(percentile(k.records_before, 50)):>33} {sum(k.records_before):>8,} {k.records_disclosed:>12,}"
            )
        rows.append(row)
    return rows


def detector_report(ev: Evaluation) -> str:
    """The detector's per-kind table and overall figures."""
    return "\n".join([headline(ev), "", *kind_table(ev.detector), "", *overall(ev.detector)])


def _limit(value: int | None) -> str:
    return "off" if value is None else str(value)


def anchors_report(ev: Evaluation) -> str:
    """The detector beside the static rate limit and the CrowdSec leaky bucket."""
    t = ev.tuning
    columns = ["detector", f"static rate limit (A={_limit(t.account_limit)},B={_limit(t.ip_limit)})", "leaky bucket"]
    scrapers = [k.kind for k in ev.detector.scraper_kinds]
    rows: list[tuple[str, list[str]]] = []
    for kind in scrapers:
        rows.append((f"recall {kind}", [pct(e.kinds[kind].flag_rate) for e in ev.engines]))
    rows.append(("macro recall", [pct(e.macro_recall) for e in ev.engines]))
    rows.append(("benign flag rate", [pct(e.benign_flag_rate, 3) for e in ev.engines]))
    rows.append(("blocked benign", [f"{e.benign_blocked:,}" for e in ev.engines]))
    rows.append(("leak ratio (personal-data records)", [pct(e.leak_ratio) for e in ev.engines]))
    rows.append(("leak ratio (profile views only)", [pct(e.leak_ratio_profile_views) for e in ev.engines]))
    for kind in scrapers:
        rows.append(
            (
                f"median views before 1st action {kind}",
                [views(percentile(e.kinds[kind].views_before, 50)) for e in ev.engines],
            )
        )
    for kind in scrapers:
        rows.append(
            (
                f"records before 1st action {kind}",
                [f"{sum(e.kinds[kind].records_before):,} of {e.kinds[kind].records_disclosed:,}" for e in ev.engines],
            )
        )
    width = max(len(label) for label, _ in rows)
    cols = [max(12, len(c), *(len(values[j]) for _, values in rows)) for j, c in enumerate(columns)]
    lines = [headline(ev), "", f"{'':<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(columns, cols, strict=True))]
    lines += [
        f"{label:<{width}}  " + "  ".join(f"{v:>{w}}" for v, w in zip(values, cols, strict=True))
        for label, values in rows
    ]
    lines += [
        "",
        f"static rate limit: account profile views per sliding hour > A, requests per IP per sliding minute > B; "
        f"tuned on these labels (best macro recall with benign flag rate <= 0.1%, "
        f"{t.pairs_within_bound:,} of {t.pairs_evaluated:,} pairs within the bound); throttles only",
        "leaky bucket: CrowdSec crowdsecurity/http-crawl-non_statics per IP (capacity 40, leak 0.5 s, "
        f"distinct file names, GET non-static); an overflow bans the IP for 4 h "
        f"({ev.leaky.parameters['ips_overflowed']:,} IPs overflowed)",
    ]
    return "\n".join(lines)


def render(ev: Evaluation, as_json: bool = False, anchors: bool = False) -> str:
    """What `scrapeguard evaluate` prints: the JSON object, the anchors table, or the detector's table."""
    if as_json:
        return json.dumps(ev.to_json(), indent=2)
    return anchors_report(ev) if anchors else detector_report(ev)
