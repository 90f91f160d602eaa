"""Jobs that work on a file received in the request (import and image-set zips).

The received file belongs to the job: a broker outage at dispatch, a cancel of a job that
has ended, or the job's end removes it, so no upload outlives the job that needed it. A job
whose worker died keeps it (the stale check failed the job; nothing ran its cleanup) for
:func:`upload_job_retry`.

A worker killed while such a job stores files (SIGKILL, out of memory, a lost machine) runs
no cleanup either. So each job stores what it makes in folders of its own, and anything
there that no row refers to is an orphan of a dead attempt: :func:`upload_job_sweep`
deletes it, called by the job's ``after_stale_failure`` and before every attempt. The rows
are written in one transaction that first runs :func:`upload_job_still_running`, so an
attempt the stale check gave up on cannot write rows whose files the sweep removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from webapp.jobs import JobCancelled, job_dispatch, job_request_cancel, job_requeue
from webapp.models import TERMINAL_STATUSES, Job, JobStatus
from webapp.storage import delete_quietly

log = logging.getLogger(__name__)


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


def upload_job_retryable(*, job: Job, needs_upload: bool = True) -> bool:
    """Whether :func:`upload_job_retry` would queue ``job`` again: it failed and still holds
    its received file (only a dead worker's failure keeps it), or needs none."""
    return job.status == JobStatus.FAILED and (bool(job.upload) or not needs_upload)


def upload_job_retry(
    *, job: Job, task: Any, what: str, again: str, needs_upload: bool = True
) -> Job:
    """Queue a job whose worker died again (it still holds its received file); the attempt
    sweeps what the dead one stored first. ``what`` names the job in messages ("import"),
    ``again`` says what to do instead ("upload the dataset again"); ``needs_upload`` False:
    the dead attempt had already made what the job makes, the retry only finishes it.
    ValidationError (``status``) for a job that did not end that way."""
    if needs_upload and not job.upload:
        raise ValidationError(
            {
                "status": f"This {what} cannot be retried: its received zip was removed when "
                f"it ended ({job.get_status_display().lower()}); {again}."
            }
        )
    try:
        return job_requeue(job=job, task=task, message="Queued again…")
    except ValueError as exc:
        raise ValidationError(
            {"status": f"Only a failed {what} can be retried; this one is {exc}."}
        ) from None


def upload_job_sweep(*, job: Job, folder: str, kept: Iterable[str]) -> int:
    """Delete the files directly in ``folder`` (``job``'s own) that are not in ``kept``
    (the names rows refer to); return how many. A missing folder is nothing to do."""
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0  # nothing was ever stored
    orphans = sorted({f"{folder}/{name}" for name in files} - set(kept))
    delete_quietly(*orphans)
    if orphans:
        log.warning(
            "%s %s: removed %d files a dead attempt stored in %s",
            type(job).__name__,
            job.pk,
            len(orphans),
            folder,
        )
    return len(orphans)


def upload_job_still_running(job: Job) -> Callable[[], None]:
    """A check to run inside the transaction that writes a job's rows: it locks the job row
    and raises :class:`JobCancelled` unless the job is still running (the stale check may
    have failed it meanwhile, and its sweep removed the files; a cancel asked now still
    wins)."""
    model = type(job)

    def check() -> None:
        state = (
            model.objects.select_for_update()
            .filter(pk=job.pk)
            .values("status", "cancel_requested")
            .first()
        )
        if state is None or state["status"] != JobStatus.RUNNING or state["cancel_requested"]:
            raise JobCancelled()

    return check
