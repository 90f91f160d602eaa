"""The labeling app's background job kinds, each declared once (see :mod:`webapp.jobs`).

Every app keeps its kinds in ``<app>/jobs.py``: one place lists what the app runs in the
background, with its model, Celery task and queue; the work functions stay beside the
code they use (``videos/sampling_services.py``, ``datasets/job_services.py``...).
"""

from __future__ import annotations

from webapp.celery import QUEUE_DEFAULT
from webapp.jobs import JobKind

from .models import FrameSamplingJob
from .videos import sampling_services

FRAME_SAMPLING = JobKind(
    name="sampling job",
    model=FrameSamplingJob,
    task="labeling.tasks.frame_sampling_run",
    queue=QUEUE_DEFAULT,
    work=sampling_services.sampling_job_work,
    cancelled=sampling_services.sampling_job_stopped,
    not_done=sampling_services.sampling_job_stopped,
    after=sampling_services.sampling_job_after,
)
