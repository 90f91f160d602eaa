"""The training app's background job kind, declared once (see :mod:`webapp.jobs`).

What is training's own stays in :mod:`training.training_work`: resuming from the stored
checkpoint, the heartbeat thread while Ultralytics holds the main one, registering the
best weights (also of a cancelled or timed-out job) and queueing the evaluation. A lost
job resumes automatically (``TrainingJob.resume_task``).
"""

from __future__ import annotations

from webapp.celery import QUEUE_GPU
from webapp.jobs import JobKind

from . import training_work
from .joblog import error_text
from .models import TrainingJob

TRAINING = JobKind(
    name="training job",
    model=TrainingJob,
    task="training.tasks.training_job_run",
    queue=QUEUE_GPU,
    work=training_work.training_job_work,
    failures=(),  # every failure reads as error_text writes it, with its log line
    cancelled="Cancelled",
    not_done=training_work.training_job_stopped_message,
    on_stop=training_work.training_job_stopped,
    after=training_work.training_job_after,
    explain=error_text,
    timed_out_note="; Retry resumes from the checkpoint",
)
