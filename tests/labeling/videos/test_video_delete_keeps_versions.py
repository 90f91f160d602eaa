"""Deleting a video never breaks a dataset version (or a model made from it) or a
tracking run that refers to it: versions keep their frames, runs refuse the delete."""

from __future__ import annotations

import pytest

from django.core.files.storage import default_storage

from labeling.annotations.services import annotation_save
from labeling.datasets.versions import dataset_version_create, dataset_version_write_yolo
from labeling.models import Frame, Split, Video
from tests.labeling.videos.test_videos_api import _frame, _stored_video

pytestmark = pytest.mark.django_db


def _versioned_video(project, owner):
    """A video with 4 frames: 3 labeled into a version (train, train, val), 1 never labeled."""
    video = _stored_video(project)
    frames = [_frame(video, i, boxes=1, status=Frame.Status.LABELED) for i in (0, 3, 6)]
    for frame, split in zip(frames, (Split.TRAIN, Split.TRAIN, Split.VAL), strict=True):
        Frame.objects.filter(pk=frame.pk).update(split=split)
    spare = _frame(video, 9)
    version = dataset_version_create(project=project, name="paper run", created_by=owner)
    # Then every label is cleared, so the old "annotated frames" refusal no longer applies.
    for frame in frames:
        frame.refresh_from_db()
        annotation_save(
            frame=frame,
            user=owner,
            version=frame.annotation_version,
            boxes=[],
            is_negative=False,
            status=Frame.Status.UNLABELED,
        )
    return video, frames, spare, version


def test_deleting_a_video_keeps_the_frames_a_dataset_version_lists(
    api_client_for, owner, project, tmp_path
):
    video, frames, spare, version = _versioned_video(project, owner)
    video_file, thumbnail = video.file.name, video.thumbnail.name
    client = api_client_for(owner)

    response = client.delete(f"/api/videos/{video.pk}/")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["hidden"] is True and answer["kept_frames"] == 3
    assert answer["deleted_frames"] == 1 and answer["kept_for"] == ["paper run"]
    assert "paper run" in answer["detail"] and "kept" in answer["detail"]
    # The version still materializes: every image it lists is there.
    data_yaml = dataset_version_write_yolo(version=version, out_dir=tmp_path / "yolo")
    assert data_yaml.exists()
    assert len(list((tmp_path / "yolo").rglob("*.jpg"))) == 3
    assert all(default_storage.exists(f.image.name) for f in frames)
    # What nothing refers to is gone; the project no longer shows the video or its frames.
    assert not default_storage.exists(spare.image.name)
    assert not default_storage.exists(video_file) and not default_storage.exists(thumbnail)
    assert not Frame.all_objects.filter(pk=spare.pk).exists()
    assert Frame.all_objects.filter(pk__in=[f.pk for f in frames]).count() == 3
    assert not project.videos.exists() and not project.frames.exists()
    assert client.get(f"/api/videos/{video.pk}/").status_code == 404
    assert video.pk not in [
        v["id"] for v in client.get(f"/api/projects/{project.pk}/videos/").json()
    ]
    # The kept frames' images stay readable by members (the evaluation error browser).
    assert client.get(f"/api/frames/{frames[0].pk}/image/").status_code == 200


def test_the_delete_page_says_what_is_kept_and_why(client, owner, project):
    video, _, _, _ = _versioned_video(project, owner)
    client.force_login(owner)
    response = client.post(f"/projects/{project.pk}/videos/{video.pk}/delete/", follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/projects/{project.pk}/videos/"
    assert "3 frame image(s) are kept" in page and "paper run" in page
    assert Video.all_objects.get(pk=video.pk).hidden_at is not None


def test_a_video_no_version_lists_is_still_deleted_outright(api_client_for, owner, project):
    video = _stored_video(project)
    _frame(video, 0)
    assert api_client_for(owner).delete(f"/api/videos/{video.pk}/").status_code == 204
    assert not Video.all_objects.exists() and not Frame.all_objects.exists()


def test_deleting_a_video_a_tracking_run_uses_is_a_400_naming_the_run(
    api_client_for, owner, project
):
    from tracking.models import TrackingRun
    from training.models import TrainedModel

    video = _stored_video(project)
    model = TrainedModel.objects.create(project=project, name="m", weights="models/x.pt")
    run = TrackingRun.objects.create(project=project, model=model, video=video, model_sha256="0")
    client = api_client_for(owner)

    response = client.delete(f"/api/videos/{video.pk}/")

    assert response.status_code == 400
    assert f"#{run.pk}" in response.json()["video"][0]
    assert Video.objects.filter(pk=video.pk).exists() and default_storage.exists(video.file.name)
    client.force_login(owner)
    page = client.post(f"/projects/{project.pk}/videos/{video.pk}/delete/", follow=True)
    assert "Tracking run(s)" in page.content.decode()


def test_deleting_a_project_with_tracking_runs_and_models_is_not_a_500(
    api_client_for, owner, project
):
    from tracking.models import TrackingRun
    from training.models import TrainedModel

    video, _, _, version = _versioned_video(project, owner)
    model = TrainedModel.objects.create(
        project=project, name="m", weights="models/x.pt", dataset_version=version
    )
    TrackingRun.objects.create(project=project, model=model, video=video, model_sha256="0")
    response = api_client_for(owner).delete(f"/api/projects/{project.pk}/")
    assert response.status_code == 204, response.content
    assert not Video.all_objects.exists() and not TrackingRun.objects.exists()


def test_a_protected_delete_that_reaches_the_api_is_a_409_not_a_500():
    from django.db.models import ProtectedError

    from webapp.api import exception_handler

    response = exception_handler(ProtectedError("in use", {"Tracking run #7"}), {})
    assert response.status_code == 409 and "Tracking run #7" in response.data["detail"]
