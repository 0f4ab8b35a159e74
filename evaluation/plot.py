"""Bar chart: profile views served before detection, per scraper strategy, detector beside the anchors.

Bars are the median over a strategy's actors, the whisker reaches the p95, and the
label over each bar (and its whisker) is the median and how many of the strategy's
actors were acted on at all (hatched: not all of them; the others leaked every view
they got). The value axis is logarithmic; a median of 0 is drawn at 0.5 so that it
stays visible, and its label says 0. Needs matplotlib
(Agg backend, no display).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from evaluation.core import Evaluation
from evaluation.metrics import percentile
from evaluation.report import views

_FLOOR = 0.5
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c")


def plot_views_before(ev: Evaluation, path: Path) -> None:
    """Write the chart as a PNG to `path`."""
    with warnings.catch_warnings():
        # matplotlib 3.9's mathtext calls pyparsing 3.3 names that pyparsing now marks deprecated
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="matplotlib")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pyparsing")
        _plot(ev, path)


def _plot(ev: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k.kind for k in ev.detector.scraper_kinds]
    t = ev.tuning
    limits = ", ".join(f"{n}={'off' if v is None else v}" for n, v in (("A", t.account_limit), ("B", t.ip_limit)))
    names = ["detector", f"static rate limit ({limits})", "CrowdSec leaky bucket"]
    fig, ax = plt.subplots(figsize=(max(7.0, 2.6 * len(kinds) + 2), 5.2), dpi=110)
    width = 0.8 / len(names)
    top = 1.0
    for j, (engine, _name) in enumerate(zip(ev.engines, names, strict=True)):
        scores = [engine.kinds[k] for k in kinds]
        medians = [percentile(k.views_before, 50) or 0.0 for k in scores]
        p95s = [percentile(k.views_before, 95) or 0.0 for k in scores]
        heights = [max(m, _FLOOR) for m in medians]
        upper = [max(p - h, 0.0) for p, h in zip(p95s, heights, strict=True)]
        xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(kinds))]
        bars = ax.bar(
            xs,
            heights,
            width * 0.92,
            color=_COLORS[j % len(_COLORS)],
            yerr=[[0.0] * len(kinds), upper],
            capsize=4,
            error_kw={"elinewidth": 1.2, "ecolor": "#333333"},
        )
        for bar, x, h, m, p95, k in zip(bars, xs, heights, medians, p95s, scores, strict=True):
            if k.flagged < k.actors:
                bar.set_hatch("//")  # some actors of this strategy were never acted on: all their views leaked
                bar.set_edgecolor("white")
            ax.annotate(
                f"{views(m)}\n{k.flagged}/{k.actors} caught",
                (x, max(h, p95)),
                textcoords="offset points",
                xytext=(0, 2),
                ha="center",
                va="bottom",
                fontsize=7.5,
            )
        top = max(top, *heights, *p95s)
    ax.set_yscale("log")
    ax.set_ylim(_FLOOR * 0.8, top * 6)
    ax.set_xticks(range(len(kinds)))
    ax.set_xticklabels([k.removeprefix("scraper_").replace("_", " ") for k in kinds])
    ax.set_ylabel("profile views served before first action\n(median per actor; whisker: p95)")
    ax.set_title("Profile views a scraper gets before it is stopped (lower is better)")
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=_COLORS[j % len(_COLORS)], label=name) for j, name in enumerate(names)]
    handles.append(Patch(facecolor="#999999", hatch="//", edgecolor="white", label="not every actor caught"))
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    ax.grid(axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
