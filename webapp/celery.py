"""The Celery app: queue names and per-queue limits are defined here and nowhere else.

``default`` takes CPU work (frame sampling, imports, exports); ``gpu`` takes training,
evaluation and whole-video inference. Start a GPU node's worker with
``celery -A webapp worker -Q gpu -c 1 --prefetch-multiplier 1``. ``live`` takes live
sessions and is consumed only on the machine the camera is plugged into
(``-Q live -c 1 --prefetch-multiplier 1``: one slot per camera).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

QUEUE_DEFAULT = "default"
QUEUE_GPU = "gpu"
QUEUE_LIVE = "live"
QUEUES = (QUEUE_DEFAULT, QUEUE_GPU, QUEUE_LIVE)

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = tuple(Queue(name, routing_key=name) for name in QUEUES)
app.conf.task_default_queue = QUEUE_DEFAULT


def route_by_declared_queue(name, args, kwargs, options, task=None, **kw):
    """Send each task to the queue it was declared for (see :func:`queue_task_options`)."""
    return {"queue": getattr(task, "mousetrack_queue", QUEUE_DEFAULT)}


app.conf.task_routes = (route_by_declared_queue,)
# How often the beat looks for jobs whose worker died (read from the environment: the beat's
# schedule is fixed when the app is made, before Django's settings exist).
STALE_CHECK_INTERVAL = max(1.0, float(os.environ.get("JOB_STALE_CHECK_INTERVAL", "60")))
app.conf.beat_schedule = {
    "fail-stale-jobs": {
        "task": "webapp.tasks.jobs_fail_stale",
        "schedule": STALE_CHECK_INTERVAL,
        "options": {"queue": QUEUE_DEFAULT, "expires": max(1.0, STALE_CHECK_INTERVAL - 5)},
    },
}
app.autodiscover_tasks()


def queue_task_options(queue: str) -> dict[str, Any]:
    """Options every task on ``queue`` is declared with (``@shared_task(**...)``).

    Tasks are idempotent (their services claim the row), so they may be acknowledged late
    and redelivered when a worker is lost.
    """
    from django.conf import settings

    if queue == QUEUE_GPU:
        soft, hard = settings.GPU_QUEUE_SOFT_TIME_LIMIT, settings.GPU_QUEUE_TIME_LIMIT
    elif queue == QUEUE_DEFAULT:
        soft, hard = settings.DEFAULT_QUEUE_SOFT_TIME_LIMIT, settings.DEFAULT_QUEUE_TIME_LIMIT
    elif queue == QUEUE_LIVE:
        # A live session is a trial in time: a lost worker's session is never delivered
        # again (it would be another trial, on a camera someone else may hold by then).
        return {
            "mousetrack_queue": queue,
            "acks_late": False,
            "reject_on_worker_lost": False,
            "soft_time_limit": settings.LIVE_QUEUE_SOFT_TIME_LIMIT,
            "time_limit": settings.LIVE_QUEUE_TIME_LIMIT,
        }
    else:
        raise ValueError(f"unknown queue {queue!r}; expected one of {QUEUES}")
    return {
        "mousetrack_queue": queue,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "soft_time_limit": soft,
        "time_limit": hard,
    }


# Registers the workers' ``mousetrack_devices`` inspect command and their GPU probe.
from . import worker_devices  # noqa: E402,F401
from .worker_sweep import ScratchSweep  # noqa: E402

app.steps["worker"].add(ScratchSweep)
