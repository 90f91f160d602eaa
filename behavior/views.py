"""Behaviour-analysis pages: a video's arena editor, a run's analysis and the project's
experiment (subjects, the results table, group summaries).

Pages render the frame of the page; the data comes from the JSON API through
static/tracking/*.js (no inline script: the CSP forbids it).
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from behavior.arenas.frames import arena_background_jpeg
from behavior.experiment.selectors import animal_subjects, experiment_runs
from behavior.models import (
    SETTINGS_FIELDS,
    AnalysisSettings,
    ArenaSetup,
    ArenaTemplate,
    CalibrationMethod,
    Membership,
    SubjectInfo,
)
from behavior.selectors import analysis_settings_for
from labeling.access import can_write, project_page
from labeling.models import Role, Video
from labeling.selectors import has_role, role_of
from tracking.selectors import finished_runs_of_project, tracking_run_for_user

NAV = "experiment"


def _settings_context(project) -> dict:
    row = analysis_settings_for(project=project)
    return {name: getattr(row, name) for name in SETTINGS_FIELDS}


@project_page(Role.VIEWER)
def arena_page(request: HttpRequest, project, video_id: int):
    """Draw a video's zones and calibration over a still of it."""
    video = get_object_or_404(project.videos, pk=video_id, kind=Video.Kind.VIDEO)
    run = finished_runs_of_project(project=project).filter(video=video).first()
    return render(
        request,
        "tracking/arena.html",
        {
            "project": project,
            "nav": NAV,
            "video": video,
            "run": run,
            "templates": ArenaTemplate.objects.filter(project=project),
            "can_write": can_write(request),
            "calibration_methods": CalibrationMethod.choices,
            "memberships": Membership.choices,
        },
    )


@require_safe
@project_page(Role.VIEWER)
def arena_background(request: HttpRequest, project, video_id: int):
    """A still of the video at its original size (the arena editor's background)."""
    video = get_object_or_404(project.videos, pk=video_id, kind=Video.Kind.VIDEO)
    jpeg = arena_background_jpeg(video=video)
    if jpeg is None:
        raise Http404("The video has no stored image yet.")
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


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
            "settings": _settings_context(run.project),
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


@project_page(Role.VIEWER)
def experiment_page(request: HttpRequest, project):
    """Subjects of every video, the one-row-per-animal results and the group summary."""
    videos = list(
        Video.objects.filter(project=project, kind=Video.Kind.VIDEO).order_by("original_name", "pk")
    )
    subjects = {s.video_id: s for s in SubjectInfo.objects.filter(video__project=project)}
    setups = {s.video_id: s for s in ArenaSetup.objects.filter(video__project=project)}
    runs = experiment_runs(project=project)
    per_animal = animal_subjects(video_ids=[v.pk for v in videos])
    rows = []
    for v in videos:
        table = runs.get(v.pk)
        run = table.run if table else None
        rows.append(
            {
                "video": v,
                "subject": subjects.get(v.pk),
                "setup": setups.get(v.pk),
                "zone_count": len(setups[v.pk].zones) if v.pk in setups else 0,
                "run": run,
                "table": table,
                # Multi-animal videos get a row per animal for its own subject id.
                "animals": [
                    {"number": n, "subject": per_animal.get((v.pk, n))}
                    for n in range(1, run.n_animals + 1)
                ]
                if run and run.n_animals > 1
                else [],
            }
        )
    return render(
        request,
        "tracking/experiment.html",
        {
            "project": project,
            "nav": NAV,
            "rows": rows,
            "run_count": len(runs),
            "templates": ArenaTemplate.objects.filter(project=project),
            "settings": _settings_context(project),
            "smoothing_choices": AnalysisSettings.Smoothing.choices,
            "can_write": role_of(user=request.user, project=project)
            in (Role.ANNOTATOR, Role.OWNER),
        },
    )
