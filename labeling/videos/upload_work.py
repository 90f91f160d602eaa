"""The worker side of a chunked video upload (:data:`labeling.jobs.VIDEO_UPLOAD`): the
strict probe of the received file through
:func:`labeling.videos.services.frame_source_upload`, which could outlive gunicorn's
timeout in a request. The outcome is all or nothing: a refused file leaves no bytes and no
upload row, a video made before a cancel goes again. Completing an upload (what the
request does) is :mod:`labeling.videos.chunked_services`.
"""

from __future__ import annotations

from webapp.jobs import JobRun, job_finish, job_run, keep_alive
from webapp.models import TERMINAL_STATUSES, JobStatus
from webapp.storage import local_copy

from ..models import ChunkedUpload, VideoUploadJob
from ..upload_jobs import upload_job_drop_upload
from .chunked_services import video_upload_job_forget
from .sampling_services import sampling_job_start_after_upload
from .services import IncomingFile, frame_source_upload, video_delete

#: Progress shown for each step (the probe has no progress of its own: it runs in the
#: sandbox child and says nothing until it is done).
_STEPS = {
    "checking": (0.05, "Checking the video (decoding it)…"),
    "storing": (0.85, "Storing the video and making its thumbnail…"),
}


def video_upload_job_execute(*, job_id: int) -> None:
    """Run a chunked upload's check in a worker (:data:`labeling.jobs.VIDEO_UPLOAD`)."""
    from ..jobs import VIDEO_UPLOAD  # the kinds module imports this one

    job_run(VIDEO_UPLOAD, job_id=job_id)


def video_upload_job_work(run: JobRun) -> str | None:
    """Decode-check the received file and make it a video (all or nothing)."""
    job = run.job

    def step(name: str) -> None:
        progress, message = _STEPS[name]
        run.beat(progress=progress, message=message, force=True)

    step("checking")
    try:
        with keep_alive(job), local_copy(job.upload.name) as path:
            incoming = IncomingFile(path=path, name=job.source_name, size=job.upload_bytes)
            run.state["video"] = frame_source_upload(
                project=job.project,
                user=job.created_by,
                files=[incoming],
                move=True,
                on_step=step,
            )
    finally:
        upload_job_drop_upload(job=job)  # moved into the video, or refused: gone
    _added(job, run.state["video"])
    return None  # _added finished it


def video_upload_job_undo(run: JobRun) -> None:
    """A video made before the job failed (it was cancelled or its row vanished while
    finishing) goes again: the job's outcome is all or nothing."""
    _undo(run.state.get("video"))


def video_upload_job_after(run: JobRun) -> None:
    ended = VideoUploadJob.objects.filter(pk=run.job.pk, status__in=TERMINAL_STATUSES)
    if ended.exclude(status=JobStatus.SUCCEEDED).exists():
        video_upload_job_forget(job=run.job)


def _added(job: VideoUploadJob, video) -> None:
    """Record the video on the job and the upload, start sampling if asked, finish."""
    VideoUploadJob.objects.filter(pk=job.pk).update(video=video)
    if job.chunked_upload_id:
        ChunkedUpload.objects.filter(pk=job.chunked_upload_id).update(
            status=ChunkedUpload.Status.COMPLETE, video=video
        )
    sampling, error = sampling_job_start_after_upload(
        video=video, user=job.created_by, seconds=job.sample_every
    )
    VideoUploadJob.objects.filter(pk=job.pk).update(
        sampling_job=sampling, sampling_error=(error or "")[:500]
    )
    size = f"{video.width}×{video.height}, {video.frame_count} frames"
    job_finish(job=job, status=JobStatus.SUCCEEDED, message=f"Added ({size}).")


def _undo(video) -> None:
    """A video made before the job failed (it was cancelled or its row vanished while
    finishing) goes again: the job's outcome is all or nothing."""
    if video is not None:
        video_delete(video=video)
