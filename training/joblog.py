"""A training job's log tail: its last lines, each stamped with the time, shown on its page.

Written by the buttons (:mod:`training.services`) and by the run on the worker
(:mod:`training.training_work`, which keeps its own copy of the lines while it runs).
"""

from __future__ import annotations

from django.utils import timezone

from .models import TrainingJob

LOG_TAIL_LINES = 200


def log_line(text: str) -> str:
    """``text`` as one line of the log tail (``HH:MM:SS text``)."""
    return f"{timezone.now():%H:%M:%S} {text}"


def log_lines_with(lines: list[str], text: str) -> list[str]:
    """``lines`` plus ``text``, cut to the last :data:`LOG_TAIL_LINES`."""
    return [*lines, log_line(text)][-LOG_TAIL_LINES:]


def training_job_log_append(*, job_id: int, text: str) -> None:
    """Add a line to the log tail of job ``job_id`` (nothing if the job is gone)."""
    job = TrainingJob.objects.filter(pk=job_id).only("log_tail").first()
    if job is None:
        return
    lines = log_lines_with(job.log_tail.splitlines(), text)
    TrainingJob.objects.filter(pk=job_id).update(log_tail="\n".join(lines))


def error_text(exc: BaseException) -> str:
    """``Type: message`` of an exception, as stored in a job's error or a model card."""
    return f"{type(exc).__name__}: {exc}".strip()[:4000]
