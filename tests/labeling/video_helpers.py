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

# The size of coded frames.
W, H = 64, 48


def coded_frame(i: int, background: int = 128) -> np.ndarray:
    """A BGR frame whose top band holds ``i`` (0..255) as 8 blocks, most significant
    bit first, white for 1 and black for 0: a test can tell from the pixels which frame
    a decoder really gave."""
    image = np.full((H, W, 3), background, np.uint8)
    for bit in range(8):
        on = (i >> (7 - bit)) & 1
        image[8:24, bit * 8 : bit * 8 + 8] = 240 if on else 16
    return image


def read_code(image: np.ndarray) -> int:
    band = image[10:22].mean(axis=(0, 2))
    bits = [int(band[bit * 8 + 2 : bit * 8 + 6].mean() > 128) for bit in range(8)]
    return int("".join(map(str, bits)), 2)


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
