"""The shared steps of the tests that SIGKILL a worker while an import job stores files."""

from __future__ import annotations

from collections.abc import Callable

from django.core.files.storage import default_storage

from tests.conftest import wait_for
from webapp import jobs
from webapp.models import JobStatus


def kill_mid_store(job, worker, *, stored_by: Callable, total: int) -> set[str]:
    """Wait until ``job`` has stored 10 files, SIGKILL ``worker``; the job still says
    running and part of its files are stored (returned)."""
    wait_for(lambda: len(stored_by(job)) >= 10, timeout=300, interval=0.02, what="storing")
    worker.kill()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING, job.error
    orphans = stored_by(job)
    assert 10 <= len(orphans) < total, "killed part way through storing"
    return orphans


def fail_stale(job, settings, *, stored_by: Callable, finished: Callable) -> None:
    """The stale check fails ``job``, removes what it stored and keeps its upload."""
    settings.JOB_STALE_AFTER = 2
    wait_for(lambda: jobs.jobs_fail_stale() or finished(job), timeout=60, what="stale check")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "heartbeat" in job.error
    assert not stored_by(job), "the stale check removed what the dead attempt stored"
    assert job.upload and default_storage.exists(job.upload.name), "kept for the retry"
