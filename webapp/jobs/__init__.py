"""The job machinery every background job kind shares.

- :mod:`.lifecycle`: claiming, heartbeating, finishing, dispatching and requeueing
  :class:`webapp.models.Job` rows, and the stale check (with automatic requeue).
- :mod:`.kinds`: :class:`JobKind` (a kind declared once) and :func:`job_run`, the worker
  skeleton (claim, throttled progress, cancel, soft time limit, failure text, finish).
- :mod:`.services`: cancel and retry with one wording.
- :mod:`.apis`: the output serializer base and the Detail/Cancel/Retry API classes.

Where a kind lives: its declaration and work function in ``<app>/jobs.py`` (see
docs/DEVELOPING.md, "How to add a job kind").
"""

from .kinds import (
    JobFailed,
    JobKind,
    JobRun,
    KeepAlive,
    failure_text,
    job_kinds,
    job_run,
    keep_alive,
)
from .lifecycle import (
    RETRYABLE_STATUSES,
    BrokerUnavailable,
    JobCancelled,
    job_claim,
    job_dispatch,
    job_finish,
    job_heartbeat,
    job_models,
    job_request_cancel,
    job_requeue,
    jobs_fail_stale,
    task_named,
)
from .services import job_can_cancel, job_can_retry, job_cancel, job_retry

__all__ = [
    "RETRYABLE_STATUSES",
    "BrokerUnavailable",
    "JobCancelled",
    "JobFailed",
    "JobKind",
    "JobRun",
    "KeepAlive",
    "failure_text",
    "job_can_cancel",
    "job_can_retry",
    "job_cancel",
    "job_claim",
    "job_dispatch",
    "job_finish",
    "job_heartbeat",
    "job_kinds",
    "job_models",
    "job_request_cancel",
    "job_requeue",
    "job_retry",
    "job_run",
    "jobs_fail_stale",
    "keep_alive",
    "task_named",
]
