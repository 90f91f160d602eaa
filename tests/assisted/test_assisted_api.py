"""The hard-frame and improve endpoints: field-named 400s, nothing stored; non-members 404,
viewers 403 (the paths that queue work are covered with a real worker elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest

from assisted.models import HardFrameJob, PrelabelJob
from labeling.models import Role
from tests.labeling.annotation_helpers import make_video
from tests.tracking.run_helpers import make_tracked_run, make_trajectory
from tests.training.helpers import fake_model
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(project):
    video = make_video(project)
    return make_tracked_run(
        project=project, video=video, trajectory=make_trajectory(np.full((50, 2), 100.0))
    )


def test_hard_frames_input_is_checked(run, owner, api_client_for):
    client = api_client_for(owner)
    url = f"/api/tracking-runs/{run.pk}/hard-frames/"
    for body, field in (
        ({"cap": 0}, "cap"),
        ({"cap": "5"}, "cap"),
        ({"low_confidence": 2}, "low_confidence"),
        ({"min_gap": -1}, "min_gap"),
    ):
        res = client.post(url, body, format="json")
        assert res.status_code == 400 and field in res.json(), (body, res.content)
    assert not HardFrameJob.objects.exists()


def test_hard_frames_and_improve_access(run, project, make_user, member_of, api_client_for):
    model = fake_model(project)
    stranger = api_client_for(make_user())
    viewer = api_client_for(member_of(make_user(), Role.VIEWER))
    for client, code in ((stranger, 404), (viewer, 403)):
        assert client.post(f"/api/tracking-runs/{run.pk}/hard-frames/").status_code == code
        assert client.post(f"/api/models/{model.pk}/improve/").status_code == code
        body = {"expected": 1}
        url = f"/api/projects/{project.pk}/prelabel-jobs/"
        assert client.post(url, body, format="json").status_code == code
    assert stranger.get(f"/api/projects/{project.pk}/prelabel-jobs/").status_code == 404
    assert not HardFrameJob.objects.exists() and not TrainingJob.objects.exists()
    assert not PrelabelJob.objects.exists()


def test_improve_rejects_bad_epochs(project, owner, api_client_for):
    model = fake_model(project)
    res = api_client_for(owner).post(
        f"/api/models/{model.pk}/improve/", {"epochs": 0}, format="json"
    )
    assert res.status_code == 400 and "epochs" in res.json()
    assert not TrainingJob.objects.exists()


def test_prelabel_model_of_another_project_is_a_field_error(
    project, owner, make_user, api_client_for
):
    from labeling.services import project_create

    other = project_create(name="Other lab", owner=make_user())
    foreign = fake_model(other, name="theirs")
    res = api_client_for(owner).post(
        f"/api/projects/{project.pk}/prelabel-jobs/", {"model": foreign.pk}, format="json"
    )
    assert res.status_code == 400 and "model" in res.json()
    assert not PrelabelJob.objects.exists()


def test_a_project_with_pre_label_and_hard_frame_jobs_can_be_deleted(
    project, owner, api_client_for
):
    # (Without a tracking run: a run PROTECTs its model and video, so a project with one
    # cannot be deleted at all today; that is tracking's to settle.)
    from labeling.models import Project

    model = fake_model(project)
    PrelabelJob.objects.create(project=project, source="model", model=model)
    HardFrameJob.objects.create(project=project, source="evaluation")
    assert api_client_for(owner).delete(f"/api/projects/{project.pk}/").status_code == 204
    assert not Project.objects.exists() and not PrelabelJob.objects.exists()
