"""The worker side of image-set jobs (:data:`labeling.jobs.IMAGESET_IMPORT`): extract the
received zip and decode every image with :func:`labeling.videos.services.imageset_upload`
(all or nothing), into the job's own folders; the rows' transaction first checks the job
still runs and records its video. Creating, retrying and sweeping a job is
:mod:`labeling.videos.imageset_services`.
"""

from __future__ import annotations

from webapp.jobs import JobRun, job_run, keep_alive
from webapp.models import TERMINAL_STATUSES
from webapp.storage import local_copy

from ..models import ImageSetImportJob, Video
from ..upload_jobs import upload_job_drop_upload, upload_job_still_running
from .imageset_services import imageset_job_folders, imageset_job_sweep
from .services import IncomingFile, imageset_upload


def _commit_guard(job: ImageSetImportJob):
    """Inside the rows' transaction: stop unless ``job`` still runs, then record its video
    (with the rows: a retry of an attempt killed after its commit only finishes it)."""
    still_running = upload_job_still_running(job)

    def check(video: Video) -> None:
        still_running()
        ImageSetImportJob.objects.filter(pk=job.pk).update(video=video)

    return check


def imageset_job_execute(*, job_id: int) -> None:
    """Run an image-set job in a worker (:data:`labeling.jobs.IMAGESET_IMPORT`)."""
    from ..jobs import IMAGESET_IMPORT  # the kinds module imports this one

    job_run(IMAGESET_IMPORT, job_id=job_id)


def imageset_job_work(run: JobRun) -> str:
    job = run.job
    video = job.video
    if video is None:
        imageset_job_sweep(job=job)  # what an earlier, killed attempt left
        video = _make_set(job, run)
    else:
        upload_job_drop_upload(job=job)  # an earlier attempt wrote the rows, then was killed
    return f"Image set added: {video.frame_count} frames."


def imageset_job_after(run: JobRun) -> None:
    """However the attempt ended: an ended job keeps no received zip."""
    if ImageSetImportJob.objects.filter(pk=run.job.pk, status__in=TERMINAL_STATUSES).exists():
        upload_job_drop_upload(job=run.job)


def _make_set(job: ImageSetImportJob, run: JobRun) -> Video:
    run.beat(progress=0.0, message="Unpacking and checking every image…", force=True)
    storing = run.stages({"storing": (0.3, 0.99)}, {"storing": "Storing image"})
    try:
        with keep_alive(job), local_copy(job.upload.name, suffix=".zip") as path:
            return imageset_upload(
                project=job.project,
                user=job.created_by,
                files=[IncomingFile(path=path, name=job.source_name, size=job.upload_bytes)],
                progress=lambda done, total: storing("storing", done, total),
                store_folders=imageset_job_folders(job),
                before_commit=_commit_guard(job),
            )
    finally:
        upload_job_drop_upload(job=job)  # before the job shows as ended; a killed worker keeps it
