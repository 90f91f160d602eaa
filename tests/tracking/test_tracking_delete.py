"""Deleting runs and models: refused with the reason while something depends on them,
otherwise gone with their stored files (after commit); what they referred to stays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tests.tracking.run_helpers import make_tracked_run, make_trajectory
from tests.tracking.run_helpers import make_video as make_video_row
from tracking.models import TrackingBatch, TrackingEdit, TrackingRender, TrackingRun
from training.models import TrainedModel
from webapp.models import JobStatus


@pytest.fixture
def run(project):
    centres = np.stack([np.arange(30.0) + 50, np.full(30, 60.0)], axis=1)
    video = make_video_row(project, frame_count=30)
    return make_tracked_run(project=project, video=video, trajectory=make_trajectory(centres))


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_is_deleted_with_its_files_and_its_video_and_model_stay(
    api_client_for, owner, run
):
    chunk = default_storage.save(
        f"tracking/{run.project_id}/{run.pk}/detections/chunk-000000.parquet", ContentFile(b"x")
    )
    render = default_storage.save(
        f"tracking/{run.project_id}/{run.pk}/render-1.mp4", ContentFile(b"mp4")
    )
    TrackingRender.objects.create(run=run, file=render, status=JobStatus.SUCCEEDED)
    TrackingEdit.objects.create(run=run, animal_a=1, animal_b=1, from_frame=3)
    batch = TrackingBatch.objects.create(project=run.project, model=run.model)
    TrackingRun.objects.filter(pk=run.pk).update(batch=batch)
    trajectory = run.trajectory.name

    response = api_client_for(owner).delete(f"/api/tracking-runs/{run.pk}/")
    assert response.status_code == 204, response.content
    assert not TrackingRun.objects.filter(pk=run.pk).exists()
    assert not TrackingEdit.objects.exists() and not TrackingRender.objects.exists()
    assert not TrackingBatch.objects.filter(pk=batch.pk).exists()
    for name in (chunk, render, trajectory):
        assert not default_storage.exists(name), name
    assert run.video.__class__.objects.filter(pk=run.video_id).exists()
    assert TrainedModel.objects.filter(pk=run.model_id).exists()
    assert default_storage.exists(run.model.weights.name)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_a_queued_or_running_run_is_not_deleted_and_the_answer_says_why(
    api_client_for, owner, run, status
):
    TrackingRun.objects.filter(pk=run.pk).update(status=status)
    response = api_client_for(owner).delete(f"/api/tracking-runs/{run.pk}/")
    assert response.status_code == 400
    assert "cancel it first" in json.dumps(response.json()["run"])
    assert TrackingRun.objects.filter(pk=run.pk).exists()
    assert default_storage.exists(run.trajectory.name)


@pytest.mark.django_db
def test_a_run_being_rendered_is_not_deleted(api_client_for, owner, run):
    render = TrackingRender.objects.create(run=run, status=JobStatus.RUNNING)
    response = api_client_for(owner).delete(f"/api/tracking-runs/{run.pk}/")
    assert response.status_code == 400
    assert f"#{render.pk} (running)" in json.dumps(response.json()), response.json()


@pytest.mark.django_db
def test_run_and_model_deletion_need_a_writer(api_client_for, run, make_user, member_of):
    viewer = api_client_for(member_of(make_user("vic"), "viewer"))
    outsider = api_client_for(make_user("otto"))
    for url in (f"/api/tracking-runs/{run.pk}/", f"/api/models/{run.model_id}/"):
        assert viewer.delete(url).status_code == 403, url
        assert outsider.delete(url).status_code == 404, url
    assert TrackingRun.objects.filter(pk=run.pk).exists()
    assert TrainedModel.objects.filter(pk=run.model_id).exists()


@pytest.mark.django_db(transaction=True)
def test_a_model_is_refused_while_runs_use_it_then_deleted_with_its_files(
    api_client_for, owner, run
):
    client = api_client_for(owner)
    model = run.model
    TrackingRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING)
    refused = client.delete(f"/api/models/{model.pk}/")
    assert refused.status_code == 400
    assert f"run #{run.pk}" in json.dumps(refused.json()["model"]).lower(), refused.json()
    TrackingRun.objects.filter(pk=run.pk).update(status=JobStatus.SUCCEEDED)
    refused = client.delete(f"/api/models/{model.pk}/")
    assert refused.status_code == 400
    assert f"Tracking run #{run.pk}" in json.dumps(refused.json()["model"]), refused.json()

    assert client.delete(f"/api/tracking-runs/{run.pk}/").status_code == 204
    response = client.delete(f"/api/models/{model.pk}/")
    assert response.status_code == 204, response.content
    assert not TrainedModel.objects.filter(pk=model.pk).exists()
    assert not default_storage.exists(model.weights.name)
