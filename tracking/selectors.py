"""Reads shared by the tracking pages, the API, the commands and the analysis.

Every lookup by id goes through the user's projects: a run or video of a project the user
is not a member of is a 404, exactly like a missing one.
"""

from __future__ import annotations

import numpy as np

from django.db.models import QuerySet

from labeling.models import Project, Role, Video
from labeling.selectors import object_for_user
from webapp.models import JobStatus

from .engine.trajectory import Status, Trajectory
from .models import AnalysisSettings, TrackingEdit, TrackingRun


def tracking_run_for_user(*, user, run_id: int | str, role: str = Role.VIEWER) -> TrackingRun:
    """The run if ``user`` holds at least ``role`` in its project (404 / 403 otherwise)."""
    return object_for_user(
        TrackingRun.objects.select_related("project", "video", "model"),
        user=user,
        pk=run_id,
        role=role,
        what="tracking run",
    )


def tracked_video_for_user(*, user, video_id: int | str, role: str = Role.VIEWER) -> Video:
    """A video (not an image set) if ``user`` holds at least ``role`` in its project."""
    return object_for_user(
        Video.objects.select_related("project").filter(kind=Video.Kind.VIDEO),
        user=user,
        pk=video_id,
        role=role,
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


def analysis_settings_for(*, project: Project) -> AnalysisSettings:
    """The project's analysis settings, or the defaults (unsaved) when it has none."""
    return AnalysisSettings.objects.filter(project=project).first() or AnalysisSettings(
        project=project
    )


def active_edit_state(*, run: TrackingRun) -> list[tuple[int, bool]]:
    """``[(edit id, reverted?)]``: what a cached analysis of the run depends on."""
    return [
        (pk, reverted is not None)
        for pk, reverted in TrackingEdit.objects.filter(run=run).values_list("id", "reverted_at")
    ]


# TEMPORARY: replaced by the engine's Parquet reader/writer at merge.
# The lead owns tracking_run_trajectory; this stand-in reads the long-format Parquet file
# (frame, time_s, animal 1..N, status, x1, y1, x2, y2, confidence) and applies the run's
# active identity swaps, so the analysis code can be written and tested against it.
def tracking_run_trajectory(*, run: TrackingRun) -> Trajectory:
    """The run's dense trajectory (every frame × animal) with its active edits applied."""
    import pandas as pd

    from webapp.storage import local_copy

    if not run.trajectory:
        raise ValueError(f"tracking run {run.pk} has no trajectory")
    with local_copy(run.trajectory.name, suffix=".parquet") as path:
        df = pd.read_parquet(path)
    frames = np.sort(df["frame"].unique()).astype(np.int64)
    n = max(int(run.n_animals), int(df["animal"].max()) if len(df) else 1)
    f_index = np.searchsorted(frames, df["frame"].to_numpy())
    a_index = df["animal"].to_numpy(dtype=np.int64) - 1
    time_s = np.full(frames.shape[0], np.nan)
    time_s[f_index] = df["time_s"].to_numpy(dtype=np.float64)
    boxes = np.full((frames.shape[0], n, 4), np.nan, dtype=np.float32)
    boxes[f_index, a_index] = df[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float32)
    confidence = np.full((frames.shape[0], n), np.nan, dtype=np.float32)
    confidence[f_index, a_index] = df["confidence"].to_numpy(dtype=np.float32)
    status = np.full((frames.shape[0], n), Status.MISSING, dtype=np.int8)
    status[f_index, a_index] = df["status"].to_numpy(dtype=np.int8)
    for edit in TrackingEdit.objects.filter(run=run, reverted_at__isnull=True).order_by("id"):
        if edit.kind != TrackingEdit.Kind.SWAP:
            continue
        last = frames[-1] if edit.to_frame is None else edit.to_frame
        rows = (frames >= edit.from_frame) & (frames <= last)
        a, b = edit.animal_a - 1, edit.animal_b - 1
        if max(a, b) >= n:
            continue
        for arr in (boxes, confidence, status):
            arr[rows, a], arr[rows, b] = arr[rows, b].copy(), arr[rows, a].copy()
    return Trajectory(
        frames=frames, time_s=time_s, boxes=boxes, confidence=confidence, status=status
    )
