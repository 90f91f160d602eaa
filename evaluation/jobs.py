"""The evaluation app's background job kind, declared once (see :mod:`webapp.jobs`)."""

from __future__ import annotations

from webapp.celery import QUEUE_GPU
from webapp.jobs import JobKind

from . import evaluation_work
from .models import EvaluationRun

EVALUATION = JobKind(
    name="evaluation run",
    model=EvaluationRun,
    task="evaluation.tasks.evaluation_run_task",
    queue=QUEUE_GPU,
    work=evaluation_work.evaluation_run_work,
    failures=(evaluation_work.EvaluationError,),
    on_stop=evaluation_work.evaluation_run_abandon,
    after=evaluation_work.evaluation_run_after,
)
