"""A real Celery worker process over the real broker runs tasks on both queues, and the
job machinery survives redelivery, crashes, stale heartbeats and a broker outage."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from django.utils import timezone

from labeling.models import FrameSamplingJob, Video
from tests.conftest import wait_for
from webapp import jobs, tasks
from webapp.models import JobStatus, WorkerPing

pytestmark = pytest.mark.worker


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("queue", ["default", "gpu"])
def test_worker_process_runs_a_task_on_each_queue(celery_worker, queue):
    token = uuid.uuid4().hex
    task = tasks.ping_gpu if queue == "gpu" else tasks.ping_default
    task.apply_async(args=[token])
    ping = wait_for(lambda: WorkerPing.objects.filter(token=token).first(), what="ping")
    assert ping.queue == queue
    assert ping.worker  # written by the worker process, not this one
    assert celery_worker.proc.poll() is None


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_database_broker_and_consuming_workers(celery_worker, client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert body["queues"]["default"]["ok"] and body["queues"]["gpu"]["ok"]
    assert any(name.startswith("test-") for name in body["queues"]["gpu"]["workers"])


def _sampling_job(project) -> FrameSamplingJob:
    video = Video.objects.create(project=project, original_name="clip.mp4")
    return FrameSamplingJob.objects.create(video=video, strategy="uniform", params={"n": 3})


@pytest.mark.django_db
def test_claim_skips_a_duplicate_delivery_while_the_first_is_alive(project):
    job = _sampling_job(project)
    assert jobs.job_claim(model=FrameSamplingJob, job_id=job.pk) is not None
    # Redis redelivers the same message: the fresh heartbeat makes the second claim a no-op.
    assert jobs.job_claim(model=FrameSamplingJob, job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.attempts == 1


@pytest.mark.django_db
def test_a_job_that_always_crashes_stops_after_max_attempts(project, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    job = _sampling_job(project)
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 5)
    for attempt in range(1, 4):
        claimed = jobs.job_claim(model=FrameSamplingJob, job_id=job.pk)
        assert claimed is not None and claimed.attempts == attempt
        FrameSamplingJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)  # "crashed"
    assert jobs.job_claim(model=FrameSamplingJob, job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "3 attempts" in job.error


@pytest.mark.django_db
def test_stale_running_job_is_marked_failed_and_late_heartbeat_does_not_revive_it(
    project, settings
):
    job = jobs.job_claim(model=FrameSamplingJob, job_id=_sampling_job(project).pk)
    FrameSamplingJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 1)
    )
    assert jobs.jobs_fail_stale() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "heartbeat" in job.error
    with pytest.raises(jobs.JobCancelled):
        jobs.job_heartbeat(job=job, progress=0.5)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


@pytest.mark.django_db
def test_cancel_of_a_queued_job_is_immediate_and_running_job_sees_it(project):
    queued = _sampling_job(project)
    jobs.job_request_cancel(job=queued)
    assert queued.status == JobStatus.CANCELLED
    running = jobs.job_claim(model=FrameSamplingJob, job_id=_sampling_job(project).pk)
    jobs.job_request_cancel(job=running)
    with pytest.raises(jobs.JobCancelled):
        jobs.job_heartbeat(job=running)


@pytest.mark.django_db(transaction=True)
def test_dispatch_with_the_broker_down_deletes_the_row(project, broker_down):
    job = _sampling_job(project)
    with pytest.raises(jobs.BrokerUnavailable):
        jobs.job_dispatch(job=job, task=tasks.ping_default)
    assert not FrameSamplingJob.objects.filter(pk=job.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_publishing_works_again_after_a_broker_outage(celery_worker, broker_down, monkeypatch):
    monkeypatch.undo()  # the broker is back
    token = uuid.uuid4().hex
    tasks.ping_default.apply_async(args=[token])
    wait_for(lambda: WorkerPing.objects.filter(token=token).exists(), what="ping after outage")
