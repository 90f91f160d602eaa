"""In real Chromium: track a two-mouse clip made from the shared recording with a small
detector trained on it, play the run page with the overlay drawn in sync, swap the two
identities from a frame on, and see the CSV follow the edit."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.conftest import OPENFIELD_VIDEO, login, screenshot, wait_for
from tests.tracking.openfield_model import register_openfield_model
from tests.tracking.test_tracking_runs import add_video
from tracking.models import TrackingRun
from webapp.models import JobStatus

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.slow]


def overlay_pixels(page) -> int:
    """Non-transparent pixels the page drew on the overlay canvas."""
    return page.evaluate(
        """() => { const c = document.getElementById('overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
    )


@pytest.mark.django_db(transaction=True)
def test_track_play_with_overlay_and_swap_identities_from_here(
    page, celery_worker, openfield_weights, project, owner, tmp_path, api_client_for
):
    from tests.tracking.synthetic_video import make_two_mouse_video

    register_openfield_model(project=project, weights=openfield_weights)
    clip = tmp_path / "two-mice.mp4"
    make_two_mouse_video(OPENFIELD_VIDEO, clip, start=300, n_frames=150)
    video = add_video(project, clip)

    login(page, owner)
    page.goto(f"/projects/{project.pk}/tracking/")
    page.fill("#track-animals", "2")
    page.check(f"#v{video.pk}")
    screenshot(page, "tracking-start")
    page.click("#track-start")
    page.wait_for_url("**/tracking-runs/*/")
    run = TrackingRun.objects.get(video=video)
    wait_for(lambda: TrackingRun.objects.get(pk=run.pk).status not in ("queued", "running"),
             timeout=600, what="the tracking run")  # fmt: skip
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, f"{run.error}\n{celery_worker.log()[-3000:]}"

    page.wait_for_selector("#results:not([hidden])")
    page.wait_for_function("() => document.getElementById('run-page').dataset.trackLoaded === '1'")
    page.wait_for_function("() => document.getElementById('player').readyState >= 2")
    # Seek into the clip: the overlay draws the boxes of the frame shown.
    page.evaluate("() => { document.getElementById('player').currentTime = 2.0; }")
    page.wait_for_function("() => document.getElementById('frame-now').textContent !== '0'")
    frame_now = int(page.text_content("#frame-now"))
    assert 50 <= frame_now <= 70, frame_now
    try:
        wait_for(lambda: overlay_pixels(page) > 200, timeout=20, what="boxes on the overlay")
    except AssertionError:
        screenshot(page, "tracking-run-no-overlay")
        info = page.evaluate(
            "() => { const c = document.getElementById('overlay');"
            " return [c.width, c.height, document.getElementById('frame-now').textContent]; }"
        )
        raise AssertionError(f"overlay {info}, pixels {overlay_pixels(page)}") from None
    assert page.locator("#trust-table tbody tr").count() == 2
    # Two animals: the page says how identities were linked, by look too or by motion only.
    assert page.text_content("#identity-note").startswith("Identities follow motion")
    assert "identity" in run.timing and "used" in run.timing["identity"]
    screenshot(page, "tracking-run")

    client = api_client_for(owner)

    def animal_1_x_at(frame: int) -> float:
        response = client.get(f"/api/tracking-runs/{run.pk}/trajectory.csv")
        table = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
        assert len(table) == 2 * 150
        return table[(table.frame == frame) & (table.animal == 1)].x.item()

    before = {f: animal_1_x_at(f) for f in (10, 140)}
    page.click("#swap-here")
    page.wait_for_selector("#edit-list li")
    assert "from frame" in page.text_content("#edit-list")
    assert run.edits.filter(reverted_at__isnull=True).count() == 1
    edit = run.edits.get()
    assert edit.from_frame == frame_now
    after = {f: animal_1_x_at(f) for f in (10, 140)}
    assert after[10] == before[10]  # before the swap frame: unchanged
    assert after[140] != before[140]  # after it: animal 1 is the other mouse now
    screenshot(page, "tracking-run-swapped")
    assert not page.js_errors, page.js_errors
