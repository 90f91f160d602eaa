"""In real Chromium with a real worker (issue 21): a new user gets proposals from the video
page with clicks only. "Find mice without labels (bootstrap)" and "Pre-label with model"
start the job, its progress shows on the page, and the link it ends with opens the editor
on frames whose proposals panel is not empty."""

from __future__ import annotations

import uuid

import pytest

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from assisted.models import PrelabelJob, Proposal
from labeling.models import Frame, Video
from tests.conftest import login, screenshot
from webapp.models import JobStatus

pytestmark = pytest.mark.e2e

FRAME_INDICES = (0, 400, 800, 1200, 1600, 2000)


def _recording_frames(project, video_path) -> Video:
    """Six unlabeled frames of the real recording, stored as the sampler stores them."""
    import cv2

    capture = cv2.VideoCapture(str(video_path))
    video = Video.objects.create(
        project=project,
        original_name="openfield.mp4",
        width=640,
        height=480,
        fps=30.0,
        frame_count=2330,
    )
    for index in FRAME_INDICES:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
        assert ok
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        name = default_storage.save(f"frames/e2e-{uuid.uuid4().hex}.jpg", ContentFile(jpeg))
        Frame.objects.create(
            project=project,
            video=video,
            frame_index=index,
            timestamp_s=index / 30,
            image=name,
            width=640,
            height=480,
        )
    capture.release()
    return video


def _proposals_in_editor(page, name: str) -> int:
    """Follow the panel's link to the editor; the proposals panel's count once it shows."""
    page.click("#prelabel-open")
    page.wait_for_url("**/label/?video=*&proposals=pending")
    page.wait_for_function("() => document.getElementById('editor').dataset.ready === '1'")
    page.wait_for_function(
        "() => Number(document.getElementById('proposal-count').textContent) > 0"
    )
    screenshot(page, name)
    return int(page.text_content("#proposal-count"))


@pytest.mark.django_db(transaction=True)
def test_find_mice_without_labels_then_review_them_in_the_editor(
    celery_worker, page, project, owner, openfield_video
):
    video = _recording_frames(project, openfield_video)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/")
    assert page.locator("#prelabel-model").count() == 0  # no model yet
    assert "6 unlabeled frames" in page.text_content("#prelabel-panel")
    screenshot(page, "prelabel-video-page-new-project")

    page.click("#prelabel-bootstrap")
    page.wait_for_selector("#prelabel-progress:not(.d-none)")
    page.wait_for_selector("#prelabel-open:not(.d-none)", timeout=180_000)
    job = PrelabelJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.source == "bootstrap"
    assert [v.pk for v in job.videos.all()] == [video.pk]
    assert page.text_content("#prelabel-message").startswith(
        f"6 of 6 frames, {job.proposals_created} proposals"
    )
    screenshot(page, "prelabel-bootstrap-done")

    assert _proposals_in_editor(page, "prelabel-bootstrap-editor") >= 1
    assert Proposal.objects.filter(source="bootstrap", status="pending").count() >= 5
    assert not page.js_errors, page.js_errors


@pytest.mark.django_db(transaction=True)
def test_pre_label_with_a_trained_model_then_review_in_the_editor(
    celery_worker, page, project, owner, openfield_video, openfield_weights
):
    from tests.tracking.openfield_model import register_openfield_model

    video = _recording_frames(project, openfield_video)
    model = register_openfield_model(project=project, weights=openfield_weights)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/")
    page.select_option("#prelabel-model", str(model.pk))
    page.click("#prelabel-model-start")
    page.wait_for_selector("#prelabel-open:not(.d-none)", timeout=180_000)
    job = PrelabelJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.model_id == model.pk
    assert "openfield yolo11n" in page.text_content("#prelabel-label")
    screenshot(page, "prelabel-model-done")

    assert _proposals_in_editor(page, "prelabel-model-editor") >= 1
    assert Proposal.objects.filter(source="model", status="pending").count() >= 5
    assert not page.js_errors, page.js_errors
