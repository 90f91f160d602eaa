"""``{% prelabel_panel video %}``: the proposals panel of a video page ("Find mice without
labels", "Pre-label with model …"), so the labeling views need not know the assisted app."""

from __future__ import annotations

from django import template

from ..selectors import prelabel_panel as panel_state

register = template.Library()


@register.inclusion_tag("assisted/_prelabel_panel.html", takes_context=True)
def prelabel_panel(context, video) -> dict:
    project = context["project"]
    return {
        "project": project,
        "video": video,
        "can_write": bool(context.get("can_write")),
        "panel": panel_state(project=project, video=video),
    }
