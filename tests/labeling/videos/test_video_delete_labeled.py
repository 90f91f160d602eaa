"""A labeled video can be deleted once the person confirms that its labels and tracking
runs go with it: the answer says what went and what was kept (dataset versions keep
their frames, images and boxes; the models stay)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from django.core.files.storage import default_storage

from behavior.models import ArenaSetup
from labeling.datasets.versions import dataset_version_create
from labeling.models import Box, Frame, Split, Video
from labeling.videos.deletion import video_deletion_preview
from tests.labeling.videos.test_videos_api import _frame, _stored_video
from tests.tracking.run_helpers import make_tracked_run, make_trajectory
from tracking.models import TrackingRun
from training.models import TrainedModel
from webapp.models import JobStatus


@pytest.fixture
def labeled(project, owner):
    """5 labeled frames (3 in a version), 1 unlabeled frame, a finished run, an arena."""
    video = _stored_video(project)
    versioned = [_frame(video, i, boxes=2, status=Frame.Status.LABELED) for i in (0, 2, 3)]
    for frame, split in zip(versioned, (Split.TRAIN, Split.TRAIN, Split.VAL), strict=True):
        Frame.objects.filter(pk=frame.pk).update(split=split)
    dataset_version_create(project=project, name="paper run", created_by=owner)
    later = [_frame(video, i, boxes=1, status=Frame.Status.LABELED) for i in (6, 9)]
    spare = _frame(video, 12)
    centres = np.stack([np.arange(20.0) + 50, np.full(20, 60.0)], axis=1)
    run = make_tracked_run(project=project, video=video, trajectory=make_trajectory(centres))
    ArenaSetup.objects.create(video=video, px_per_cm=10.0)
    return video, versioned, later, spare, run


@pytest.mark.django_db
def test_the_preview_says_what_goes_and_what_stays(labeled):
    video, versioned, later, spare, run = labeled
    preview = video_deletion_preview(video=video)
    assert preview.frames == 6 and preview.labeled_frames == 5 and preview.boxes == 8
    assert preview.runs == (run.pk,) and preview.active_runs == ()
    assert preview.kept_frames == 3 and preview.kept_for == ("paper run",)
    text = preview.statement
    assert "3 frame(s)" in text and "5 labeled frame(s) with 8 box(es)" in text
    assert f"tracking run #{run.pk}" in text and "arena" in text
    assert "Kept: 3 frame(s)" in text and "paper run" in text and "model" in text


@pytest.mark.django_db(transaction=True)
def test_a_labeled_video_is_deleted_only_when_confirmed_and_versions_keep_their_frames(
    api_client_for, owner, labeled
):
    video, versioned, later, spare, run = labeled
    client = api_client_for(owner)
    refused = client.delete(f"/api/videos/{video.pk}/")
    assert refused.status_code == 400
    assert "confirm=labels,runs" in json.dumps(refused.json()), refused.json()
    assert Video.objects.filter(pk=video.pk).exists()

    trajectory = run.trajectory.name
    response = client.delete(f"/api/videos/{video.pk}/?confirm=labels,runs")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["hidden"] is True and answer["kept_frames"] == 3
    assert answer["kept_for"] == ["paper run"]
    assert not TrackingRun.objects.filter(pk=run.pk).exists()
    assert not default_storage.exists(trajectory)
    assert TrainedModel.objects.filter(pk=run.model_id).exists()
    assert not ArenaSetup.objects.filter(video_id=video.pk).exists()
    gone = [f.pk for f in later] + [spare.pk]
    assert not Frame.all_objects.filter(pk__in=gone).exists()
    assert not Box.objects.filter(frame_id__in=gone).exists()
    kept = Frame.all_objects.filter(pk__in=[f.pk for f in versioned])
    assert kept.count() == 3 and all(default_storage.exists(f.image.name) for f in kept)
    assert Box.objects.filter(frame__in=kept).count() == 6
    assert not Video.objects.filter(pk=video.pk).exists()


@pytest.mark.django_db
def test_a_video_with_a_running_run_is_not_deleted_even_when_confirmed(
    api_client_for, owner, labeled
):
    video, _, _, _, run = labeled
    TrackingRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING)
    response = api_client_for(owner).delete(f"/api/videos/{video.pk}/?confirm=labels,runs")
    assert response.status_code == 400
    assert "cancel it first" in json.dumps(response.json())
    assert Video.objects.filter(pk=video.pk).exists()
    assert Frame.objects.filter(video=video).count() == 6
