"""Template filters of the console."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def duration(seconds: Any) -> str:
    """Seconds as the largest sensible unit: 45 s, 12 min, 5.2 h, 3.1 d."""
    if seconds is None:
        return ""
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


@register.filter
def make_list_words(text: str) -> list[str]:
    """`"a b c"` to `["a", "b", "c"]`."""
    return text.split()


@register.filter
def percent_width(value: Any) -> str:
    """A percentile (0-100) as a CSS width, clamped."""
    try:
        return f"{max(0.0, min(100.0, float(value))):.0f}%"
    except (TypeError, ValueError):
        return "0%"
