"""Reads of the behaviour app shared by its pages, API and analysis (the experiment's
run choice and subjects are in :mod:`behavior.experiment.selectors`)."""

from __future__ import annotations

from labeling.models import Project
from labeling.selectors import RowForUser

from .models import SETTINGS_FIELDS, AnalysisSettings, FreezingJob


def analysis_settings_for(*, project: Project) -> AnalysisSettings:
    """The project's analysis settings, or the defaults (unsaved) when it has none."""
    return AnalysisSettings.objects.filter(project=project).first() or AnalysisSettings(
        project=project
    )


def analysis_settings_values(*, project: Project) -> dict:
    """``{parameter: value}`` of the project's analysis settings (defaults if none), as the
    pages show them."""
    row = analysis_settings_for(project=project)
    return {name: getattr(row, name) for name in SETTINGS_FIELDS}


freezing_job_for_user = RowForUser(
    FreezingJob.objects.select_related("run"),
    id_name="job_id",
    what="freezing job",
    project_path="run__project",
)
