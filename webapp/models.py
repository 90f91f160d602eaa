"""Pieces shared by every long-running job (frame sampling, training, evaluation)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    TIMED_OUT = "timed_out", "Timed out"


TERMINAL_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
)


def user_ref(*, blank: bool = True) -> models.ForeignKey:
    """Who made or changed a row (``created_by``, ``updated_by``...): kept as null when the
    account is deleted, with no reverse accessor on the user."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=blank,
        on_delete=models.SET_NULL,
        related_name="+",
    )


class Job(models.Model):
    """A unit of background work whose state lives in the database, not in Redis.

    The worker claims the row before working (so a redelivered message does nothing),
    beats ``heartbeat_at`` while it works, and a periodic check marks a job whose heartbeat
    went silent as FAILED, so nothing shows "running" forever.
    """

    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0)  # 0..1
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    # Automatic deliveries since the job was last asked for (a person's Retry starts again
    # from 0); bounded by JOB_MAX_ATTEMPTS. The whole story is ``attempt_history``.
    attempts = models.PositiveIntegerField(default=0)
    # One entry per attempt ever made, numbered on across retries: {"attempt", "worker",
    # "started_at", "ended_at", "outcome", "requeued"} (times ISO 8601, UTC).
    attempt_history = models.JSONField(default=list, blank=True)
    cancel_requested = models.BooleanField(default=False)
    celery_task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    created_by = user_ref()
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    # The Celery task (by name) that resumes this kind of job from what it stored
    # (checkpoints, chunks): a job of such a kind whose worker was lost is queued again
    # automatically while it has attempts left. Empty: a person decides (Retry).
    resume_task: ClassVar[str] = ""
    # Where a kind keeps a folder per job between attempts (``scratch/<area>/<prefix><id>``,
    # see webapp.job_scratch); empty: its attempts use only temporary folders.
    scratch_area: ClassVar[str] = ""
    scratch_prefix: ClassVar[str] = ""

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def attempt_number(self) -> int:
        """The number of the attempt under way (or the last one), counted across retries."""
        return len(self.attempt_history or [])

    @property
    def attempt_log(self) -> list[dict[str, Any]]:
        """``attempt_history`` as shown: a finished job's last attempt ended as the job did."""
        history = [dict(entry) for entry in self.attempt_history or []]
        if history and not history[-1].get("outcome") and self.status in TERMINAL_STATUSES:
            ended = self.finished_at.isoformat() if self.finished_at else None
            history[-1].update(outcome=self.status, ended_at=ended)
        return history

    def resume_fields(self) -> dict[str, Any]:
        """Fields reset when the job is queued again automatically (as its Retry does)."""
        return {}

    def after_stale_failure(self) -> None:
        """Undo what the attempt whose worker died left behind; called by
        :func:`webapp.jobs.jobs_fail_stale` once it marked this job FAILED. Nothing by
        default: most jobs keep what they made (checkpoints, chunks) to resume from."""

    @property
    def duration_s(self) -> float | None:
        if not self.started_at:
            return None
        from django.utils import timezone

        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class WorkerPing(models.Model):
    """Written by the ping tasks: proof that a worker consumed a queue end to end."""

    token = models.CharField(max_length=64, unique=True)
    queue = models.CharField(max_length=16)
    worker = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.queue} ping by {self.worker}"
