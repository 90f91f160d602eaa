"""A chunked video upload is finished by a ``default``-queue job, not in the request.

Once every byte of a chunked upload is in, the request only checks the size and moves the
assembled file into media storage (a rename when scratch and media share a filesystem);
the strict probe, which reads a multi-GB recording through and could outlive gunicorn's
30 s worker timeout, runs in the worker through
:func:`labeling.videos.services.frame_source_upload`, exactly as a one-request upload's.
The browser follows the job (202, its ``url``) and sees the video, or the reason it was
refused.

No trace of a refused file: the job deletes the received bytes whatever the outcome, the
video service stores nothing it did not accept, and the upload's row goes with a failure
(the job's row stays as the record of what happened). A broker outage at dispatch puts the
bytes back and the upload in ``receiving`` (503): completing again needs no new upload.
The worker side is :mod:`labeling.videos.upload_work`.
"""

from __future__ import annotations

import shutil
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError

from webapp.jobs import BrokerUnavailable, job_dispatch
from webapp.models import TERMINAL_STATUSES, JobStatus
from webapp.storage import delete_quietly, local_copy, store_file

from ..models import ChunkedUpload, VideoUploadJob
from ..upload_jobs import upload_job_cancel, upload_job_drop_upload
from .chunked import part_path, upload_locked


def chunked_upload_complete(*, upload: ChunkedUpload, user) -> VideoUploadJob:
    """Queue the job that makes the assembled file a frame source, and return it
    (idempotent: a repeated call returns the upload's job). ValidationError names
    ``offset`` (bytes are still missing: send them and call again) or ``file`` (past the
    size limit: the upload is gone). :class:`labeling.videos.chunked.UploadBusy` while a
    chunk is being written; :class:`webapp.jobs.BrokerUnavailable` with the upload kept."""
    with upload_locked(upload) as path:
        upload.refresh_from_db()
        if upload.status != ChunkedUpload.Status.RECEIVING:
            job = upload.jobs.order_by("-created_at", "-pk").first()
            if job is None:
                raise ValidationError({"upload": "This upload is already complete."})
            if job.status in TERMINAL_STATUSES and job.status != JobStatus.SUCCEEDED:
                # Its worker died (the stale check failed it): nothing may be left behind.
                video_upload_job_forget(job=job)
            return job
        if upload.offset != upload.size or path.stat().st_size != upload.size:
            raise ValidationError(
                {"offset": f"{upload.offset} of {upload.size} bytes received; send the rest."}
            )
        limit = int(settings.MAX_UPLOAD_BYTES)
        if upload.size > limit:  # the limit may have been lowered since the upload began
            path.unlink(missing_ok=True)
            upload.delete()
            raise ValidationError(
                {"file": f"The file is larger than the limit of {limit / 1024**3:.1f} GB."}
            )
        stored = store_file(
            local_path=path,
            # No extension FFmpeg knows (".bin" is a demuxer of its own): the probe must go by
            # the contents alone, as for the partial file it was.
            name=f"imports/{upload.project_id}/upload-{uuid.uuid4().hex}.part",
            move=True,
        )
        path.unlink(missing_ok=True)  # a copy (other filesystem) leaves the original
        try:
            job = VideoUploadJob.objects.create(
                project=upload.project,
                chunked_upload=upload,
                upload=stored,
                upload_bytes=upload.size,
                source_name=upload.file_name,
                sample_every=upload.sample_every,
                created_by=user,
                message="Checking… (waiting for a worker to decode the video)",
            )
        except BaseException:
            delete_quietly(stored)
            upload.delete()
            raise
        ChunkedUpload.objects.filter(pk=upload.pk).update(status=ChunkedUpload.Status.CHECKING)
        upload.status = ChunkedUpload.Status.CHECKING
    try:
        from ..tasks import video_upload_run

        job_dispatch(job=job, task=video_upload_run)
    except BrokerUnavailable:
        _bytes_back(upload=upload, stored=stored)
        raise
    return job


def _bytes_back(*, upload: ChunkedUpload, stored: str) -> None:
    """The broker is down: the received bytes return to the upload's partial file and it
    is ``receiving`` again, so the person completes it later without sending it again."""
    with upload_locked(upload) as part:
        try:
            with local_copy(stored) as path:
                shutil.move(path, part)  # a rename back when storage is local
        finally:
            delete_quietly(stored)
        ChunkedUpload.objects.filter(pk=upload.pk).update(status=ChunkedUpload.Status.RECEIVING)
        upload.status = ChunkedUpload.Status.RECEIVING


def video_upload_job_cancel(*, job: VideoUploadJob) -> VideoUploadJob:
    job = upload_job_cancel(job=job)
    if job.status in TERMINAL_STATUSES and job.status != JobStatus.SUCCEEDED:
        video_upload_job_forget(job=job)
    return job


def video_upload_job_forget(*, job: VideoUploadJob) -> None:
    """A file that did not become a video leaves no upload behind (bytes or row)."""
    upload_job_drop_upload(job=job)
    if job.chunked_upload_id:
        upload = ChunkedUpload.objects.filter(pk=job.chunked_upload_id).first()
        if upload is not None:
            part_path(upload).unlink(missing_ok=True)
            upload.delete()
