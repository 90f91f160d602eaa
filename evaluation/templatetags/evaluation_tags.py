"""Number formatting for the evaluation pages, and the summary another page can include.

``{% load evaluation_tags %}{% evaluation_summary model %}`` renders a model's latest
evaluation as metric cards with links to the dashboard (for the training model page).
"""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def metric(value, digits: int = 3) -> str:
    """0.81234 -> "0.812"; None -> "—"."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return "—"


@register.filter
def duration(seconds) -> str:
    """Seconds as the paper writes them: "250 ms", "42.1 s", "12 min 05 s", "3 h 07 min"."""
    if seconds is None or seconds == "":
        return "—"
    s = float(seconds)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


@register.filter
def millions(value) -> str:
    """12132642 -> "12.13 M"."""
    if value is None or value == "":
        return "—"
    return f"{float(value) / 1e6:.2f} M"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.inclusion_tag("evaluation/_summary.html", takes_context=True)
def evaluation_summary(context, model) -> dict:
    """The latest finished evaluation of ``model`` (test split first) as cards."""
    from ..selectors import latest_succeeded_run
    from ..views import CARD_METRICS

    request = context.get("request")
    user = getattr(request, "user", None)
    run = latest_succeeded_run(model=model, user=user) if user is not None else None
    metrics = run.metrics if run else {}
    return {
        "model": model,
        "run": run,
        "cards": [
            {"label": label, "help": help_, "value": metrics.get(key)}
            for key, label, help_ in CARD_METRICS
        ],
    }
