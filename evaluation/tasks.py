"""Celery tasks of the evaluation app: take an id, call the service."""

from celery import shared_task

from webapp.celery import QUEUE_GPU, queue_task_options

from .evaluation_work import evaluation_run_execute


@shared_task(name="evaluation.tasks.evaluation_run_task", **queue_task_options(QUEUE_GPU))
def evaluation_run_task(run_id: int) -> None:
    """Run one :class:`evaluation.models.EvaluationRun` (idempotent: the service claims it)."""
    evaluation_run_execute(run_id=run_id)
