"""Celery tasks of the training app: take an id, let the service do the work."""

from __future__ import annotations

from celery import shared_task

from webapp.celery import QUEUE_GPU, queue_task_options

from .training_work import training_job_execute


@shared_task(name="training.tasks.training_job_run", **queue_task_options(QUEUE_GPU))
def training_job_run(job_id: int) -> None:
    training_job_execute(job_id=job_id)
