"""Celery tasks of the labeling app: take an id, call the service."""

from celery import shared_task

from webapp.celery import QUEUE_DEFAULT, queue_task_options

from .datasets.export_work import dataset_export_job_execute
from .datasets.import_work import dataset_import_job_execute
from .videos.imageset_work import imageset_job_execute
from .videos.sampling_work import sampling_job_execute
from .videos.upload_work import video_upload_job_execute


@shared_task(name="labeling.tasks.frame_sampling_run", **queue_task_options(QUEUE_DEFAULT))
def frame_sampling_run(job_id: int) -> None:
    """Sample frames for one :class:`labeling.models.FrameSamplingJob` (idempotent)."""
    sampling_job_execute(job_id=job_id)


@shared_task(name="labeling.tasks.dataset_import_run", **queue_task_options(QUEUE_DEFAULT))
def dataset_import_run(job_id: int) -> None:
    """Import one :class:`labeling.models.DatasetImportJob` (idempotent, all or nothing)."""
    dataset_import_job_execute(job_id=job_id)


@shared_task(name="labeling.tasks.dataset_export_run", **queue_task_options(QUEUE_DEFAULT))
def dataset_export_run(job_id: int) -> None:
    """Write one :class:`labeling.models.DatasetExportJob`'s zip (idempotent)."""
    dataset_export_job_execute(job_id=job_id)


@shared_task(name="labeling.tasks.imageset_import_run", **queue_task_options(QUEUE_DEFAULT))
def imageset_import_run(job_id: int) -> None:
    """Make one :class:`labeling.models.ImageSetImportJob`'s image set (idempotent)."""
    imageset_job_execute(job_id=job_id)


@shared_task(name="labeling.tasks.video_upload_run", **queue_task_options(QUEUE_DEFAULT))
def video_upload_run(job_id: int) -> None:
    """Check and store one :class:`labeling.models.VideoUploadJob`'s video (idempotent)."""
    video_upload_job_execute(job_id=job_id)
