"""Reads shared by the tracking pages, the API and the commands (scoped to the user's projects)."""

from __future__ import annotations

from django.db.models import QuerySet

from labeling.models import Project, Role
from labeling.selectors import object_for_user

from .models import TrackingBatch, TrackingEdit, TrackingRender, TrackingRun


def tracking_run_for_user(*, user, run_id: int | str, role: str = Role.VIEWER) -> TrackingRun:
    """The run if ``user`` holds at least ``role`` in its project (404 / 403 otherwise)."""
    return object_for_user(
        TrackingRun.objects.select_related("project", "video", "model", "batch"),
        user=user,
        pk=run_id,
        role=role,
        what="tracking run",
    )


def tracking_batch_for_user(*, user, batch_id: int | str) -> TrackingBatch:
    return object_for_user(
        TrackingBatch.objects.select_related("project", "model"),
        user=user,
        pk=batch_id,
        what="tracking batch",
    )


def tracking_edit_for_user(*, user, edit_id: int | str, role: str = Role.VIEWER) -> TrackingEdit:
    return object_for_user(
        TrackingEdit.objects.select_related("run", "run__project"),
        user=user,
        pk=edit_id,
        role=role,
        what="edit",
        project_path="run__project",
    )


def tracking_render_for_user(*, user, render_id: int | str) -> TrackingRender:
    return object_for_user(
        TrackingRender.objects.select_related("run", "run__project"),
        user=user,
        pk=render_id,
        what="render",
        project_path="run__project",
    )


def tracking_runs_of_project(*, project: Project) -> QuerySet[TrackingRun]:
    return TrackingRun.objects.filter(project=project).select_related("video", "model", "batch")


def tracking_edits_active(*, run: TrackingRun) -> list[TrackingEdit]:
    return list(run.edits.filter(reverted_at__isnull=True).order_by("id"))
