"""The evaluation app's background job kind, declared once (see :mod:`webapp.jobs`)."""

from __future__ import annotations

from webapp.celery import QUEUE_GPU
from webapp.jobs import JobKind

from . import execution
from .models import EvaluationRun

EVALUATION = JobKind(
    name="evaluation run",
    model=EvaluationRun,
    task="evaluation.tasks.evaluation_run_task",
    queue=QUEUE_GPU,
    work=execution.evaluation_run_work,
    failures=(execution.EvaluationError,),
    on_stop=execution.evaluation_run_abandon,
    after=execution.evaluation_run_after,
)
