"""In real Chromium: drop the open-field video on the upload box, let the worker sample a
frame every 1.5 s, browse the frames, scrub the player and take a frame, refuse a bad
file, delete a video."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from labeling import tasks
from labeling.models import FrameSamplingJob, ImageSetImportJob, Role, Video
from tests.conftest import login, screenshot, wait_for
from tests.labeling.video_helpers import table_counts, write_video, zip_bytes

pytestmark = pytest.mark.e2e
# Chromium logs every non-2xx request to the console; these the tests provoke on purpose.
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: .*(400|413)")


def _frames_zip(folder: Path) -> Path:
    """Six 320×240 "frames" of a dark blob on a bright floor, zipped."""
    entries = {}
    for i in range(6):
        image = Image.new("RGB", (320, 240), (215, 215, 210))
        draw = ImageDraw.Draw(image)
        x, y = 40 + 40 * i, 60 + 15 * i
        draw.ellipse((x, y, x + 46, y + 26), fill=(25, 25, 25))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        entries[f"cage-2/img{i:03d}.png"] = buffer.getvalue()
    path = folder / "cage-2 frames.zip"
    path.write_bytes(zip_bytes(entries))
    return path


def _job_done(video: Video) -> FrameSamplingJob | None:
    return (
        video.sampling_jobs.filter(status__in=["succeeded", "failed", "cancelled", "timed_out"])
        .order_by("-id")
        .first()
    )


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_upload_sample_browse_and_take_a_frame(
    page, celery_worker, owner, project, openfield_video, tmp_path
):
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/")
    assert page.input_value("#sample-every") == "1.5"  # the seed paper's rate by default
    assert page.is_checked("#sample-after")
    page.set_input_files("#drop-zone input[type=file]", str(openfield_video))
    page.wait_for_selector(".upload-item.is-done", timeout=90_000)
    assert "2330 frames" in page.text_content(".upload-item .state")
    # The list refreshes itself with the new row.
    page.wait_for_selector("#video-table >> text=openfield-m3v1.mp4")
    video = Video.objects.get(kind=Video.Kind.VIDEO)
    job = wait_for(lambda: _job_done(video), timeout=300, what="sampling")
    assert job.status == "succeeded", job.error
    assert video.frames.count() == 52

    # A zip of frames extracted elsewhere becomes an image set.
    page.set_input_files("#drop-zone input[type=file]", str(_frames_zip(tmp_path)))
    page.wait_for_selector(".upload-item.is-done >> text=Image set added: 6 frames")
    image_set = Video.objects.get(kind=Video.Kind.IMAGE_SET)
    assert image_set.original_name == "cage-2 frames.zip" and image_set.frames.count() == 6

    page.reload()
    row = page.locator(f'tr[data-video-id="{video.pk}"]')
    assert "52" in row.text_content() and "1:18" in row.text_content()
    assert "640×480" in row.text_content()
    # Thumbnails are made on first request (a sandboxed decode): wait for them to load.
    page.wait_for_function(
        "() => { const i = document.querySelector('img.video-thumb');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    assert page.evaluate("() => document.querySelector('img.video-thumb').naturalWidth") == 320
    screenshot(page, "videos-list")

    page.click(f'tr[data-video-id="{video.pk}"] a.video-name')
    page.wait_for_selector("#frame-grid figure")
    assert page.locator("#frame-grid figure").count() == 52
    assert page.locator('#frame-grid figure[data-frame-index="2295"]').count() == 1
    # All thumbnails load through the permission-checked image endpoint.
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#frame-grid img'))"
        ".slice(0, 8).every(i => i.complete && i.naturalWidth === 640)"
    )
    # The player streams the file with byte ranges and knows the duration.
    page.wait_for_function(
        "() => document.getElementById('player').readyState >= 1", timeout=30_000
    )
    duration = page.evaluate("() => document.getElementById('player').duration")
    assert duration == pytest.approx(77.67, abs=0.1)

    # Scrub to frame 99, step one frame forward, take it.
    page.evaluate(
        "() => { const s = document.getElementById('scrubber'); s.value = '99';"
        " s.dispatchEvent(new Event('input')); }"
    )
    page.click("#frame-next")
    assert page.text_content("#frame-index") == "100"
    assert page.text_content("#frame-time") == "3.333"
    page.wait_for_function(
        "() => Math.abs(document.getElementById('player').currentTime - 100.5 / 30) < 0.02"
    )
    page.click("#take-frame")
    page.wait_for_selector("#job-progress:not(.d-none)")
    # When the job finishes the page reloads with the new frame in the grid.
    page.wait_for_selector('#frame-grid figure[data-frame-index="100"]', timeout=90_000)
    assert video.frames.get(frame_index=100).timestamp_s == pytest.approx(3.3333, abs=2e-3)
    assert page.locator("#frame-grid figure").count() == 53
    # The player is back on the frame that was taken, and shows it.
    page.wait_for_function("() => document.getElementById('frame-index').textContent === '100'")
    page.wait_for_function("() => document.getElementById('player').readyState >= 2")
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "videos-page")

    # The sampling form: 4 frames spread evenly (0, 776, 1553, 2329); 0 is already there.
    page.select_option("#strategy", "uniform")
    assert page.is_hidden("#seconds-field")
    page.fill("#n", "4")
    page.click("#sample-submit")
    page.wait_for_selector('#frame-grid figure[data-frame-index="2329"]', timeout=90_000)
    assert page.locator("#frame-grid figure").count() == 56
    assert "4 uniform" in page.text_content(".jobs-table")
    assert not page.js_errors, page.js_errors


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_bad_file_dropped_in_the_browser_says_why_and_is_not_kept(
    page, celery_worker, owner, project, tmp_path, settings
):
    settings.MAX_UPLOAD_BYTES = 20_000
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"these are my notes, not a video\n" * 100)
    big = tmp_path / "huge.mp4"
    big.write_bytes(b"\0" * 30_000)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/")
    before = table_counts()
    page.set_input_files("#drop-zone input[type=file]", [str(bad), str(big)])
    page.wait_for_selector(".upload-item.is-failed >> text=not a video")
    failed = page.locator(".upload-item.is-failed")
    assert failed.count() == 2
    texts = {
        failed.nth(i).locator(".name").text_content(): failed.nth(i).text_content()
        for i in range(2)
    }
    assert "Too large: the limit is 19.5 KB" in texts["huge.mp4"]  # refused before sending
    assert "not a video" in texts["notes.mp4"]
    assert table_counts() == before
    assert page.locator("#video-empty").is_visible()
    screenshot(page, "videos-upload-refused")
    assert not [e for e in page.js_errors if not EXPECTED_CONSOLE.search(e)], page.js_errors


@pytest.mark.django_db(transaction=True)
def test_delete_a_video_after_confirming(page, owner, project, tmp_path, member_of, make_user):
    from labeling.videos import services
    from labeling.videos.services import IncomingFile

    path = write_video(tmp_path / "wrong camera.mp4")
    video = services.video_upload(
        project=project,
        user=owner,
        incoming=IncomingFile(path=path, name=path.name, size=path.stat().st_size),
    )
    viewer = member_of(make_user("vera"), Role.VIEWER)
    login(page, viewer)
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/")
    assert page.locator("#video-delete-form").count() == 0  # viewers cannot delete
    assert page.locator("#sample-form").count() == 0
    page.context.clear_cookies()

    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#video-delete-form button")
    assert Video.objects.filter(pk=video.pk).exists()  # dismissed: nothing happens
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#video-delete-form button")
    page.wait_for_selector("text=“wrong camera.mp4” was deleted")
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not page.js_errors, page.js_errors


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_image_set_whose_worker_died_is_retried_from_the_upload_list(
    page, celery_worker, owner, project, tmp_path, monkeypatch
):
    """The stale check failed an image-set job (its worker died, the zip kept): the upload
    row says so and offers Retry, which makes the set without a second upload."""
    with monkeypatch.context() as patch:
        # Sent where no worker listens: the job stays queued until the test fails it.
        patch.setattr(tasks.imageset_import_run, "mousetrack_queue", "nobody-listens")
        login(page, owner)
        page.goto(f"/projects/{project.pk}/videos/")
        page.set_input_files("#drop-zone input[type=file]", str(_frames_zip(tmp_path)))
        job = wait_for(lambda: ImageSetImportJob.objects.filter(project=project).first())
        ImageSetImportJob.objects.filter(pk=job.pk).update(
            status="failed", error="Its worker stopped answering (the stale check)."
        )
        page.wait_for_selector(".upload-item.is-failed .job-retry", timeout=30_000)
    assert "worker stopped answering" in page.text_content(".upload-item .state")
    screenshot(page, "imageset-retry")
    page.click(".upload-item .job-retry")
    page.wait_for_selector(".upload-item.is-done >> text=Image set added: 6 frames", timeout=60_000)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.video.frames.count() == 6
    assert not page.js_errors, page.js_errors


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_many_dropped_images_become_an_image_set_through_a_job(
    page, celery_worker, owner, project, tmp_path, settings
):
    settings.IMAGESET_IN_REQUEST_MAX_FILES = 2  # the web server runs in this process
    paths = []
    for i in (3, 1, 2):
        path = tmp_path / f"cage-4 {i}.png"
        Image.new("RGB", (64, 48), (20 * i, 90, 90)).save(path)
        paths.append(str(path))
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/")
    page.set_input_files("#drop-zone input[type=file]", paths)
    page.wait_for_selector(".upload-item.is-done >> text=Image set added: 3 frames", timeout=60_000)
    job = ImageSetImportJob.objects.get(project=project)
    assert job.status == "succeeded" and job.source_name == "3 images"
    names = job.video.frames.order_by("frame_index").values_list("source_name", flat=True)
    assert list(names) == ["cage-4 1.png", "cage-4 2.png", "cage-4 3.png"]
    assert not page.js_errors, page.js_errors
