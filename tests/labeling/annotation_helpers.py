"""Tiny frames for the annotation tests: a Video row and Frame rows whose images live in
Django's default storage (no video upload or sampling involved)."""

from __future__ import annotations

import io
import uuid

from PIL import Image

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeling.models import Frame, Project, Video


def jpeg_bytes(width: int, height: int, color=(90, 90, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()


def store_image(data: bytes, ext: str = "jpg") -> str:
    return default_storage.save(f"test-frames/{uuid.uuid4().hex}.{ext}", ContentFile(data))


def make_video(
    project: Project, name: str = "cage-1.mp4", width: int = 320, height: int = 240
) -> Video:
    return Video.objects.create(
        project=project,
        original_name=name,
        width=width,
        height=height,
        fps=30.0,
        frame_count=100,
    )


def make_frames(
    video: Video, count: int = 1, *, split: str = "", image: bytes | None = None, start: int = 0
) -> list[Frame]:
    data = image if image is not None else jpeg_bytes(video.width, video.height)
    return [
        Frame.objects.create(
            project=video.project,
            video=video,
            frame_index=start + i,
            timestamp_s=(start + i) / 30,
            image=store_image(data),
            width=video.width,
            height=video.height,
            split=split,
        )
        for i in range(count)
    ]
