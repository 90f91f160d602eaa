"""Jobs that work on a file received in the request (import and image-set zips).

The received file belongs to the job: a broker outage at dispatch, a cancel of a job that
has ended, or the job's end removes it, so no upload outlives the job that needed it.
"""

from __future__ import annotations

from typing import Any

from webapp.jobs import job_dispatch, job_request_cancel
from webapp.models import TERMINAL_STATUSES, Job
from webapp.storage import delete_quietly


def upload_job_dispatch(*, job: Job, task: Any) -> None:
    """Send ``task(job.pk)``; on a broker outage the row and the stored upload are removed
    and :class:`webapp.jobs.BrokerUnavailable` is raised (503)."""
    upload = job.upload.name
    try:
        job_dispatch(job=job, task=task)
    except Exception:
        delete_quietly(upload)
        raise


def upload_job_drop_upload(*, job: Job) -> None:
    if job.upload:
        delete_quietly(job.upload.name)
        type(job).objects.filter(pk=job.pk).update(upload="")


def upload_job_cancel(*, job: Job) -> Job:
    job_request_cancel(job=job)
    if job.status in TERMINAL_STATUSES:
        upload_job_drop_upload(job=job)
    return job
