"""The video page offers proposals (issue 21): "Find mice without labels" (the bootstrap)
while the project has no model or few labels, "Pre-label with model" over its registered
models; annotators and owners get the buttons, viewers only the explanation."""

from __future__ import annotations

import pytest

from django.urls import reverse

from assisted.models import PrelabelJob
from assisted.selectors import BOOTSTRAP_SUGGESTED_BELOW
from labeling.models import Frame, Role
from tests.training.helpers import fake_model, make_frames


def _page(client, user, video) -> str:
    client.force_login(user)
    res = client.get(reverse("video-detail", args=[video.project_id, video.pk]))
    assert res.status_code == 200
    return res.content.decode()


@pytest.mark.django_db
def test_a_new_project_is_offered_the_bootstrap_and_no_model(client, project, owner):
    frames = make_frames(project, splits=[], unlabeled=4)
    html = _page(client, owner, frames[0].video)
    assert 'id="prelabel-panel"' in html
    assert 'id="prelabel-bootstrap"' in html and "Find mice without labels" in html
    assert 'id="prelabel-model"' not in html and "No trained model yet" in html
    assert "4 unlabeled frames" in html
    panel = html[html.index('id="prelabel-panel"') :]
    assert reverse("api-prelabel-job-list", args=[project.pk]) in panel
    assert f"?video={frames[0].video_id}&amp;proposals=pending" in panel


@pytest.mark.django_db
def test_models_are_listed_and_the_bootstrap_steps_back_once_labels_are_many(
    client, project, owner
):
    frames = make_frames(project, splits=["train"] * 3, unlabeled=2)
    video = frames[0].video
    model = fake_model(project, name="mice <v2>")
    html = _page(client, owner, video)
    assert 'id="prelabel-model"' in html and f'<option value="{model.pk}"' in html
    assert "mice &lt;v2&gt;" in html and "mice <v2>" not in html
    assert 'id="prelabel-bootstrap"' in html  # 3 labeled frames: still few

    more = BOOTSTRAP_SUGGESTED_BELOW - 3
    make_frames(project, splits=["train"] * more, video=video)
    assert project.frames.exclude(status=Frame.Status.UNLABELED).count() >= (
        BOOTSTRAP_SUGGESTED_BELOW
    )
    html = _page(client, owner, video)
    assert 'id="prelabel-bootstrap"' not in html and 'id="prelabel-model"' in html


@pytest.mark.django_db
def test_viewers_see_no_prelabel_buttons_and_a_running_job_is_resumed(
    client, project, owner, make_user, member_of
):
    frames = make_frames(project, splits=[], unlabeled=2)
    video = frames[0].video
    fake_model(project, name="m1")
    viewer = make_user("vic")
    member_of(viewer, Role.VIEWER)
    html = _page(client, viewer, video)
    assert 'id="prelabel-panel"' in html
    assert 'id="prelabel-bootstrap"' not in html and 'id="prelabel-model-start"' not in html
    assert "annotators" in html

    job = PrelabelJob.objects.create(project=project, source="bootstrap", created_by=owner)
    job.videos.set([video])
    other = PrelabelJob.objects.create(project=project, source="bootstrap", created_by=owner)
    other.videos.set([make_frames(project, splits=[], unlabeled=1)[0].video])
    html = _page(client, owner, video)
    assert f'data-job-id="{job.pk}"' in html and f'data-job-id="{other.pk}"' not in html


@pytest.mark.django_db
def test_the_editor_says_where_proposals_come_from(client, project, owner, make_user, member_of):
    client.force_login(owner)
    html = client.get(reverse("label-editor", args=[project.pk])).content.decode()
    assert f'href="{reverse("video-list", args=[project.pk])}" id="proposal-get"' in html
    viewer = member_of(make_user("vic"), Role.VIEWER)
    client.force_login(viewer)
    html = client.get(reverse("label-editor", args=[project.pk])).content.decode()
    assert 'id="proposal-get"' not in html
