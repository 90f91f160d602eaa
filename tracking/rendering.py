"""Rendering a run's annotated MP4 on a worker (boxes, ids, trails; edits applied)."""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.files.storage import default_storage

from labeling.videos.services import video_local_path
from webapp.jobs import JobCancelled, job_claim, job_finish, job_heartbeat
from webapp.models import JobStatus
from webapp.storage import delete_quietly, scratch_tempdir, store_file

from .models import TrackingRender
from .selectors import tracking_edits_active, tracking_run_trajectory

log = logging.getLogger(__name__)


def tracking_render_execute(*, render_id: int) -> None:
    """Claim the render and write the MP4; a duplicate delivery returns at once."""
    from tracking.engine.frames import sandboxed_source
    from tracking.engine.render import render_video

    render = job_claim(model=TrackingRender, job_id=render_id)
    if render is None:
        return
    run = render.run
    video = run.video
    total = max(run.frames_total, 1)

    def beat(written: int) -> None:
        if written % 100 == 0:
            job_heartbeat(job=render, progress=written / total, message=f"Frame {written:,}")

    try:
        trajectory = tracking_run_trajectory(run=run)
        with (
            video_local_path(video=video) as path,
            scratch_tempdir() as tmp,
        ):
            source = sandboxed_source(path, video)
            output = render_video(source, trajectory, Path(tmp) / "tracked.mp4", on_progress=beat)
            name = f"tracking/{run.project_id}/{run.pk}/render-{render.pk}.mp4"
            if _gone(render):
                return
            default_storage.delete(name)
            stored = store_file(local_path=output, name=name)
        if not TrackingRender.objects.filter(pk=render.pk).update(
            file=stored, edits_applied=len(tracking_edits_active(run=run))
        ):
            delete_quietly(stored)  # deleted (with its run or project) while it was stored
            return
        job_finish(job=render, status=JobStatus.SUCCEEDED, message="Rendered")
    except JobCancelled:
        if not _gone(render):
            job_finish(job=render, status=JobStatus.CANCELLED, message="Cancelled")
    except Exception as exc:
        if _gone(render):
            return
        log.exception("render %s failed", render.pk)
        job_finish(job=render, status=JobStatus.FAILED, error=str(exc)[:2000])


def _gone(render: TrackingRender) -> bool:
    """True (and logged) when the render's row was deleted while it worked: it stops
    without a traceback and stores nothing."""
    if TrackingRender.objects.filter(pk=render.pk).exists():
        return False
    log.info("render %s was deleted while it ran; stopped", render.pk)
    return True
