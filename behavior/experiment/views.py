"""The project's experiment page: subjects of every video, the run each video's row uses,
the one-row-per-animal results and the group summary.

The data comes from the JSON API through static/tracking/experiment.js (no inline script:
the CSP forbids it).
"""

from __future__ import annotations

from django.http import HttpRequest

from behavior.models import AnalysisSettings, ArenaSetup, ArenaTemplate, SubjectInfo
from behavior.selectors import analysis_settings_values
from labeling.access import project_page, project_render
from labeling.models import Role, Video

from .selectors import animal_subjects, experiment_runs

NAV = "experiment"  # the navigation entry the behaviour pages sit under


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
    return project_render(
        request,
        "tracking/experiment.html",
        project=project,
        nav=NAV,
        rows=rows,
        run_count=len(runs),
        templates=ArenaTemplate.objects.filter(project=project),
        settings=analysis_settings_values(project=project),
        smoothing_choices=AnalysisSettings.Smoothing.choices,
    )
