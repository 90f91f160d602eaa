"""In real Chromium: the video list updates itself while a video is being sampled (as the
job pages do) and stops polling once sampling ended — no manual reload (issue 13)."""

from __future__ import annotations

import pytest

from labeling.models import Frame, FrameSamplingJob
from tests.conftest import login, screenshot
from tests.labeling.videos.test_videos_api import _frame, _stored_video

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_the_video_list_follows_sampling_without_a_reload(page, owner, project):
    video = _stored_video(project, name="cage-3.mp4")
    job = FrameSamplingJob.objects.create(
        video=video, strategy=FrameSamplingJob.Strategy.EVERY_SECONDS, status="running"
    )
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/")
    row = page.locator(f'tr[data-video-id="{video.pk}"]')
    assert "sampling" in row.text_content() and "0 sampled" in " ".join(row.text_content().split())
    page.evaluate("() => { window.notReloaded = true; }")

    # The worker's part, done here: frames appear while the job runs, then it ends.
    for index in (0, 15):
        _frame(video, index, status=Frame.Status.UNLABELED)
    page.wait_for_function(
        "() => document.querySelector('#video-table .frames-cell').textContent"
        ".replace(/\\s+/g, ' ').includes('2 sampled')",
        timeout=15_000,
    )
    FrameSamplingJob.objects.filter(pk=job.pk).update(status="succeeded", frames_created=2)
    page.wait_for_function(
        "() => !document.querySelector('#video-list-card').dataset.sampling", timeout=15_000
    )
    assert (
        "sampling" not in page.locator(f'tr[data-video-id="{video.pk}"] .name-cell').text_content()
    )
    assert page.evaluate("() => window.notReloaded === true")
    screenshot(page, "video-list-after-sampling")

    # Polling stopped: a frame added now shows only after a reload.
    _frame(video, 30, status=Frame.Status.UNLABELED)
    page.wait_for_timeout(4_500)
    assert "2 sampled" in " ".join(page.locator(".frames-cell").first.text_content().split())
    assert not page.js_errors, page.js_errors
