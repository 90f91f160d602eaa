"""Claiming, heartbeating, finishing and dispatching :class:`webapp.models.Job` rows.

Every concrete job model (``FrameSamplingJob``, ``TrainingJob``, ``EvaluationRun``...)
goes through these functions, so redelivery, crashes and cancellation behave the same
everywhere.
"""

from __future__ import annotations

import logging
import socket
from datetime import timedelta
from typing import Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.models import TERMINAL_STATUSES, Job, JobStatus

log = logging.getLogger(__name__)
J = TypeVar("J", bound=Job)


class BrokerUnavailable(Exception):
    """The job could not be handed to the broker; nothing was kept."""


class JobCancelled(Exception):
    """Raised inside a job's work loop when a user asked it to stop."""


def job_dispatch(*, job: Job, task: Any, **apply_kwargs: Any) -> None:
    """Publish ``task(job.pk)``; on a broker failure delete the row and raise.

    Call this after the transaction that created the row has committed, so the worker
    can see the row, and so a broker outage leaves no orphan "queued" job behind.
    """
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("job_dispatch must run after the creating transaction commits")
    try:
        result = task.apply_async(args=[job.pk], retry=False, **apply_kwargs)
    except Exception as exc:  # kombu raises OperationalError, redis its own errors
        log.warning("broker unavailable, dropping %s %s: %s", type(job).__name__, job.pk, exc)
        job.delete()
        raise BrokerUnavailable("The job queue (Redis) is not reachable; try again.") from exc
    type(job).objects.filter(pk=job.pk).update(celery_task_id=result.id or "")
    job.celery_task_id = result.id or ""


def _heartbeat_is_fresh(job: Job, now) -> bool:
    return bool(
        job.heartbeat_at and now - job.heartbeat_at < timedelta(seconds=settings.JOB_STALE_AFTER)
    )


def job_claim(*, model: type[J], job_id: int) -> J | None:
    """Take the job for this worker, or return None if there is nothing to do.

    Nothing to do: the row is gone, already finished, running elsewhere with a fresh
    heartbeat (a duplicate delivery), or out of attempts (then it is marked FAILED, which
    ends a crash-redelivery loop).
    """
    now = timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in TERMINAL_STATUSES:
            return None
        if job.status == JobStatus.RUNNING and _heartbeat_is_fresh(job, now):
            return None
        if job.cancel_requested:
            job.status, job.finished_at = JobStatus.CANCELLED, now
            job.save(update_fields=["status", "finished_at"])
            return None
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            job.status, job.finished_at = JobStatus.FAILED, now
            job.error = (job.error + "\n" if job.error else "") + (
                f"Gave up after {job.attempts} attempts."
            )
            job.save(update_fields=["status", "finished_at", "error"])
            return None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.worker = socket.gethostname()
        history = list(job.attempt_history or [])
        history.append(
            {
                "attempt": len(history) + 1,
                "worker": job.worker,
                "started_at": now.isoformat(),
                "ended_at": None,
                "outcome": "",
            }
        )
        job.attempt_history = history
        job.save(
            update_fields=[
                "status", "attempts", "heartbeat_at", "started_at", "worker", "attempt_history"
            ]
        )  # fmt: skip
        return job


def _close_attempt(model: type[Job], pk: int, *, outcome: str, ended_at=None) -> None:
    """Write how the attempt under way ended into the job's ``attempt_history`` (each kind
    finishes its own way, so a finished job's last attempt is completed from its status when
    shown, :attr:`Job.attempt_log`, and written here when it is requeued or lost)."""
    ended_at = (ended_at or timezone.now()).isoformat()
    _update_last_attempt(model, pk, open_only=True, ended_at=ended_at, outcome=outcome)


def _update_last_attempt(model: type[Job], pk: int, *, open_only: bool, **changes: Any) -> None:
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=pk).first()
        history = list(job.attempt_history or []) if job is not None else []
        if not history or (open_only and history[-1].get("ended_at")):
            return
        history[-1] = {**history[-1], **changes}
        job.attempt_history = history
        job.save(update_fields=["attempt_history"])


def job_heartbeat(*, job: Job, progress: float | None = None, message: str | None = None) -> None:
    """Record that the worker is alive; raise :class:`JobCancelled` if a stop was asked."""
    fields: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if progress is not None:
        fields["progress"] = job.progress = max(0.0, min(1.0, float(progress)))
    if message is not None:
        fields["message"] = job.message = message[:500]
    model = type(job)
    # Only a running job's row is touched: a job marked FAILED by the stale check must
    # not be revived by a late heartbeat.
    updated = model.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(**fields)
    job.heartbeat_at = fields["heartbeat_at"]
    state = model.objects.filter(pk=job.pk).values("cancel_requested", "status").first()
    if not updated or state is None or state["cancel_requested"]:
        raise JobCancelled()


