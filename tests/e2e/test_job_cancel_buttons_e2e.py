"""In real Chromium: the Cancel button of a running job on the video page (the shared
``wireCancel`` of static/webapp/jobs.js): it asks the job's cancel API, the page shows the
job cancelled and hides the button, and the row is cancelled (no worker runs here)."""

from __future__ import annotations

import pytest

from labeling.models import FrameSamplingJob
from tests.conftest import login, screenshot
from tests.labeling.videos.test_videos_api import _stored_video
from webapp.models import JobStatus

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_the_video_pages_cancel_button_stops_the_sampling_job(page, owner, project):
    video = _stored_video(project, name="cage-4.mp4")
    job = FrameSamplingJob.objects.create(
        video=video, strategy=FrameSamplingJob.Strategy.EVERY_SECONDS, status="queued"
    )
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/")
    assert page.get_attribute("#job-progress", "data-job-id") == str(job.pk)
    page.wait_for_selector("#job-cancel", state="visible")
    page.click("#job-cancel")
    page.wait_for_function(
        "() => document.querySelector('#job-label').textContent === 'Cancelled'", timeout=15_000
    )
    assert page.locator("#job-cancel").is_hidden()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    screenshot(page, "video-page-job-cancelled")
    assert not page.js_errors, page.js_errors
