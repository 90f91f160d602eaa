"""Pieces shared by every long-running job (frame sampling, training, evaluation)."""

from __future__ import annotations

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
    attempts = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    celery_task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

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
