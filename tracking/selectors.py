"""Reads shared by the tracking pages, the API, the commands and the analysis.

Every lookup by id goes through the user's projects: a run or video of a project the user
is not a member of is a 404, exactly like a missing one.
"""

from __future__ import annotations

from django.db.models import QuerySet

from labeling.models import Project, Video
from labeling.selectors import RowForUser
from webapp.models import JobStatus

from .engine.trajectory import Trajectory
from .models import LiveSession, TrackingBatch, TrackingEdit, TrackingRender, TrackingRun

# A video (not an image set).
tracked_video_for_user = RowForUser(
    Video.objects.select_related("project").filter(kind=Video.Kind.VIDEO),
    id_name="video_id",
    what="video",
)


def finished_runs_of_project(*, project: Project) -> QuerySet[TrackingRun]:
    """Succeeded runs with a trajectory, newest first."""
    return (
        TrackingRun.objects.filter(project=project, status=JobStatus.SUCCEEDED)
        .exclude(trajectory="")
        .select_related("video")
        .order_by("-finished_at", "-created_at", "-pk")
    )


def latest_run_per_video(*, project: Project) -> dict[int, TrackingRun]:
    """``{video id: its newest succeeded run}`` over the project, in one query."""
    latest: dict[int, TrackingRun] = {}
    for run in finished_runs_of_project(project=project):
        latest.setdefault(run.video_id, run)
    return latest


def active_edit_state(*, run: TrackingRun) -> list[tuple[int, bool]]:
    """``[(edit id, reverted?)]``: what a cached analysis of the run depends on."""
    return [
        (pk, reverted is not None)
        for pk, reverted in TrackingEdit.objects.filter(run=run).values_list("id", "reverted_at")
    ]


tracking_run_for_user = RowForUser(
    TrackingRun.objects.select_related("project", "video", "model", "batch"),
    id_name="run_id",
    what="tracking run",
)
tracking_batch_for_user = RowForUser(
    TrackingBatch.objects.select_related("project", "model"),
    id_name="batch_id",
    what="tracking batch",
)
tracking_edit_for_user = RowForUser(
    TrackingEdit.objects.select_related("run", "run__project"),
    id_name="edit_id",
    what="edit",
    project_path="run__project",
)
tracking_render_for_user = RowForUser(
    TrackingRender.objects.select_related("run", "run__project"),
    id_name="render_id",
    what="render",
    project_path="run__project",
)


def tracking_runs_of_project(*, project: Project) -> QuerySet[TrackingRun]:
    return TrackingRun.objects.filter(project=project).select_related("video", "model", "batch")


def tracking_edits_active(*, run: TrackingRun) -> list[TrackingEdit]:
    return list(run.edits.filter(reverted_at__isnull=True).order_by("id"))


def tracking_run_trajectory(*, run: TrackingRun) -> Trajectory:
    """The run's dense trajectory (every frame × animal) with its active edits applied.

    Every reader (the run page, each export, the behaviour analysis) goes through here, so
    all of them show the same corrected identities.
    """
    from django.core.exceptions import ValidationError

    from webapp.storage import local_copy

    from .engine.edits import SwapEdit, apply_edits
    from .engine.exports.parquet import read_trajectory

    if not run.trajectory:
        raise ValidationError({"run": "The run has no trajectory yet."})
    with local_copy(run.trajectory.name, suffix=".parquet") as path:
        trajectory = read_trajectory(path)
    edits = [
        SwapEdit(e.animal_a, e.animal_b, e.from_frame, e.to_frame)
        for e in tracking_edits_active(run=run)
        if e.kind == TrackingEdit.Kind.SWAP and max(e.animal_a, e.animal_b) <= trajectory.n_animals
    ]
    return apply_edits(trajectory, edits)


# A live session (the session's page, status and stop).
live_session_for_user = RowForUser(
    LiveSession.objects.select_related("project", "model"), id_name="job_id", what="live session"
)
