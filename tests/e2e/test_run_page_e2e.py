"""In real Chromium, the run page's ways out and around: Arena and Analysis links that
open those pages, frame-by-frame stepping (",", "." and the buttons), deleting a run or a
model (refused with the reason shown while something depends on it), and a Swap button
that says why it is disabled on a one-animal run. The runs are constructed (known
trajectories) over a clip of the shared recording, so no worker is needed."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import OPENFIELD_VIDEO, login, screenshot
from tests.tracking.run_helpers import make_tracked_run, make_trajectory
from tests.tracking.test_tracking_runs import add_video, clip
from tracking.models import TrackingRender, TrackingRun
from training.models import TrainedModel
from webapp.models import JobStatus

pytestmark = [pytest.mark.e2e]

FRAMES = 90


@pytest.fixture
def clip_video(project, tmp_path):
    if not OPENFIELD_VIDEO.exists():
        pytest.skip(f"the shared open-field video is absent ({OPENFIELD_VIDEO})")
    return add_video(project, clip(tmp_path / "clip.mp4", frames=FRAMES))


def two_mice() -> np.ndarray:
    t = np.arange(FRAMES, dtype=float)
    a = np.stack([100 + 3 * t, np.full(FRAMES, 200.0)], axis=-1)
    b = np.stack([500 - 3 * t, np.full(FRAMES, 300.0)], axis=-1)
    return np.stack([a, b], axis=1)


def open_run(page, run) -> None:
    page.goto(f"/tracking-runs/{run.pk}/")
    page.wait_for_function("() => document.getElementById('run-page').dataset.trackLoaded === '1'")
    page.wait_for_function("() => document.getElementById('player').readyState >= 2")


def frame_now(page) -> int:
    return int(page.text_content("#frame-now"))


@pytest.mark.django_db(transaction=True)
def test_run_page_links_stepping_and_delete_with_reason(page, project, owner, clip_video):
    run = make_tracked_run(
        project=project, video=clip_video, trajectory=make_trajectory(two_mice())
    )
    login(page, owner)
    open_run(page, run)
    page.on("dialog", lambda dialog: dialog.accept())

    # Arena and Analysis, from the run.
    assert page.get_attribute("#arena-link", "href") == (
        f"/projects/{project.pk}/videos/{clip_video.pk}/arena/"
    )
    page.click("#arena-link")
    page.wait_for_url(f"**/videos/{clip_video.pk}/arena/")
    screenshot(page, "run-page-arena-from-run")
    page.go_back()
    page.click("#analysis-link")
    page.wait_for_url(f"**/tracking-runs/{run.pk}/analysis/")
    screenshot(page, "run-page-analysis-from-run")
    open_run(page, run)

    # Frame by frame: "." forward, "," back, and the buttons.
    page.evaluate("() => { document.getElementById('player').currentTime = 1.0; }")
    page.wait_for_function("() => document.getElementById('frame-now').textContent === '30'")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press(".")
    page.wait_for_function("() => document.getElementById('frame-now').textContent === '31'")
    page.keyboard.press(".")
    page.wait_for_function("() => document.getElementById('frame-now').textContent === '32'")
    page.keyboard.press(",")
    page.wait_for_function("() => document.getElementById('frame-now').textContent === '31'")
    page.click("#step-back")
    page.click("#step-back")
    page.wait_for_function("() => document.getElementById('frame-now').textContent === '29'")
    # It stays there once the video has finished seeking (no redraw moves it on).
    page.wait_for_function("() => !document.getElementById('player').seeking")
    page.wait_for_timeout(500)
    assert frame_now(page) == 29
    page.click("#step-forward")
    page.wait_for_function("() => document.getElementById('frame-now').textContent === '30'")
    # The video element shows that frame too (its clock lands inside frame 30).
    media_time = page.evaluate("() => document.getElementById('player').currentTime")
    assert 30 / 30 <= media_time < 31 / 30, media_time
    page.wait_for_timeout(500)
    assert frame_now(page) == 30
    screenshot(page, "run-page-stepped")
    assert page.is_enabled("#swap-here")

    # Delete: refused with the reason while a render works on the run.
    render = TrackingRender.objects.create(run=run, status=JobStatus.RUNNING)
    page.click("#run-delete")
    page.wait_for_selector(".alert-danger:has-text('Not deleted')")
    alert = page.text_content(".alert-danger:has-text('Not deleted')")
    assert f"#{render.pk} (running)" in alert, alert
    screenshot(page, "run-page-delete-refused")
    assert TrackingRun.objects.filter(pk=run.pk).exists()

    # The model page refuses too, naming the run that uses the model.
    page.goto(f"/training/models/{run.model_id}/")
    page.click("#model-delete")
    page.wait_for_selector(".alert-danger:has-text('Not deleted')")
    assert f"Tracking run #{run.pk}" in page.text_content(".alert-danger:has-text('Not deleted')")
    screenshot(page, "model-page-delete-refused")

    # Once the render ended, the run goes; then the model can go.
    TrackingRender.objects.filter(pk=render.pk).update(status=JobStatus.SUCCEEDED)
    open_run(page, run)
    page.click("#run-delete")
    page.wait_for_url(f"**/projects/{project.pk}/tracking/")
    assert f"Run #{run.pk} deleted" in page.text_content("body")
    assert not TrackingRun.objects.filter(pk=run.pk).exists()
    page.goto(f"/training/models/{run.model_id}/")
    page.click("#model-delete")
    page.wait_for_url(f"**/projects/{project.pk}/training/")
    assert not TrainedModel.objects.filter(pk=run.model_id).exists()
    screenshot(page, "model-deleted")
    assert not page.js_errors, page.js_errors


@pytest.mark.django_db(transaction=True)
def test_swap_is_disabled_on_a_one_animal_run_and_says_why(page, project, owner, clip_video):
    run = make_tracked_run(
        project=project, video=clip_video, trajectory=make_trajectory(two_mice()[:, :1])
    )
    login(page, owner)
    open_run(page, run)
    assert not page.is_enabled("#swap-here")
    assert "needs two animals" in page.get_attribute("#swap-here-why", "title")
    assert "needs two animals" in page.text_content("#swap-one-animal")
    page.locator("#swap-form").scroll_into_view_if_needed()
    screenshot(page, "run-page-one-animal-swap")
    assert not page.js_errors, page.js_errors


@pytest.mark.django_db(transaction=True)
def test_a_labeled_tracked_video_is_deleted_from_its_page_saying_what_goes(
    page, project, owner, clip_video
):
    from labeling.models import Frame, Video
    from tests.labeling.videos.test_videos_api import _frame

    for index in (0, 5):
        _frame(clip_video, index, boxes=1, status=Frame.Status.LABELED)
    run = make_tracked_run(
        project=project, video=clip_video, trajectory=make_trajectory(two_mice())
    )
    TrackingRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING)
    login(page, owner)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.goto(f"/projects/{project.pk}/videos/{clip_video.pk}/")
    page.click("#video-delete-details summary")
    statement = page.text_content("#video-delete-statement")
    assert "2 labeled frame(s) with 2 box(es)" in statement, statement
    assert f"tracking run #{run.pk}" in statement and "every model" in statement
    assert "cancel them first" in statement
    screenshot(page, "video-delete-statement")

    # A running run: refused, and the page says why.
    page.click("#video-delete")
    page.wait_for_selector(".alert-danger")
    assert "cancel it first" in page.text_content(".alert-danger")
    assert Video.objects.filter(pk=clip_video.pk).exists()
    screenshot(page, "video-delete-refused")

    TrackingRun.objects.filter(pk=run.pk).update(status=JobStatus.SUCCEEDED)
    page.reload()
    page.click("#video-delete")
    page.wait_for_url(f"**/projects/{project.pk}/videos/")
    assert "labeled frame(s)" in dialogs[-1] and f"#{run.pk}" in dialogs[-1], dialogs
    assert "was deleted" in page.text_content("body")
    assert not Video.objects.filter(pk=clip_video.pk).exists()
    assert not TrackingRun.objects.filter(pk=run.pk).exists()
    assert TrainedModel.objects.filter(pk=run.model_id).exists()
    screenshot(page, "video-deleted")
    assert not page.js_errors, page.js_errors
