"""The assisted app's background job kinds, each declared once (see :mod:`webapp.jobs`).

A pre-label job is one model with two tasks: the bootstrap (no model: the ``default``
queue) and a trained model (the ``gpu`` queue); both kinds share the work function.
"""

from __future__ import annotations

from dataclasses import replace

from webapp.celery import QUEUE_DEFAULT, QUEUE_GPU
from webapp.jobs import JobKind

from . import hardframe_work, prelabel_work
from .models import HardFrameJob, PrelabelJob

PRELABEL_BOOTSTRAP = JobKind(
    name="pre-label job",
    model=PrelabelJob,
    task="assisted.tasks.prelabel_bootstrap_run",
    queue=QUEUE_DEFAULT,
    work=prelabel_work.prelabel_job_work,
    cancelled="Stopped.",
    after=prelabel_work.prelabel_job_after,
)

# The same kind with a trained model: its own task, on the GPU queue.
PRELABEL_MODEL = replace(
    PRELABEL_BOOTSTRAP, task="assisted.tasks.prelabel_model_run", queue=QUEUE_GPU
)

HARD_FRAMES = JobKind(
    name="hard-frame job",
    model=HardFrameJob,
    task="assisted.tasks.hard_frames_run",
    queue=QUEUE_DEFAULT,
    work=hardframe_work.hard_frames_job_work,
    cancelled="Stopped.",
)
