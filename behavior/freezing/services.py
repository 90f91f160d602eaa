"""Freezing as a background job: a run's per-frame motion inside each box is measured on a
worker (``default`` queue) instead of inside a request, stored, and reused.

A job kind declared once (``behavior.jobs.FREEZING``): the ``FreezingJob`` row (a
``webapp.models.Job``), the Celery task ``behavior.tasks.freezing_job_execute_task`` on the
``default`` queue, and :func:`behavior.freezing.freezing_work.freezing_job_work`;
``webapp.jobs`` gives it the claim, cancel, the time limit, the finish, the dispatch after
commit and the stale check (a killed worker's job is FAILED by ``jobs_fail_stale``; asking
again starts anew).

Cached per run and motion parameters: ``FreezingJob.key`` digests the run, its trajectory,
its active edits and the motion parameters; a request whose key has a queued, running or
finished job reuses it. The freezing threshold and minimum duration are applied when the
analysis is read, so changing them needs no new job.

Who: viewers read a job and its result; starting or cancelling one needs annotator (it
spends a worker for a while, though it writes no user data).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from django.db import transaction

from behavior.core.freezing import FreezingParams
from behavior.freezing.motion import motion_key
from behavior.models import FreezingJob
from tracking.models import TrackingRun
from webapp.jobs import job_dispatch
from webapp.models import JobStatus
from webapp.storage import local_copy

# A job in one of these answers a request with its key; a failed or cancelled one does not.
REUSABLE = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED)
BEAT_EVERY_FRAMES = 50


def motion_params(params: FreezingParams) -> dict:
    """What the motion depends on (the rest of FreezingParams is applied on reading)."""
    values = asdict(params)
    return {k: values[k] for k in ("motion_cutoff", "dilate_px", "sigma")}


def freezing_job_for(*, run: TrackingRun, params: FreezingParams) -> FreezingJob | None:
    """The newest queued, running or finished job of ``run`` for these parameters."""
    key = motion_key(run, params)
    return (
        FreezingJob.objects.filter(run=run, key=key, status__in=REUSABLE)
        .order_by("-created_at", "-pk")
        .first()
    )


def freezing_job_start(
    *, run: TrackingRun, params: FreezingParams, created_by=None
) -> tuple[FreezingJob, bool]:
    """The job measuring ``run``'s motion for ``params``: the existing one (queued, running
    or finished) or a new one dispatched after commit. ``(job, created)``; a broker outage
    raises ``BrokerUnavailable`` and leaves no row."""
    from behavior.tasks import freezing_job_execute_task

    key = motion_key(run, params)
    with transaction.atomic():
        # The run's row serialises two requests for one key: one job, not two.
        TrackingRun.objects.select_for_update().filter(pk=run.pk).first()
        job = freezing_job_for(run=run, params=params)
        if job is not None:
            return job, False
        job = FreezingJob.objects.create(
            run=run,
            key=key,
            params=motion_params(params),
            created_by=created_by,
            message="Waiting for a worker",
        )
    job_dispatch(job=job, task=freezing_job_execute_task)
    return job, True


def freezing_job_motion(*, job: FreezingJob) -> np.ndarray | None:
    """float64 (F, N): a finished job's motion; None when it has none (yet)."""
    if job.status != JobStatus.SUCCEEDED or not job.motion:
        return None
    with local_copy(job.motion.name, suffix=".npy") as path:
        return np.load(path, allow_pickle=False)
