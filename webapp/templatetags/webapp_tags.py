"""Template tags every page's frame uses (``{% load webapp_tags %}``)."""

from __future__ import annotations

from django import template

register = template.Library()

#: The project sections in the navigation bar, in order: (the page's ``nav`` key, the
#: label, the URL name taking the project's id). One list serves the links of an open
#: project and the disabled entries shown before one is opened.
NAV_SECTIONS = (
    ("videos", "Videos", "video-list"),
    ("label", "Label", "label-editor"),
    ("train", "Train", "training-list"),
    ("evaluate", "Evaluate", "evaluation-home"),
    ("track", "Track", "tracking-home"),
    ("live", "Live", "live-home"),
    ("experiment", "Experiment", "experiment"),
)


@register.simple_tag
def nav_sections() -> tuple[tuple[str, str, str], ...]:
    return NAV_SECTIONS
