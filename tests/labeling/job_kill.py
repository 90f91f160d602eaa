"""The shared steps of the tests that SIGKILL a worker while an import job stores files."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.core.files.storage import default_storage

from tests.conftest import wait_for
from webapp import jobs
from webapp.models import JobStatus


def start_doomed_worker(start_worker, name: str):
    """A worker on a queue of its own (``(queue, worker)``), to be killed mid-job: route the
    job's task there. Every image beats (two queries each), so its store step lasts long
    enough to be caught."""
    queue = f"{name}-kill-{uuid.uuid4().hex[:6]}"
    return queue, start_worker(queues=(queue, "default"), env={"JOB_HEARTBEAT_INTERVAL": "0"})


def assert_retry_offered(client, *, detail_url: str, retry_url: str) -> None:
    """The failed job's answer offers exactly the retry the page's Retry button posts."""
    assert client.get(detail_url).json()["retry_url"] == retry_url


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
