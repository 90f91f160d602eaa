"""Zips of images become image sets on the ``default`` queue.

The request only receives the zip and checks its directory with the image-set limits
(entry count, sizes, ratios, names: :func:`labeling.videos.imagesets._archive_limits`);
the worker extracts it and decodes every image with
:func:`labeling.videos.services.imageset_upload`, which stays all or nothing. The received
zip sits in media storage until the job ends.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from webapp.jobs import (
    JobCancelled,
    job_claim,
    job_finish,
    job_heartbeat,
)
from webapp.models import TERMINAL_STATUSES, JobStatus
from webapp.storage import delete_quietly, local_copy, store_file

from ..datasets import archives
from ..datasets.job_services import _Beats, _error_text, keep_alive
from ..models import ImageSetImportJob, Project
from ..upload_jobs import upload_job_cancel, upload_job_dispatch, upload_job_drop_upload
from . import imagesets
from .services import IncomingFile, display_name, imageset_upload

log = logging.getLogger(__name__)


def imageset_zip_check(*, path: Path) -> None:
    """The zip's end record and directory against the image-set limits (nothing is
    extracted); ValidationError on ``file``."""
    limits = imagesets._archive_limits(imagesets.ImageSetLimits())
    try:
        with archives.open_checked_zip(path, limits):
            pass
    except archives.ArchiveError as exc:
        problems = "; ".join(exc.problems[:10])
        raise ValidationError({"file": f"Not a usable image set: {problems}."}) from None


def imageset_job_create(*, project: Project, user, path: Path, name: str, upload=None):
    """Check the zip at ``path`` and record a QUEUED job; ``upload`` (a streamed upload
    of that file) is moved into storage instead of copied when given."""
    imageset_zip_check(path=path)
    size = path.stat().st_size
    stored_name = f"imports/{project.pk}/set-{uuid.uuid4().hex}.zip"
    if upload is not None:
        stored = default_storage.save(stored_name, upload)
    else:
        stored = store_file(local_path=path, name=stored_name)
    try:
        return ImageSetImportJob.objects.create(
            project=project,
            upload=stored,
            upload_bytes=size,
            source_name=display_name(name),
            created_by=user,
        )
    except BaseException:
        delete_quietly(stored)
        raise


def imageset_job_dispatch(*, job: ImageSetImportJob) -> None:
    from ..tasks import imageset_import_run

    upload_job_dispatch(job=job, task=imageset_import_run)


def imageset_job_start(**kwargs) -> ImageSetImportJob:
    job = imageset_job_create(**kwargs)
    imageset_job_dispatch(job=job)
    return job


def imageset_job_cancel(*, job: ImageSetImportJob) -> ImageSetImportJob:
    return upload_job_cancel(job=job)


def _drop_upload(job: ImageSetImportJob) -> None:
    upload_job_drop_upload(job=job)


def imageset_job_execute(*, job_id: int) -> None:
    job = job_claim(model=ImageSetImportJob, job_id=job_id)
    if job is None:
        return
    beats = _Beats(job, {"storing": (0.3, 0.99)})
    try:
        job_heartbeat(job=job, progress=0.0, message="Unpacking and checking every image…")
        try:
            with keep_alive(job), local_copy(job.upload.name, suffix=".zip") as path:
                video = imageset_upload(
                    project=job.project,
                    user=job.created_by,
                    files=[IncomingFile(path=path, name=job.source_name, size=job.upload_bytes)],
                    progress=lambda done, total: beats("storing", done, total),
                )
        finally:
            _drop_upload(job)  # before the job shows as ended; a killed worker keeps it
        ImageSetImportJob.objects.filter(pk=job.pk).update(video=video)
        job_finish(
            job=job,
            status=JobStatus.SUCCEEDED,
            message=f"Image set added: {video.frame_count} frames.",
        )
    except JobCancelled:
        job_finish(job=job, status=JobStatus.CANCELLED, message="Cancelled; nothing was added.")
    except SoftTimeLimitExceeded:
        job_finish(job=job, status=JobStatus.TIMED_OUT, error="The job ran past the time limit.")
    except ValidationError as exc:
        job_finish(job=job, status=JobStatus.FAILED, error=_error_text(exc))
    except ImageSetImportJob.DoesNotExist:
        return
    except Exception as exc:
        log.exception("image set job %s failed", job.pk)
        job_finish(job=job, status=JobStatus.FAILED, error=f"Unexpected error: {exc}")
    finally:
        if ImageSetImportJob.objects.filter(pk=job.pk, status__in=TERMINAL_STATUSES).exists():
            _drop_upload(job)
