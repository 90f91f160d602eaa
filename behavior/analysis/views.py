"""The page of one run's analysis: measures per animal and zone, time bins, heatmaps and
trajectories, with the definitions of every measure (from the core's docstrings).

The data comes from the JSON API through static/tracking/analysis.js (no inline script:
the CSP forbids it).
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from behavior.models import AnalysisSettings, ArenaSetup, Membership
from behavior.selectors import analysis_settings_values
from labeling.models import Role
from labeling.selectors import has_role
from tracking.selectors import tracking_run_for_user

NAV = "experiment"  # the navigation entry the behaviour pages sit under


def doc_html(text: str) -> SafeString:
    """A core docstring as HTML: paragraphs, ``*`` bullet lists, ``::`` literal blocks,
    **bold**, *emphasis* and ``code``."""
    blocks: list[str] = []
    items: list[str] = []
    para: list[str] = []
    literal: list[str] | None = None

    def inline(s: str) -> str:
        s = escape(s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", s)
        s = re.sub(r"``(.+?)``", r"<code>\1</code>", s)
        s = re.sub(r":(?:func|mod|class|data|meth):`~?\.?([^`]+)`", r"<code>\1</code>", s)
        return s

    def flush_para():
        if para:
            blocks.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()

    def flush_items():
        if items:
            blocks.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if literal is not None:
            if not line or raw.startswith("    "):
                literal.append(raw[4:])
                continue
            blocks.append(f'<pre class="small">{escape(chr(10).join(literal).strip())}</pre>')
            literal = None
        if line.startswith("* "):
            flush_para()
            items.append(line[2:])
        elif not line:
            flush_para()
            flush_items()
        elif items and raw.startswith("  "):
            items[-1] += " " + line
        else:
            flush_items()
            para.append(line.removesuffix(":") if line.endswith("::") else line)
            if line.endswith("::"):
                flush_para()
                literal = []
    if literal:
        blocks.append(f'<pre class="small">{escape(chr(10).join(literal).strip())}</pre>')
    flush_para()
    flush_items()
    return mark_safe("".join(blocks))  # noqa: S308 - every piece of text went through escape()


@login_required
def run_analysis_page(request: HttpRequest, run_id: int):
    """A run's measures per animal and zone, time bins, heatmaps and trajectories."""
    # Imported here: the analysis stack (SciPy, pandas, matplotlib) takes seconds to load,
    # which loading the URL configuration should not pay.
    from behavior.analysis.runs import analysis_definitions

    run = tracking_run_for_user(user=request.user, run_id=run_id)
    setup = ArenaSetup.objects.filter(video=run.video).first()
    return render(
        request,
        "tracking/analysis.html",
        {
            "project": run.project,
            "nav": NAV,
            "run": run,
            "video": run.video,
            "setup": setup,
            "settings": analysis_settings_values(project=run.project),
            "membership": setup.membership if setup else Membership.CENTRE,
            "units": "cm" if setup and setup.px_per_cm else "px",
            "animals": list(range(1, run.n_animals + 1)),
            "definitions": [(title, doc_html(text)) for title, text in analysis_definitions()],
            "smoothing_choices": AnalysisSettings.Smoothing.choices,
            "memberships": Membership.choices,
            # Starting a freezing job spends a worker: annotators and owners.
            "can_start_jobs": has_role(user=request.user, project=run.project, role=Role.ANNOTATOR),
        },
    )
