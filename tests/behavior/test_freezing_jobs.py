"""Freezing is measured by a background job on a real Celery worker: progress, then the
result; the same parameters reuse the job; viewers read but cannot start; cancel and the
stale check behave like every other job kind."""

from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd
import pytest

from django.utils import timezone

from behavior.models import FreezingJob
from labeling.models import Role
from tests.behavior.test_freezing import FPS, MOVING, STILL, walk_then_freeze
from tests.conftest import wait_for
from tests.tracking.run_helpers import make_tracked_run, make_trajectory
from tests.tracking.test_tracking_runs import add_video
from webapp import jobs
from webapp.models import JobStatus


@pytest.fixture
def freezing_run(project, tmp_path):
    centres = walk_then_freeze(tmp_path / "freeze.mp4")
    video = add_video(project, tmp_path / "freeze.mp4")
    return make_tracked_run(
        project=project, video=video, trajectory=make_trajectory(centres, size=30)
    )


def finished(job: FreezingJob) -> bool:
    job.refresh_from_db()
    return job.is_finished


@pytest.mark.django_db(transaction=True)
def test_freezing_runs_on_a_worker_and_its_result_is_reused(
    celery_worker, api_client_for, owner, make_user, member_of, project, freezing_run
):
    api = api_client_for(owner)
    viewer = api_client_for(member_of(make_user("vera"), Role.VIEWER))
    url = f"/api/tracking-runs/{freezing_run.pk}/freezing/"
    assert viewer.get(url).json()["status"] == "none"
    assert viewer.post(url, {}, format="json").status_code == 403
    assert not FreezingJob.objects.exists()

    started = api.post(url, {}, format="json")
    assert started.status_code == 201, started.content
    job = FreezingJob.objects.get(pk=started.json()["id"])
    wait_for(lambda: finished(job), timeout=120, what="the freezing job")
    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{celery_worker.log()[-3000:]}"
    assert job.progress == 1.0 and job.motion

    # Viewers read the finished result through the analysis (no decoding in the request).
    analysis = viewer.get(f"/api/tracking-runs/{freezing_run.pk}/analysis/?freezing=true")
    assert analysis.status_code == 200, analysis.content
    body = analysis.json()
    assert body["freezing_job"]["status"] == "succeeded"
    assert body["animals"][0]["time_freezing_s"] == pytest.approx(
        (STILL - 1) / FPS, abs=1 / FPS + 1e-6
    )
    # The threshold is applied on reading: no new job for it.
    strict = viewer.get(
        f"/api/tracking-runs/{freezing_run.pk}/analysis/?freezing=true&min_freeze_s=2"
    )
    assert strict.json()["animals"][0]["time_freezing_s"] == 0.0

    again = api.post(url, {}, format="json")
    assert again.status_code == 200 and again.json()["id"] == job.pk
    assert (
        api.post(f"/api/projects/{project.pk}/freezing/", {}, format="json").json()["jobs"][0]["id"]
        == job.pk
    )
    assert FreezingJob.objects.count() == 1

    csv = api.get(f"/api/projects/{project.pk}/experiment.csv?freezing=true")
    assert csv.status_code == 200, csv.content
    assert pd.read_csv(io.BytesIO(csv.content)).loc[0, "time_freezing_s"] > 1.0

    # Other motion parameters are another job.
    other = api.post(url, {"motion_cutoff": 25}, format="json")
    assert other.status_code == 201 and other.json()["id"] != job.pk
    bad = api.post(url, {"motion_cutoff": "x"}, format="json")
    assert bad.status_code == 400 and "motion_cutoff" in bad.json()
    assert api.post(url, {"speed": 1}, format="json").status_code == 400
    wait_for(lambda: finished(FreezingJob.objects.get(pk=other.json()["id"])), what="2nd job")
    assert MOVING  # the walk then freeze clip


@pytest.mark.django_db
def test_a_queued_job_is_cancelled_and_a_silent_one_is_failed_by_the_stale_check(
    api_client_for, owner, freezing_run, settings
):
    queued = FreezingJob.objects.create(run=freezing_run, key="a" * 64, params={})
    api = api_client_for(owner)
    response = api.post(f"/api/freezing-jobs/{queued.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == JobStatus.CANCELLED
    silent = FreezingJob.objects.create(
        run=freezing_run,
        key="b" * 64,
        params={},
        status=JobStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER + 60),
    )
    assert jobs.jobs_fail_stale() == 1
    silent.refresh_from_db()
    assert silent.status == JobStatus.FAILED and "heartbeat" in silent.error
    stranger = api_client_for(type(owner).objects.create_user("mallory", password="x" * 12))
    assert stranger.get(f"/api/freezing-jobs/{silent.pk}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_is_a_503_and_leaves_no_job(
    api_client_for, owner, freezing_run, broker_down
):
    response = api_client_for(owner).post(
        f"/api/tracking-runs/{freezing_run.pk}/freezing/", {}, format="json"
    )
    assert response.status_code == 503
    assert not FreezingJob.objects.exists()
