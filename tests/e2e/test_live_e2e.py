"""In real Chromium: the Live page starts a session on a project video played at its frame
rate (the rehearsal camera), on a real ``live``-queue worker with the detector trained on
that video; the preview and its overlay update, an event fires and shows, Stop ends it, and
the link opens the resulting tracking run. Screenshots: test-artifacts/screenshots/live-*.

The clip is frames 330-629 of the shared recording (11 s on), where the mouse crosses the
middle of the arena, so the zone rules below have something to see.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import login, screenshot, wait_for
from tests.tracking.openfield_model import register_openfield_model
from tests.tracking.test_tracking_runs import add_video, clip
from tracking.models import LiveSession, TrackingRun
from webapp.models import TERMINAL_STATUSES, JobStatus

pytestmark = [pytest.mark.e2e, pytest.mark.worker, pytest.mark.slow]

SETUP = {
    "zones": [
        {"name": "left", "shape": "rect", "x": 0, "y": 0, "w": 320, "h": 480},
        {"name": "right", "shape": "rect", "x": 320, "y": 0, "w": 320, "h": 480},
        {"name": "arena", "shape": "rect", "x": 8, "y": 40, "w": 624, "h": 436},
    ],
    "rules": [
        {"name": "settled", "kind": "time_in_zone", "zone": "arena", "seconds": 0.5},
        {"name": "into right", "kind": "zone_entry", "zone": "right"},
        {"name": "into left", "kind": "zone_entry", "zone": "left"},
    ],
    "outputs": [{"name": "ttl", "kind": "serial", "port": "loop://"}],
}


@pytest.mark.django_db(transaction=True)
def test_the_live_page_starts_shows_the_overlay_and_events_stops_and_opens_the_run(
    page, start_worker, openfield_weights, project, owner, tmp_path
):
    worker = start_worker(queues=("live",))
    model = register_openfield_model(project=project, weights=openfield_weights)
    video = add_video(project, clip(tmp_path / "clip.mp4", frames=600, start_s=11.0))
    login(page, owner)
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.goto(f"/projects/{project.pk}/live/")
    page.select_option("#live-model", str(model.pk))
    page.fill("#live-source", f"video:{video.pk}")
    page.fill("#live-setup", json.dumps(SETUP, indent=1))
    page.click("#live-start")
    page.wait_for_selector("#live-status.status-queued, #live-status.status-running")

    # The overlay follows the frames: the canvas's frame number moves on, an animal row
    # shows a box, and the "settled" event reaches the recent events.
    page.wait_for_selector("#live-status.status-running", timeout=240_000)
    page.wait_for_function(
        "() => Number(document.getElementById('live-canvas').dataset.frame || 0) > 0",
        timeout=240_000,
    )
    first = int(page.locator("#live-canvas").get_attribute("data-frame"))
    page.wait_for_function(
        f"() => Number(document.getElementById('live-canvas').dataset.frame || 0) > {first}",
        timeout=60_000,
    )
    page.wait_for_selector("#live-events li.kind-time_in_zone", timeout=120_000)
    row = page.locator("#live-animals-table tbody tr").first
    assert row.locator("td").nth(0).inner_text() == "#1"
    assert page.locator("#live-latency").inner_text() != "—"
    screenshot(page, "live-running")
    # The preview is drawn (not the empty dark canvas): some pixel is bright (the floor).
    bright = page.evaluate(
        """() => {
          const c = document.getElementById('live-canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 150) n++;
          return n;
        }"""
    )
    assert bright > 1000

    page.click("#live-stop")
    page.wait_for_selector("#live-run-link:not(.d-none)", timeout=240_000)
    session = LiveSession.objects.get()
    assert session.status in TERMINAL_STATUSES
    assert session.status == JobStatus.SUCCEEDED, f"{session.error}\n{worker.log()[-3000:]}"
    assert session.summary["ended"] == "stopped" and session.summary["frames_recorded"] < 600
    assert page.locator("#live-status").inner_text() == "Succeeded"
    screenshot(page, "live-stopped")

    page.click("#live-run-link")
    page.wait_for_url(f"**/tracking-runs/{session.run_id}/")
    run = TrackingRun.objects.get(pk=session.run_id)
    assert run.status == JobStatus.SUCCEEDED
    wait_for(lambda: page.locator("body").inner_text(), what="the run page")
    assert f"#{run.pk}" in page.locator("body").inner_text()
    assert (
        page.locator("#dl-live-events")
        .get_attribute("href")
        .endswith(f"/live-sessions/{session.pk}/events.jsonl")
    )
    screenshot(page, "live-run")
