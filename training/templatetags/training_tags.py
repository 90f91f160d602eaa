"""Template filters for the training pages."""

from __future__ import annotations

from django import template

from webapp.bounds import finite_float

register = template.Library()

_STATUS_CLASSES = {
    "queued": "text-bg-secondary",
    "running": "text-bg-primary",
    "succeeded": "text-bg-success",
    "failed": "text-bg-danger",
    "cancelled": "text-bg-warning",
    "timed_out": "text-bg-warning",
}


@register.filter
def status_class(status: str) -> str:
    """Bootstrap badge classes for a job status."""
    return _STATUS_CLASSES.get(str(status), "text-bg-light")


@register.filter
def filesize(n) -> str:
    """12345678 -> "11.8 MB"."""
    n = finite_float(n)
    if n is None or n <= 0:
        return "–"
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return "–"  # pragma: no cover


@register.filter
def seconds(value) -> str:
    """83 -> "1 min 23 s"; 7322 -> "2 h 2 min"."""
    total = finite_float(value)
    if total is None or total < 0:
        return "–"
    total = round(total)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@register.filter
def metric(value, digits: int = 3) -> str:
    """A metric in [0, 1] with 3 decimals; "–" when missing."""
    value = finite_float(value)
    return "–" if value is None else f"{value:.{int(digits)}f}"


@register.filter
def millions(n) -> str:
    try:
        n = float(n)
    except (TypeError, ValueError):
        return "–"
    return f"{n / 1e6:.1f} M"


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def preset_label(key: str) -> str:
    """The preset's label ("YOLOv3 Tiny (paper)"), or the key for a custom architecture."""
    from training.presets import PRESETS

    preset = PRESETS.get(str(key))
    return preset.label if preset else str(key)
