"""Celery tasks of the tracking app: take an id, let the service do the work."""

from __future__ import annotations

from celery import shared_task

from webapp.celery import QUEUE_DEFAULT, QUEUE_GPU, QUEUE_LIVE, queue_task_options

from .live_work import live_session_execute
from .render_work import tracking_render_execute
from .run_work import tracking_run_execute


@shared_task(name="tracking.tasks.tracking_run_execute", **queue_task_options(QUEUE_GPU))
def tracking_run_execute_task(run_id: int) -> None:
    tracking_run_execute(run_id=run_id)


@shared_task(name="tracking.tasks.tracking_render_execute", **queue_task_options(QUEUE_DEFAULT))
def tracking_render_execute_task(render_id: int) -> None:
    tracking_render_execute(render_id=render_id)


@shared_task(name="tracking.tasks.live_session_execute", **queue_task_options(QUEUE_LIVE))
def live_session_execute_task(session_id: int) -> None:
    live_session_execute(session_id=session_id)
