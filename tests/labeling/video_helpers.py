"""Helpers for the video tests: tiny synthetic videos, uploads through the API, and
snapshots of everything on disk (media storage and the upload temp dir), so a test can
say "this request left nothing behind"."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

from django.conf import settings

from labeling.models import Frame, FrameSamplingJob, Video


def write_video(
    path: Path,
    *,
    frames: int = 12,
    width: int = 64,
    height: int = 48,
    fps: int = 10,
    faststart: bool = False,
    still: bool = False,
) -> Path:
    """An MPEG-4 Part 2 video in MP4 whose frames differ (unless ``still``)."""
    options = {"movflags": "faststart"} if faststart else {}
    container = av.open(str(path), "w", format="mp4", options=options)
    stream = container.add_stream("mpeg4", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    rng = np.random.default_rng(7)
    for i in range(frames):
        if still:
            image = np.full((height, width, 3), 128, np.uint8)
        else:
            image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            image[:, : (i * 7) % width] = 255
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def png_bytes(width: int = 32, height: int = 24, color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 32, height: int = 24, color=(30, 30, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(client, project_id: int, files, **fields):
    """POST files (``[(name, bytes or Path)]`` or one such pair) to the upload endpoint."""
    if isinstance(files, tuple):
        files = [files]
    handles = []
    for name, content in files:
        data = content.read_bytes() if isinstance(content, Path) else content
        handle = io.BytesIO(data)
        handle.name = name
        handles.append(handle)
    body = {"file": handles, **fields}
    return client.post(f"/api/projects/{project_id}/videos/", body, format="multipart")


def files_on_disk() -> set[str]:
    """Every file under MEDIA_ROOT, FILE_UPLOAD_TEMP_DIR and the scratch space."""
    found = set()
    for root in (settings.MEDIA_ROOT, settings.FILE_UPLOAD_TEMP_DIR, settings.SCRATCH_DIR):
        for folder, _, names in os.walk(root):
            found.update(os.path.join(folder, n) for n in names)
    return found


def temp_files() -> list[str]:
    return sorted(os.listdir(settings.FILE_UPLOAD_TEMP_DIR))


def table_counts() -> tuple[int, int, int]:
    return Video.objects.count(), Frame.objects.count(), FrameSamplingJob.objects.count()
