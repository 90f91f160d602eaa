"""The video players work when media live in S3-compatible object storage (a real S3 API,
moto's server, on localhost): the app streams the object with Range support after its
permission check, so the pages' CSP (``media-src 'self'``) lets Chromium play and seek it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labeling.models import Role
from tests.conftest import login, screenshot

pytestmark = pytest.mark.e2e


def h264_clip(path: Path, *, frames: int = 60, fps: int = 30) -> Path:
    """A small H.264 MP4 (what Chromium plays) whose frames differ."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(
        str(path), (160, 120), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
        macro_block_size=8, output_params=["-movflags", "+faststart"],
    )  # fmt: skip
    writer.send(None)
    for i in range(frames):
        image = np.full((120, 160, 3), 230, np.uint8)
        image[40:80, (2 * i) % 140 : (2 * i) % 140 + 20] = 20
        writer.send(image.tobytes())
    writer.close()
    return path


def stored_video(project, owner, tmp_path: Path):
    from labeling.videos.services import IncomingFile, video_upload

    path = h264_clip(tmp_path / "arena.mp4")
    video = video_upload(
        project=project,
        user=owner,
        incoming=IncomingFile(path=path, name=path.name, size=path.stat().st_size),
    )
    return video, path.read_bytes()


@pytest.mark.django_db
def test_the_video_file_is_streamed_from_the_bucket_with_ranges_not_redirected(
    s3_storage, client, project, owner, make_user, member_of, tmp_path
):
    from django.core.files.storage import default_storage
    from django.urls import reverse

    video, data = stored_video(project, owner, tmp_path)
    with pytest.raises(NotImplementedError):
        default_storage.path(video.file.name)  # really in the bucket
    url = reverse("video-file", args=[project.pk, video.pk])
    client.force_login(make_user("outsider"))
    assert client.get(url).status_code == 404
    client.force_login(member_of(make_user("vera"), Role.VIEWER))
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    assert b"".join(whole.streaming_content) == data
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and b"".join(part.streaming_content) == data[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert client.get(url, HTTP_RANGE=f"bytes={len(data)}-").status_code == 416


@pytest.mark.django_db(transaction=True)
def test_the_video_page_plays_and_seeks_a_video_stored_in_s3(
    s3_storage, page, project, owner, tmp_path
):
    video, _ = stored_video(project, owner, tmp_path)
    login(page, owner)
    page.goto(f"/projects/{project.pk}/videos/{video.pk}/")
    player = page.locator("video").first
    player.wait_for()
    page.wait_for_function(
        "() => { const v = document.querySelector('video'); "
        "return v && v.readyState >= 2 && v.duration > 1.5 && !v.error; }"
    )
    page.evaluate(
        "() => new Promise(done => { const v = document.querySelector('video'); "
        "v.addEventListener('seeked', done, {once: true}); v.currentTime = 1.2; })"
    )
    state = page.evaluate(
        "() => { const v = document.querySelector('video'); "
        "return {t: v.currentTime, ready: v.readyState, error: v.error && v.error.code, "
        "src: v.currentSrc}; }"
    )
    assert state["error"] is None and state["ready"] >= 2, state
    assert state["t"] == pytest.approx(1.2, abs=0.05)
    assert state["src"].startswith(page.url.split("/projects/")[0])  # served by the app
    screenshot(page, "s3-video-player")
    assert not page.js_errors, page.js_errors
