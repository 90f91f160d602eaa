"""Zips of images become image sets on the ``default`` queue.

The request only receives the zip and checks its directory with the image-set limits
(entry count, sizes, ratios, names: :func:`labeling.videos.imagesets.archive_limits`);
the worker extracts it and decodes every image with
:func:`labeling.videos.services.imageset_upload`, which stays all or nothing. The received
zip sits in media storage until the job ends (unless its worker died: then it stays for
:func:`imageset_job_retry`).

A worker killed while it stores the set's images leaves them behind (the Video and Frame
rows are written in one transaction at the end, so there is no half-made row). So a job
stores into folders of its own, ``frames/{project}/set-job-{id}/`` and
``thumbnails/{project}/set-job-{id}/`` (:func:`imageset_job_folders`), and
:func:`imageset_job_sweep` deletes what no row refers to there when the stale check fails
the job (``ImageSetImportJob.after_stale_failure``) and before every attempt. The rows'
transaction first checks the job still runs and records its video, so an attempt killed
after the commit is not made twice by a retry. See :mod:`labeling.upload_jobs`; the worker
side is :mod:`labeling.videos.imageset_work`.
"""

from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from webapp.storage import delete_quietly, scratch_workdir, store_file

from ..datasets import archives
from ..models import Frame, ImageSetImportJob, Project, Video
from ..upload_jobs import (
    upload_job_cancel,
    upload_job_dispatch,
    upload_job_retry,
    upload_job_retryable,
    upload_job_sweep,
)
from . import imagesets
from .services import IncomingFile, display_name


def imageset_zip_check(*, path: Path) -> None:
    """The zip's end record and directory against the image-set limits (nothing is
    extracted); ValidationError on ``file``."""
    limits = imagesets.archive_limits(imagesets.ImageSetLimits())
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


def imageset_job_start_for_images(
    *, project: Project, user, files: list[IncomingFile]
) -> ImageSetImportJob:
    """Loose image files posted together, made one image set by a job as a zip of them
    would be: the request checks their count, names and sizes (ValidationError on
    ``file``) and packs them, stored, into a zip under their names; the job decodes them."""
    names = [display_name(f.name) for f in files]
    problems = imagesets.image_files_problems([f.path for f in files], names=names)
    if problems:
        shown = "; ".join(problems[:10])
        raise ValidationError({"file": f"Not a usable image set: {shown}."})
    work = scratch_workdir("imagesets", "loose-")
    try:
        path = work / "images.zip"
        with zipfile.ZipFile(path, "x", allowZip64=True) as zf:
            for name, incoming in zip(names, files, strict=True):
                zf.write(incoming.path, name, compress_type=zipfile.ZIP_STORED)
        name = names[0] if len(files) == 1 else f"{len(files)} images"
        return imageset_job_start(project=project, user=user, path=path, name=name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def imageset_job_dispatch(*, job: ImageSetImportJob) -> None:
    upload_job_dispatch(job=job, task=_task())


def _task():
    from ..tasks import imageset_import_run  # the task module imports this one

    return imageset_import_run


def imageset_job_start(**kwargs) -> ImageSetImportJob:
    job = imageset_job_create(**kwargs)
    imageset_job_dispatch(job=job)
    return job


def imageset_job_cancel(*, job: ImageSetImportJob) -> ImageSetImportJob:
    return upload_job_cancel(job=job)


def imageset_job_retryable(*, job: ImageSetImportJob) -> bool:
    return upload_job_retryable(job=job, needs_upload=job.video_id is None)


def imageset_job_retry(*, job: ImageSetImportJob) -> ImageSetImportJob:
    """Queue an image-set job whose worker died again (it still holds its received zip, or
    it had already written its set's rows); ValidationError (``status``) for a job that did
    not end that way."""
    return upload_job_retry(
        job=job,
        task=_task(),
        what="image set import",
        again="upload the zip again",
        needs_upload=job.video_id is None,
    )


def imageset_job_folders(job: ImageSetImportJob) -> tuple[str, str]:
    """The storage folders of the images and of the thumbnail ``job`` stores (nothing else
    is ever there)."""
    return (
        f"frames/{job.project_id}/set-job-{job.pk}",
        f"thumbnails/{job.project_id}/set-job-{job.pk}",
    )


def imageset_job_sweep(*, job: ImageSetImportJob) -> int:
    """Delete the files in ``job``'s folders that no frame or image set refers to (what an
    attempt killed before its rows were written left); return how many."""
    images, thumbs = imageset_job_folders(job)
    kept_images = Frame.all_objects.filter(image__startswith=f"{images}/")
    kept_thumbs = Video.all_objects.filter(thumbnail__startswith=f"{thumbs}/")
    return upload_job_sweep(
        job=job, folder=images, kept=kept_images.values_list("image", flat=True)
    ) + upload_job_sweep(
        job=job, folder=thumbs, kept=kept_thumbs.values_list("thumbnail", flat=True)
    )
