"""A job whose worker was lost is queued again automatically when its kind resumes from
what it stored (bounded by JOB_MAX_ATTEMPTS), and every attempt stays in its history, numbered
on across a person's retries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django.utils import timezone

from evaluation.models import EvaluationRun
from labeling.models import FrameSamplingJob, Video
from tracking.models import TrackingRun
from training.models import TrainingJob
from webapp import jobs
from webapp.models import Job, JobStatus


@pytest.fixture
def resumable(monkeypatch):
    """Frame sampling declared as a kind that resumes (the real ones need models and
    videos; the machinery is the same)."""
    monkeypatch.setattr(FrameSamplingJob, "resume_task", "labeling.tasks.frame_sampling_run")


def _job(project) -> FrameSamplingJob:
    video = Video.objects.create(project=project, original_name="clip.mp4")
    return FrameSamplingJob.objects.create(video=video, strategy="uniform", params={"n": 3})


def _lose_worker(job: Job, settings) -> None:
    type(job).objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 5)
    )


def test_the_kinds_that_resume_from_stored_work_declare_their_task():
    for model in (TrainingJob, TrackingRun, EvaluationRun):
        assert jobs.task_named(model.resume_task).mousetrack_queue == "gpu", model
    assert FrameSamplingJob.resume_task == ""  # a person decides


@pytest.mark.django_db
def test_a_lost_job_is_queued_again_and_its_history_says_what_happened(
    broker, resumable, project, settings
):
    settings.JOB_MAX_ATTEMPTS = 3
    job = jobs.job_claim(model=FrameSamplingJob, job_id=_job(project).pk)
    _lose_worker(job, settings)
    assert jobs.jobs_fail_stale() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.error == "" and job.celery_task_id
    assert job.message == (
        "Worker lost during attempt 1; queued again automatically (attempt 2 of 3)"
    )
    assert job.attempts == 1  # the automatic count goes on: the loop is bounded
    (first,) = job.attempt_history
    assert first["attempt"] == 1 and first["outcome"] == "worker lost" and first["requeued"]
    assert first["worker"] and first["started_at"] <= first["ended_at"]

    job = jobs.job_claim(model=FrameSamplingJob, job_id=job.pk)
    assert job.attempts == 2 and job.attempt_number == 2
    jobs.job_finish(job=job, status=JobStatus.SUCCEEDED)
    assert [a["outcome"] for a in job.attempt_log] == ["worker lost", "succeeded"]
    assert job.attempt_history[-1]["outcome"] == ""  # completed from the status when shown


@pytest.mark.django_db
def test_a_job_that_keeps_losing_its_worker_stops_after_max_attempts(
    broker, resumable, project, settings
):
    settings.JOB_MAX_ATTEMPTS = 2
    job = _job(project)
    for _ in range(2):
        job = jobs.job_claim(model=FrameSamplingJob, job_id=job.pk)
        _lose_worker(job, settings)
        assert jobs.jobs_fail_stale() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "after 2 attempts it is not queued again automatically" in job.error
    assert [a["outcome"] for a in job.attempt_history] == ["worker lost", "worker lost"]
    assert [a.get("requeued", False) for a in job.attempt_history] == [True, False]


@pytest.mark.django_db
def test_a_cancelled_or_non_resuming_job_is_left_for_a_person(broker, resumable, project, settings):
    job = jobs.job_claim(model=FrameSamplingJob, job_id=_job(project).pk)
    FrameSamplingJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    _lose_worker(job, settings)
    assert jobs.jobs_fail_stale() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "heartbeat" in job.error


@pytest.mark.django_db
def test_a_person_s_retry_numbers_its_attempts_on_from_the_history(broker, project, settings):
    from labeling import tasks

    job = jobs.job_claim(model=FrameSamplingJob, job_id=_job(project).pk)
    jobs.job_finish(job=job, status=JobStatus.FAILED, error="boom")
    jobs.job_requeue(job=job, task=tasks.frame_sampling_run, message="Queued again")
    job = jobs.job_claim(model=FrameSamplingJob, job_id=job.pk)
    assert job.attempts == 1  # a new request starts a new automatic count...
    assert job.attempt_number == 2  # ...but the history goes on
    assert [a["outcome"] for a in job.attempt_log] == ["failed", ""]
