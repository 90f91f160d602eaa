"""Template filters for the video pages."""

from __future__ import annotations

from django import template

from webapp.bounds import finite_float

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """77.67 -> "1:18"; 3725 -> "1:02:05"; empty for nothing."""
    total = finite_float(seconds)
    if total is None or total <= 0:
        return ""
    total = round(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def percent(part, whole) -> int:
    try:
        part, whole = float(part), float(whole)
    except (TypeError, ValueError):
        return 0
    if whole <= 0:
        return 0
    return max(0, min(100, round(100 * part / whole)))
