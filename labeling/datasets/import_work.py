"""The worker side of dataset imports (:data:`labeling.jobs.DATASET_IMPORT`): import the
received zip with :func:`labeling.datasets.importing.dataset_import` (all or nothing) into
the job's own folder, after sweeping what a killed attempt left there. Creating, retrying
and sweeping a job is :mod:`labeling.datasets.job_services`.
"""

from __future__ import annotations

from webapp.jobs import JobRun, job_run, keep_alive
from webapp.models import TERMINAL_STATUSES
from webapp.storage import local_copy

from ..models import DatasetImportJob
from ..upload_jobs import upload_job_drop_upload, upload_job_still_running
from .importing import ImportResult, dataset_import
from .job_services import dataset_import_job_sweep, import_job_folder

#: How an import's stages share its progress bar (checking every image dominates).
_IMPORT_STAGES = {
    "unpacking": (0.0, 0.05),
    "checking": (0.05, 0.7),
    "storing": (0.7, 0.97),
    "saving": (0.97, 0.99),
}
_STAGE_WORDS = {
    "unpacking": "Unpacking",
    "checking": "Checking image",
    "storing": "Storing image",
    "saving": "Saving the rows of",
}


def _import_summary(result: ImportResult) -> str:
    parts = [
        f"{result.frames_created} new frames",
        f"{result.frames_updated} updated",
        f"{result.frames_unchanged} unchanged",
    ]
    if result.frames_left_unlabeled:
        parts.append(f"{result.frames_left_unlabeled} left unlabeled")
    text = (
        f"Imported {result.images} images ({result.fmt.upper()}): {', '.join(parts)}; "
        f"{result.boxes} boxes."
    )
    if result.classes_created:
        text += f" New classes: {', '.join(result.classes_created)}."
    if result.layout:
        text += f" Layout: {result.layout}."
    for warning in result.warnings:
        text += f" Note: {warning}."
    return text


def dataset_import_job_execute(*, job_id: int) -> None:
    """Run an import job in a worker (:data:`labeling.jobs.DATASET_IMPORT`)."""
    from ..jobs import DATASET_IMPORT  # the kinds module imports this one

    job_run(DATASET_IMPORT, job_id=job_id)


def dataset_import_job_work(run: JobRun) -> str:
    """Import the received zip (see the module docstring); the success message."""
    job = run.job
    dataset_import_job_sweep(job=job)  # what an earlier, killed attempt left
    run.beat(progress=0.0, message="Unpacking…", force=True)
    try:
        with keep_alive(job), local_copy(job.upload.name, suffix=".zip") as path:
            result = dataset_import(
                project=job.project,
                fmt=job.fmt,
                path=path,
                created_by=job.created_by,
                create_missing_classes=job.create_missing_classes,
                source_name=job.source_name,
                progress=run.stages(_IMPORT_STAGES, _STAGE_WORDS),
                store_folder=import_job_folder(job),
                before_commit=upload_job_still_running(job),
            )
    finally:
        # Before the job shows as ended (a killed worker skips this, and a redelivery
        # then still finds the zip).
        upload_job_drop_upload(job=job)
    payload = {
        "format": result.fmt,
        "images": result.images,
        "frames_created": result.frames_created,
        "frames_updated": result.frames_updated,
        "frames_unchanged": result.frames_unchanged,
        "frames_left_unlabeled": result.frames_left_unlabeled,
        "boxes": result.boxes,
        "classes_created": list(result.classes_created),
        "imageset_id": result.imageset_id,
        "layout": result.layout,
        "warnings": list(result.warnings),
    }
    DatasetImportJob.objects.filter(pk=job.pk).update(result=payload)
    return _import_summary(result)


def dataset_import_job_after(run: JobRun) -> None:
    """However the attempt ended: an ended job keeps no received zip."""
    if DatasetImportJob.objects.filter(pk=run.job.pk, status__in=TERMINAL_STATUSES).exists():
        upload_job_drop_upload(job=run.job)
