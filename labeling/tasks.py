"""Celery tasks of the labeling app: take an id, call the service."""

from celery import shared_task

from webapp.celery import QUEUE_DEFAULT, queue_task_options

from .videos.sampling_services import sampling_job_execute


@shared_task(name="labeling.tasks.frame_sampling_run", **queue_task_options(QUEUE_DEFAULT))
def frame_sampling_run(job_id: int) -> None:
    """Sample frames for one :class:`labeling.models.FrameSamplingJob` (idempotent)."""
    sampling_job_execute(job_id=job_id)
