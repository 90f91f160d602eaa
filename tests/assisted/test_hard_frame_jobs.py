"""Hard frames from a tracking run (a real worker decodes them from a real video) and from an
evaluation, added to labeling with the model's boxes as proposals."""

from __future__ import annotations

import numpy as np
import pytest

from django.core.exceptions import ValidationError

from assisted.hardframe_services import hard_frames_job_start
from assisted.models import HardFrameJob, Proposal
from labeling.models import Box, Frame
from tests.conftest import wait_for
from tests.tracking.run_helpers import make_tracked_run, make_trajectory
from webapp.models import TERMINAL_STATUSES, JobStatus


def openfield_run(project, openfield_video):
    """The shared recording uploaded, and a run of it whose trajectory has a miss from
    frame 500 to 560, low confidence at 1200 and an outlier at 1800."""
    from tests.tracking.test_tracking_runs import add_video

    video = add_video(project, openfield_video)
    n = video.frame_count
    centres = np.stack([np.linspace(100, 500, n), np.full(n, 240.0)], axis=-1)
    centres[500:561] = np.nan
    trajectory = make_trajectory(centres, size=60.0)
    trajectory.confidence[1200, 0] = 0.2
    outlier = np.zeros((n, 1), bool)
    outlier[1800, 0] = True
    trajectory.flags["outlier"] = outlier
    return make_tracked_run(project=project, video=video, trajectory=trajectory)


def finished(job_id):
    return wait_for(
        lambda: HardFrameJob.objects.filter(pk=job_id, status__in=TERMINAL_STATUSES).first(),
        timeout=180,
        what="the hard-frame job",
    )


@pytest.mark.django_db(transaction=True)
def test_hard_frames_from_a_tracking_run(celery_worker, project, owner, openfield_video):
    run = openfield_run(project, openfield_video)
    # A frame already sampled and labeled by a person: reused, never given proposals.
    labeled = Frame.objects.create(
        project=project, video=run.video, frame_index=1200, image="x.jpg", width=640,
        height=480, status=Frame.Status.LABELED,
    )  # fmt: skip
    Box.objects.create(frame=labeled, label_class=project.classes.first(), x=1, y=1, w=10, h=10)
    with pytest.raises(ValidationError):
        hard_frames_job_start(user=owner, tracking_run=run, cap=0)
    job = finished(hard_frames_job_start(user=owner, tracking_run=run, cap=10, min_gap=15).pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    chosen = [c["frame"] for c in job.chosen]
    reasons = {c["reason"] for c in job.chosen}
    assert reasons == {"missing", "low_confidence", "outlier"}
    assert 1200 in chosen and 1800 in chosen
    assert all(500 <= f <= 560 for f in chosen if f not in (1200, 1800))
    assert all(b - a >= 15 for a, b in zip(chosen, chosen[1:], strict=False))
    frames = Frame.objects.filter(video=run.video, frame_index__in=chosen)
    assert frames.count() == len(chosen) and job.frames_added == len(chosen) - 1
    # Missing frames have nothing to propose; the outlier frame has the run's box.
    outlier = frames.get(frame_index=1800)
    (p,) = Proposal.objects.filter(frame=outlier)
    assert p.source == "tracking" and "outlier" in p.model_ref and p.w == 60
    assert not Proposal.objects.filter(frame=labeled).exists()
    assert not Proposal.objects.filter(frame__frame_index__range=(500, 560)).exists()
    assert outlier.image.size > 10_000  # decoded from the video, a real JPEG

    again = finished(hard_frames_job_start(user=owner, tracking_run=run, cap=10).pk)
    assert again.frames_added == 0
    assert Proposal.objects.filter(frame=outlier, status="pending").count() == 1


@pytest.mark.django_db(transaction=True)
def test_hard_frames_from_an_evaluation(celery_worker, project, owner):
    from evaluation.models import EvaluationRun, FramePrediction
    from labeling.datasets.versions import dataset_version_create
    from tests.labeling.annotation_helpers import make_frames, make_video
    from tests.training.helpers import fake_model

    mouse = project.classes.first()
    video = make_video(project)
    frames = make_frames(video, 2, split="train") + make_frames(video, 4, split="val", start=2)
    for f in frames:
        Box.objects.create(frame=f, label_class=mouse, x=10, y=10, w=40, h=30)
    Frame.objects.update(status=Frame.Status.LABELED)
    version = dataset_version_create(project=project, name="v", created_by=owner)
    model = fake_model(project)
    run = EvaluationRun.objects.create(
        project=project, model=model, dataset_version=version, split="val",
        status=JobStatus.SUCCEEDED,
    )  # fmt: skip
    gt = [{"class_index": 0, "x": 10, "y": 10, "w": 40, "h": 30, "matched": True}]
    good = {"class_index": 0, "x": 11, "y": 10, "w": 40, "h": 30, "score": 0.9, "iou": 0.95}
    fp = {"class_index": 0, "x": 200, "y": 100, "w": 30, "h": 30, "score": 0.6, "iou": 0}
    rows = [
        (frames[2], [good], 0, 0, 0.95),  # fine
        (frames[3], [good, fp], 1, 0, 0.95),  # a false positive
        (frames[4], [], 0, 1, None),  # a miss
        (frames[5], [dict(good, x=30, iou=0.4)], 0, 0, 0.4),  # a low-IoU match
    ]
    for frame, boxes, n_fp, n_miss, min_iou in rows:
        FramePrediction.objects.create(
            run=run, frame=frame, boxes=boxes, ground_truth=gt, false_positives=n_fp,
            misses=n_miss, min_iou=min_iou, error_count=n_fp + n_miss,
        )  # fmt: skip
    job = finished(hard_frames_job_start(user=owner, evaluation_run=run).pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert sorted((c["frame"], c["reason"]) for c in job.chosen) == [
        (frames[3].pk, "false_positive"),
        (frames[4].pk, "miss"),
        (frames[5].pk, "low_iou"),
    ]
    assert Proposal.objects.filter(frame=frames[3], source="evaluation").count() == 2
    assert not Proposal.objects.filter(frame=frames[2]).exists()
    # Accepting on a labeled frame adds only the box that is not already labeled.
    from assisted.services import proposals_accept

    frames[3].refresh_from_db()
    state = proposals_accept(frame=frames[3], user=owner, version=frames[3].annotation_version)
    assert len(state.boxes) == 2
