"""Celery tasks of the behaviour app: take an id, let the service do the work."""

from __future__ import annotations

from celery import shared_task

from webapp.celery import QUEUE_DEFAULT, queue_task_options


# The name is the one the task had in the tracking app: messages already queued under it
# (and FreezingJob rows whose task id refers to it) stay valid across the move.
@shared_task(name="tracking.tasks.freezing_job_execute", **queue_task_options(QUEUE_DEFAULT))
def freezing_job_execute_task(job_id: int) -> None:
    # Imported here: the behaviour core pulls in SciPy, which the modules importing this
    # one (behavior.freezing.services, so the URLs) should not pay for.
    from .freezing.freezing_work import freezing_job_execute

    freezing_job_execute(job_id=job_id)
