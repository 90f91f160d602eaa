"""Dataset imports and exports as ``default``-queue jobs.

The web request only receives and checks the upload (size while streaming, then the zip's
end record and whole directory: entry count, sizes, ratios, names); the worker does the
rest with :func:`labeling.datasets.importing.dataset_import`, which stays all or nothing:
a failed, cancelled or timed-out import stores no row and no file. The received zip sits in
media storage (workers may run on other machines) and is deleted when the job ends.

An export job writes the zip with :func:`labeling.datasets.exporting.dataset_export` in the
worker's scratch space (image by image, never the project in memory), stores it in media
storage and records it; the page then downloads it. Only the newest
:data:`EXPORTS_KEPT` finished exports of each member keep their file.

Both report progress through :class:`webapp.jobs` heartbeats (throttled: each beat is two
queries) and stop at the next beat once cancelled. Both are safe to run twice: the second
delivery finds the row claimed or finished (``job_claim``).

A worker killed while an import stores images (SIGKILL, out of memory, a lost machine) runs
no cleanup, so an import job stores its new images in a folder of its own,
``frames/{project}/imported/job-{id}/`` (:func:`import_job_folder`), and anything there
that no frame refers to is an orphan of a dead attempt: :func:`dataset_import_job_sweep`
deletes it when the stale check fails the job (``DatasetImportJob.after_stale_failure``)
and again before every attempt (a redelivery or a retry). The rows are written in one
transaction that first locks the job row and checks the job is still running, so an
attempt the stale check gave up on cannot write rows whose files the sweep removed. Such a
job keeps its received zip, and :func:`dataset_import_job_retry` runs it again. (The sweep,
the commit check and the retry live in :mod:`labeling.upload_jobs`, shared with image-set
jobs.) The worker side is :mod:`labeling.datasets.import_work` and
:mod:`labeling.datasets.export_work`.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from webapp.jobs import job_cancel, job_dispatch
from webapp.storage import delete_quietly, store_file

from ..models import DatasetExportJob, DatasetImportJob, Frame, Project
from ..upload_jobs import (
    upload_job_cancel,
    upload_job_dispatch,
    upload_job_retry,
    upload_job_retryable,
    upload_job_sweep,
)
from . import archives
from .exchange import AUTO, EXPORT_SPLITS, check_format, problem_messages
from .import_matching import imported_folder
from .importing import dataset_display_name, import_archive_limits

#: Finished exports of a project whose zip is kept (older ones' files are deleted).
EXPORTS_KEPT = 5


# --- import -----------------------------------------------------------------------------
def dataset_upload_check(*, path: Path) -> None:
    """What the request checks before queueing: a zip whose directory passes the import's
    archive limits (nothing is extracted). ValidationError on ``file``."""
    if not archives.is_zip(path):
        raise ValidationError({"file": "The dataset must be a zip archive."})
    try:
        with archives.open_checked_zip(path, import_archive_limits()):
            pass
    except archives.ArchiveError as exc:
        raise ValidationError(
            {"file": problem_messages([f"archive: {p}" for p in exc.problems])}
        ) from None


def dataset_import_job_create(
    *,
    project: Project,
    user,
    fmt: str,
    upload,
    source_name: str = "",
    create_missing_classes: bool = False,
) -> DatasetImportJob:
    """Check the received zip ``upload`` (a streamed upload, or a local ``Path``), move it
    into storage and record a QUEUED import; :func:`dataset_import_job_dispatch` sends it.
    ValidationError names the field; then nothing was stored."""
    check_format(fmt, allow_auto=True)
    path = Path(upload) if isinstance(upload, Path | str) else Path(upload.temporary_file_path())
    dataset_upload_check(path=path)
    size = path.stat().st_size
    name = f"imports/{project.pk}/{uuid.uuid4().hex}.zip"
    if isinstance(upload, Path | str):
        stored = store_file(local_path=path, name=name)
    else:
        # A streamed upload is moved (not copied) by filesystem storage.
        stored = default_storage.save(name, upload)
    try:
        return DatasetImportJob.objects.create(
            project=project,
            fmt=fmt,
            upload=stored,
            upload_bytes=size,
            source_name=dataset_display_name(source_name or path.name),
            create_missing_classes=create_missing_classes,
            created_by=user,
        )
    except BaseException:
        delete_quietly(stored)
        raise


def dataset_import_job_dispatch(*, job: DatasetImportJob) -> None:
    upload_job_dispatch(job=job, task=_import_task())


def dataset_import_job_start(**kwargs) -> DatasetImportJob:
    job = dataset_import_job_create(**kwargs)
    dataset_import_job_dispatch(job=job)
    return job


def dataset_import_job_cancel(*, job: DatasetImportJob) -> DatasetImportJob:
    return upload_job_cancel(job=job)


def dataset_import_job_retryable(*, job: DatasetImportJob) -> bool:
    return upload_job_retryable(job=job)


def dataset_import_job_retry(*, job: DatasetImportJob) -> DatasetImportJob:
    """Queue an import whose worker died again (it still holds its received zip); what the
    dead attempt stored is swept first. ValidationError (``status``) for a job that did not
    end that way."""
    return upload_job_retry(
        job=job, task=_import_task(), what="import", again="upload the dataset again"
    )


def _import_task():
    from ..tasks import dataset_import_run  # the task module imports this one

    return dataset_import_run


def import_job_folder(job: DatasetImportJob) -> str:
    """The storage folder of the images ``job`` stores (nothing else is ever there)."""
    return f"{imported_folder(job.project)}/job-{job.pk}"


def dataset_import_job_sweep(*, job: DatasetImportJob) -> int:
    """Delete the files in ``job``'s folder that no frame refers to (what an attempt killed
    before its rows were written left); return how many. Frames an attempt did write keep
    their files."""
    folder = import_job_folder(job)
    kept = Frame.all_objects.filter(image__startswith=f"{folder}/").values_list("image", flat=True)
    return upload_job_sweep(job=job, folder=folder, kept=kept)


# --- export -----------------------------------------------------------------------------
def dataset_export_job_create(
    *, project: Project, user, fmt: str, split: str = "", include_unlabeled: bool = False
) -> DatasetExportJob:
    """Record a QUEUED export; ValidationError names a bad ``format`` or ``split``, or says
    there is nothing to export."""
    check_format(fmt, allow_auto=False)
    if split in ("all", None):
        split = ""
    if split and split not in EXPORT_SPLITS:
        raise ValidationError({"split": f"Split must be one of {', '.join(EXPORT_SPLITS)}."})
    return DatasetExportJob.objects.create(
        project=project,
        fmt=fmt,
        split=split,
        include_unlabeled=include_unlabeled,
        created_by=user,
    )


def dataset_export_job_dispatch(*, job: DatasetExportJob) -> None:
    from ..tasks import dataset_export_run

    job_dispatch(job=job, task=dataset_export_run)


def dataset_export_job_start(**kwargs) -> DatasetExportJob:
    job = dataset_export_job_create(**kwargs)
    dataset_export_job_dispatch(job=job)
    return job


def dataset_export_job_cancel(*, job: DatasetExportJob) -> DatasetExportJob:
    return job_cancel(job=job)


def dataset_exports_prune(*, project_id: int) -> None:
    """Delete the zips of a project's finished exports beyond the newest
    :data:`EXPORTS_KEPT` of each person: counted per person, so one member's exports never
    push out another member's finished one (whose download would then 404)."""
    finished = DatasetExportJob.objects.filter(project_id=project_id).exclude(file="")
    rows = finished.order_by("-created_at", "-id").values_list("pk", "file", "created_by_id")
    seen: dict[int | None, int] = {}
    old = []
    for pk, name, creator in rows:
        seen[creator] = seen.get(creator, 0) + 1
        if seen[creator] > EXPORTS_KEPT:
            old.append((pk, name))
    if old:
        delete_quietly(*(name for _, name in old))
        DatasetExportJob.objects.filter(pk__in=[pk for pk, _ in old]).update(file="")


def dataset_export_job_delete_file(*, job: DatasetExportJob) -> None:
    delete_quietly(job.file.name if job.file else "")
    DatasetExportJob.objects.filter(pk=job.pk).update(file="")


__all__ = [
    "AUTO",
    "dataset_export_job_cancel",
    "dataset_export_job_create",
    "dataset_export_job_dispatch",
    "dataset_export_job_start",
    "dataset_exports_prune",
    "dataset_import_job_cancel",
    "dataset_import_job_create",
    "dataset_import_job_dispatch",
    "dataset_import_job_retry",
    "dataset_import_job_retryable",
    "dataset_import_job_start",
    "dataset_import_job_sweep",
    "dataset_upload_check",
]