def job_finish(*, job: Job, status: str, error: str = "", message: str | None = None) -> None:
    """Move a running job to a terminal status (no-op when it already ended, or when its
    row was deleted meanwhile: with its project, say; a worker must not crash on that)."""
    fields: dict[str, Any] = {"status": status, "finished_at": timezone.now(), "error": error}
    if status == JobStatus.SUCCEEDED:
        fields["progress"] = 1.0
    if message is not None:
        fields["message"] = message[:500]
    type(job).objects.filter(pk=job.pk).exclude(status__in=TERMINAL_STATUSES).update(**fields)
    try:
        job.refresh_from_db()
    except type(job).DoesNotExist:
        log.info("%s %s was deleted while it ran", type(job).__name__, job.pk)


def job_request_cancel(*, job: Job) -> None:
    """Ask a job to stop; a queued job is cancelled at once, a running one at its next beat."""
    model = type(job)
    now = timezone.now()
    model.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, cancel_requested=True, finished_at=now
    )
    model.objects.filter(pk=job.pk).exclude(status__in=TERMINAL_STATUSES).update(
        cancel_requested=True
    )
    job.refresh_from_db()


RETRYABLE_STATUSES = (JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.CANCELLED)


def job_requeue(
    *,
    job: J,
    task: Any,
    message: str,
    extra_fields: dict[str, Any] | None = None,
    automatic: bool = False,
) -> J:
    """Queue a failed, timed-out or cancelled job again and publish ``task(job.pk)``.

    Unlike a new job, a retried one has history worth keeping: when the broker is down
    the row is put back exactly as it was (and :class:`BrokerUnavailable` raised).
    Raises ``ValueError`` when the job is not in a retryable status. ``automatic``: the
    stale check requeues a job whose worker was lost, within its attempts.
    """
    model = type(job)
    fields: dict[str, Any] = {
        "status": JobStatus.QUEUED,
        # attempts counts automatic redeliveries of one request; a person asking again
        # starts a new count.
        **({} if automatic else {"attempts": 0}),
        "error": "",
        "finished_at": None,
        "cancel_requested": False,
        "message": message[:500],
        **(extra_fields or {}),
    }
    previous = {name: getattr(job, name) for name in fields}
    with transaction.atomic():
        updated = model.objects.filter(pk=job.pk, status__in=RETRYABLE_STATUSES).update(**fields)
    job.refresh_from_db()
    if not updated:
        raise ValueError(job.get_status_display().lower())
    # The attempt that ended (however its kind finished it) keeps how it ended.
    _close_attempt(model, job.pk, outcome=previous["status"], ended_at=previous["finished_at"])
    try:
        result = task.apply_async(args=[job.pk], retry=False)
    except Exception as exc:  # kombu and redis raise their own errors
        model.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(**previous)
        job.refresh_from_db()
        raise BrokerUnavailable("The job queue (Redis) is not reachable; try again.") from exc
    model.objects.filter(pk=job.pk).update(celery_task_id=result.id or "")
    job.refresh_from_db()
    return job


def job_models() -> list[type[Job]]:
    return [m for m in apps.get_models() if issubclass(m, Job)]


def jobs_fail_stale() -> int:
    """Mark RUNNING jobs whose heartbeat went silent as FAILED; return how many. Each job so
    failed then gets its ``after_stale_failure`` cleanup (one failing is logged, not
    raised: the others still get theirs), and a job of a kind that resumes from what it
    stored (``resume_task``) is queued again at once while it has attempts left, so a batch
    queued overnight finishes without anyone pressing Retry."""
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER)
    total = 0
    for model in job_models():
        stale = model.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
        for pk in list(stale.values_list("pk", flat=True)):
            # Row by row, with the same conditions: a job that beat meanwhile is left alone.
            if not stale.filter(pk=pk).update(
                status=JobStatus.FAILED,
                finished_at=timezone.now(),
                error="The worker stopped responding (no heartbeat); the job can be retried.",
            ):
                continue
            total += 1
            _close_attempt(model, pk, outcome="worker lost")
            job = model.objects.filter(pk=pk).first()
            try:
                if job is not None:
                    job.after_stale_failure()
            except Exception:
                log.exception("cleaning up after stale %s %s failed", model.__name__, pk)
            if job is not None:
                _requeue_lost(job)
    return total


def task_named(name: str) -> Any:
    """The registered Celery task ``name``, from any process: the web process and the tests
    have not imported the apps' task modules, which workers discover when they start."""
    from celery import current_app

    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def _requeue_lost(job: Job) -> None:
    """Queue a job whose worker was lost again, if its kind resumes and attempts are left."""
    if not job.resume_task or job.cancel_requested:
        return
    if job.attempts >= settings.JOB_MAX_ATTEMPTS:
        type(job).objects.filter(pk=job.pk).update(
            error=f"The worker stopped responding (no heartbeat); after {job.attempts} "
            "attempts it is not queued again automatically, but it can be retried."
        )
        return
    try:
        job_requeue(
            job=job,
            task=task_named(job.resume_task),
            message=(
                f"Worker lost during attempt {job.attempt_number}; queued again automatically "
                f"(attempt {job.attempts + 1} of {settings.JOB_MAX_ATTEMPTS})"
            ),
            extra_fields=job.resume_fields(),
            automatic=True,
        )
    except (BrokerUnavailable, ValueError) as exc:
        log.warning("could not requeue %s %s: %s", type(job).__name__, job.pk, exc)
        return
    _update_last_attempt(type(job), job.pk, open_only=False, requeued=True)
