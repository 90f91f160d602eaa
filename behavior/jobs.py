"""The behaviour app's background job kind, declared once (see :mod:`webapp.jobs`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from tracking.jobs import RUN_ENDINGS
from webapp.celery import QUEUE_DEFAULT
from webapp.jobs import JobKind

from .core.errors import BehaviorInputError
from .freezing import freezing_work
from .models import FreezingJob

FREEZING = JobKind(
    name="freezing job",
    model=FreezingJob,
    # The task keeps the name it had in the tracking app (see behavior.tasks).
    task="tracking.tasks.freezing_job_execute",
    queue=QUEUE_DEFAULT,
    work=freezing_work.freezing_job_work,
    failures=(BehaviorInputError, ValidationError),
    **RUN_ENDINGS,
)
