"""Rendering a run's annotated MP4 on a worker (boxes, ids, trails; edits applied)."""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.files.storage import default_storage

from labeling.videos.services import video_local_path
from webapp.jobs import JobRun, job_heartbeat, job_run
from webapp.storage import delete_quietly, scratch_tempdir, store_file

from .models import TrackingRender
from .selectors import tracking_edits_active, tracking_run_trajectory

log = logging.getLogger(__name__)


def tracking_render_execute(*, render_id: int) -> None:
    """Claim the render and write the MP4 (:data:`tracking.jobs.RENDER`); a duplicate
    delivery returns at once."""
    from .jobs import RENDER  # the kinds module imports this one

    job_run(RENDER, job_id=render_id)


def tracking_render_work(job_run_: JobRun) -> str:
    from tracking.engine.frames import sandboxed_source
    from tracking.engine.render import render_video

    render = job_run_.job
    run = render.run
    video = run.video
    total = max(run.frames_total, 1)

    def beat(written: int) -> None:
        if written % 100 == 0:
            job_heartbeat(job=render, progress=written / total, message=f"Frame {written:,}")

    trajectory = tracking_run_trajectory(run=run)
    with (
        video_local_path(video=video) as path,
        scratch_tempdir() as tmp,
    ):
        source = sandboxed_source(path, video)
        output = render_video(source, trajectory, Path(tmp) / "tracked.mp4", on_progress=beat)
        name = f"tracking/{run.project_id}/{run.pk}/render-{render.pk}.mp4"
        if not TrackingRender.objects.filter(pk=render.pk).exists():
            raise TrackingRender.DoesNotExist(_GONE.format(render.pk))
        default_storage.delete(name)
        stored = store_file(local_path=output, name=name)
    if not TrackingRender.objects.filter(pk=render.pk).update(
        file=stored, edits_applied=len(tracking_edits_active(run=run))
    ):
        delete_quietly(stored)  # deleted (with its run or project) while it was stored
        raise TrackingRender.DoesNotExist(_GONE.format(render.pk))
    return "Rendered"


# The shared runner takes the model's DoesNotExist as "what owned the job was deleted while
# it ran": it stops without a traceback, and nothing stays stored.
_GONE = "render {} was deleted while it ran"
