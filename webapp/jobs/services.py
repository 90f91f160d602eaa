"""Cancel and retry for every job kind, with one wording."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ValidationError

from webapp.models import TERMINAL_STATUSES, Job

from .lifecycle import RETRYABLE_STATUSES, job_request_cancel, job_requeue

J = TypeVar("J", bound=Job)


def job_can_cancel(*, job: Job) -> bool:
    return job.status not in TERMINAL_STATUSES and not job.cancel_requested


def job_can_retry(*, job: Job) -> bool:
    return job.status in RETRYABLE_STATUSES


def job_cancel(*, job: J, what: str = "job", refuse_ended: bool = False) -> J:
    """Ask ``job`` to stop: a queued one at once, a running one at its next beat.
    ``refuse_ended``: ValidationError (``status``) for a job that already ended, instead of
    nothing."""
    if refuse_ended and job.status in TERMINAL_STATUSES:
        raise ValidationError({"status": f"The {what} already ended ({job.get_status_display()})."})
    job_request_cancel(job=job)
    return job


def job_retry(
    *,
    job: J,
    task: Any,
    what: str = "job",
    message: str = "Queued again…",
    extra_fields: dict[str, Any] | None = None,
) -> J:
    """Queue a failed, timed-out or cancelled ``job`` again (BrokerUnavailable: the row is
    put back as it was); ValidationError (``status``) for a job in another status."""
    try:
        return job_requeue(job=job, task=task, message=message, extra_fields=extra_fields)
    except ValueError as exc:
        raise ValidationError(
            {
                "status": f"Only failed, timed-out or cancelled {what}s can be retried; "
                f"this one is {exc}."
            }
        ) from None
