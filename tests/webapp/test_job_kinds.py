"""A job kind is declared once (``<app>/jobs.py``) and the shared runner
(:func:`webapp.jobs.job_run`) gives every kind the same outcomes: success, cancel, the
queue's soft time limit, an expected failure, a bug."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from django.core.exceptions import ValidationError

from labeling.jobs import FRAME_SAMPLING
from labeling.models import FrameSamplingJob, Video
from webapp.jobs import JobCancelled, JobFailed, job_kinds, job_models, job_run, task_named
from webapp.models import JobStatus

ROOT = Path(__file__).resolve().parents[2]


def test_every_job_model_has_a_kind_whose_task_runs_on_its_queue():
    kinds = job_kinds()
    assert {kind.model for kind in kinds} == set(job_models())
    for kind in kinds:
        assert task_named(kind.task).mousetrack_queue == kind.queue, kind.name


def test_no_module_outside_the_job_package_catches_the_soft_time_limit_but_two():
    """Only training's two (the best weights are registered before a TIMED_OUT end; a broad
    ``except Exception`` must let it through) remain, each with a comment saying why."""
    catching = []
    skipped = {".venv", "tests", "var", "node_modules", "bench", "static"}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in skipped or relative.parts[:2] == ("webapp", "jobs"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and "SoftTimeLimitExceeded" in ast.unparse(
                node.type or ast.Constant(None)
            ):
                catching.append(str(relative))
    assert sorted(catching) == ["training/registry.py", "training/training_work.py"]


@pytest.fixture
def sampling_job(project) -> FrameSamplingJob:
    video = Video.objects.create(project=project, original_name="clip.mp4")
    return FrameSamplingJob.objects.create(video=video, strategy="uniform", params={"n": 3})


def _run_with(job: FrameSamplingJob, work) -> FrameSamplingJob:
    kind = dataclasses.replace(FRAME_SAMPLING, work=work, cancelled="Cancelled.", not_done=None)
    job_run(kind, job_id=job.pk)
    job.refresh_from_db()
    return job


def _raises(exc: BaseException):
    def work(run):
        raise exc

    return work


@pytest.mark.django_db
def test_the_work_functions_message_ends_a_job_that_succeeded(sampling_job):
    job = _run_with(sampling_job, lambda run: "Done: 3 frames.")
    assert (job.status, job.message, job.progress) == (JobStatus.SUCCEEDED, "Done: 3 frames.", 1.0)
    assert job.attempts == 1 and job.attempt_log[-1]["outcome"] == JobStatus.SUCCEEDED


@pytest.mark.django_db
def test_a_cancel_ends_the_job_cancelled_with_the_kinds_words(sampling_job):
    job = _run_with(sampling_job, _raises(JobCancelled()))
    assert (job.status, job.message) == (JobStatus.CANCELLED, "Cancelled.")
    job = _run_with(_again(job), _raises(JobCancelled("The video was deleted.")))
    assert (job.status, job.message) == (JobStatus.CANCELLED, "The video was deleted.")


@pytest.mark.django_db
def test_the_soft_time_limit_ends_the_job_timed_out(sampling_job):
    job = _run_with(sampling_job, _raises(SoftTimeLimitExceeded()))
    assert job.status == JobStatus.TIMED_OUT
    assert job.error == "The sampling job ran past the queue's time limit."


@pytest.mark.django_db
def test_an_expected_failure_shows_its_own_words(sampling_job):
    job = _run_with(sampling_job, _raises(ValidationError({"n": "Must be from 1 to 9."})))
    assert (job.status, job.error) == (JobStatus.FAILED, "Must be from 1 to 9.")
    job = _run_with(_again(job), _raises(JobFailed("The file is broken.", message="Stopped.")))
    assert (job.status, job.error, job.message) == (
        JobStatus.FAILED,
        "The file is broken.",
        "Stopped.",
    )


@pytest.mark.django_db
def test_a_bug_fails_the_job_naming_the_exception(sampling_job):
    job = _run_with(sampling_job, _raises(KeyError("n")))
    assert (job.status, job.error) == (JobStatus.FAILED, "Unexpected error: KeyError: 'n'")


@pytest.mark.django_db
def test_work_that_ended_the_job_itself_is_left_as_it_ended(sampling_job):
    def work(run):
        FrameSamplingJob.objects.filter(pk=run.job.pk).update(status=JobStatus.QUEUED)
        return None  # e.g. taken over by another attempt: not this runner's to finish

    assert _run_with(sampling_job, work).status == JobStatus.QUEUED


@pytest.mark.django_db
def test_the_after_hook_runs_however_the_job_ended(sampling_job):
    seen = []
    kind = dataclasses.replace(
        FRAME_SAMPLING,
        work=_raises(KeyError("n")),
        not_done=None,
        after=lambda run: seen.append(run.job.pk),
    )
    job_run(kind, job_id=sampling_job.pk)
    assert seen == [sampling_job.pk]


@pytest.mark.django_db
def test_a_second_delivery_runs_nothing(sampling_job):
    _run_with(sampling_job, lambda run: "Done.")
    ran = []
    job_run(dataclasses.replace(FRAME_SAMPLING, work=ran.append), job_id=sampling_job.pk)
    assert ran == []


def _again(job: FrameSamplingJob) -> FrameSamplingJob:
    FrameSamplingJob.objects.filter(pk=job.pk).update(
        status=JobStatus.QUEUED, error="", message="", finished_at=None
    )
    job.refresh_from_db()
    return job
