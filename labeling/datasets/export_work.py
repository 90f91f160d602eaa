"""The worker side of dataset exports (:data:`labeling.jobs.DATASET_EXPORT`): write the zip
with :func:`labeling.datasets.exporting.dataset_export` in the worker's scratch space
(image by image, never the project in memory), store and record it, then prune old ones.
Creating and cancelling a job is :mod:`labeling.datasets.job_services`.
"""

from __future__ import annotations

import shutil
import uuid

from django.utils.text import slugify

from webapp.jobs import JobCancelled, JobRun, job_finish, job_run, keep_alive
from webapp.models import JobStatus
from webapp.storage import delete_quietly, scratch_workdir, store_file

from ..models import DatasetExportJob
from .exporting import dataset_export
from .job_services import dataset_exports_prune

_EXPORT_WORDS = {"writing": "Writing image"}


def _download_name(job: DatasetExportJob) -> str:
    parts = [slugify(job.project.name) or f"project-{job.project_id}", job.fmt]
    if job.split:
        parts.append(job.split)
    return "-".join(parts) + ".zip"


def dataset_export_job_execute(*, job_id: int) -> None:
    """Run an export job in a worker (:data:`labeling.jobs.DATASET_EXPORT`)."""
    from ..jobs import DATASET_EXPORT  # the kinds module imports this one

    job_run(DATASET_EXPORT, job_id=job_id)


def dataset_export_job_work(run: JobRun) -> str:
    """Write the zip in scratch space, store and record it; the success message."""
    job = run.job
    work = scratch_workdir("exports", "export-job-")
    stored = ""
    try:
        run.beat(progress=0.0, message="Reading the frames…", force=True)
        zip_path = work / "dataset.zip"
        with keep_alive(job):
            result = dataset_export(
                project=job.project,
                fmt=job.fmt,
                zip_path=zip_path,
                split=job.split or None,
                include_unlabeled=job.include_unlabeled,
                progress=run.stages({"writing": (0.0, 0.9)}, _EXPORT_WORDS),
            )
        run.beat(progress=0.95, message="Storing the zip…", force=True)
        size = zip_path.stat().st_size
        stored = store_file(
            local_path=zip_path,
            name=f"exports/{job.project_id}/{uuid.uuid4().hex}.zip",
            move=True,
        )
        updated = DatasetExportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            file=stored,
            file_bytes=size,
            download_name=_download_name(job),
            result={
                "images": result.images,
                "boxes": result.boxes,
                "negatives": result.negatives,
                "unlabeled": result.unlabeled,
            },
        )
        if not updated:
            raise JobCancelled()
        unlabeled = f", {result.unlabeled} unlabeled" if result.unlabeled else ""
        job_finish(
            job=job,
            status=JobStatus.SUCCEEDED,
            message=f"{result.images} images ({result.negatives} negatives{unlabeled}), "
            f"{result.boxes} boxes.",
        )
        stored = ""  # kept
        dataset_exports_prune(project_id=job.project_id)
    finally:
        delete_quietly(stored)
        shutil.rmtree(work, ignore_errors=True)
    return job.message
