"""Pre-label jobs in a real Celery worker: the bootstrap on the default queue (API and
``manage.py prelabel``), a trained model on the gpu queue."""

from __future__ import annotations

import json
from io import StringIO

import pytest

from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from assisted.bootstrap import box_iou
from assisted.models import PrelabelJob, Proposal
from labeling.models import Box, Frame
from tests.conftest import wait_for
from webapp.models import TERMINAL_STATUSES, JobStatus

from .helpers import store_video_frames, synthetic_video


def _finished(job_id: int) -> PrelabelJob:
    return wait_for(
        lambda: PrelabelJob.objects.filter(pk=job_id, status__in=TERMINAL_STATUSES).first(),
        timeout=180,
        what=f"pre-label job {job_id}",
    )


@pytest.mark.django_db(transaction=True)
def test_bootstrap_job_proposes_each_unlabeled_frame(celery_worker, project, owner, api_client_for):
    images, truth = synthetic_video(floor=215, mouse=35, n=10)
    video, frames = store_video_frames(project, images)
    mouse = project.classes.order_by("index").first()
    # A frame a person labeled gets no proposals.
    Box.objects.create(frame=frames[0], label_class=mouse, x=1, y=1, w=20, h=20)
    Frame.objects.filter(pk=frames[0].pk).update(status=Frame.Status.LABELED)
    client = api_client_for(owner)
    url = reverse("api-prelabel-job-list", args=[project.pk])
    bad = client.post(url, {"expected": 0}, format="json")
    assert bad.status_code == 400 and "expected" in bad.json()
    assert client.post(url, {"videos": [10**9]}, format="json").status_code == 400
    assert not PrelabelJob.objects.exists()

    res = client.post(url, {"videos": [video.pk]}, format="json")
    assert res.status_code == 202, res.content
    job = _finished(res.json()["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.frames_total, job.frames_done, job.proposals_created) == (9, 9, 9)
    assert not Proposal.objects.filter(frame=frames[0]).exists()
    for frame, (want,) in zip(frames[1:], truth[1:], strict=True):
        (p,) = Proposal.objects.filter(frame=frame)
        assert p.source == "bootstrap" and p.status == "pending"
        assert box_iou((p.x, p.y, p.w, p.h), want) > 0.75
        assert "dark animals" in p.model_ref
    assert Box.objects.count() == 1  # proposals are not labels

    detail = client.get(reverse("api-prelabel-job-detail", args=[job.pk])).json()
    assert detail["status"] == "succeeded" and detail["proposals_created"] == 9


@pytest.mark.django_db(transaction=True)
def test_prelabel_command_bootstraps_and_accepts_above(celery_worker, project):
    images, _ = synthetic_video(floor=215, mouse=35, n=8)
    store_video_frames(project, images)
    with pytest.raises(CommandError, match="no model 999"):
        call_command("prelabel", "--project", project.name, "--model", "999")
    out = StringIO()
    call_command(
        "prelabel", "--project", project.name, "--accept-above", "0.5", "--wait", stdout=out
    )
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert summary["proposals"] == 8 and summary["accepted"] == 8
    assert Box.objects.count() == 8
    assert Frame.objects.filter(status=Frame.Status.LABELED).count() == 8


@pytest.mark.django_db(transaction=True)
def test_model_prelabels_frames_of_the_recording_on_the_gpu_queue(
    celery_worker, project, owner, openfield_weights, openfield_video, api_client_for
):
    import cv2
    import numpy as np

    from tests.tracking.openfield_model import register_openfield_model

    cap = cv2.VideoCapture(str(openfield_video))
    images = []
    for index in np.linspace(100, 2200, 6).astype(int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, image = cap.read()
        assert ok
        images.append(image)
    cap.release()
    _, frames = store_video_frames(project, images, name="openfield.mp4")
    model = register_openfield_model(project=project, weights=openfield_weights)
    client = api_client_for(owner)
    res = client.post(
        reverse("api-prelabel-job-list", args=[project.pk]),
        {"model": model.pk, "conf": 0.3},
        format="json",
    )
    assert res.status_code == 202, res.content
    job = _finished(res.json()["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.frames_done == 6
    found = 0
    for frame in frames:
        proposals = list(Proposal.objects.filter(frame=frame))
        assert all(p.source == "model" and f"model #{model.pk}" in p.model_ref for p in proposals)
        found += bool(proposals)
    assert found >= 5
