"""Celery tasks of assisted labeling: take an id, call the service."""

from celery import shared_task

from webapp.celery import QUEUE_DEFAULT, QUEUE_GPU, queue_task_options

from .prelabel_work import prelabel_job_execute


@shared_task(name="assisted.tasks.prelabel_bootstrap_run", **queue_task_options(QUEUE_DEFAULT))
def prelabel_bootstrap_run(job_id: int) -> None:
    """Background-bootstrap proposals for one :class:`assisted.models.PrelabelJob`."""
    prelabel_job_execute(job_id=job_id)


@shared_task(name="assisted.tasks.prelabel_model_run", **queue_task_options(QUEUE_GPU))
def prelabel_model_run(job_id: int) -> None:
    """A registered model's proposals for one :class:`assisted.models.PrelabelJob`."""
    prelabel_job_execute(job_id=job_id)


@shared_task(name="assisted.tasks.hard_frames_run", **queue_task_options(QUEUE_DEFAULT))
def hard_frames_run(job_id: int) -> None:
    """Add the hard frames of one :class:`assisted.models.HardFrameJob` to labeling."""
    from .hardframe_work import hard_frames_job_execute

    hard_frames_job_execute(job_id=job_id)
