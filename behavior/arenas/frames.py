"""A still of a video to draw its arena on and to put under heatmaps.

No decoding here: the best stored image of the video is used — a sampled frame at the
video's full size (the one nearest 10 % into the video, where the thumbnail is taken too),
else the thumbnail scaled up to the video's size. Both were written by the server itself.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from labeling.models import Frame, Video

JPEG_QUALITY = 88


def _stored_image(video: Video) -> Image.Image | None:
    target = video.frame_count // 10
    frames = Frame.objects.filter(video=video, width=video.width, height=video.height)
    candidates = list(frames.only("image", "frame_index").order_by("frame_index")[:500])
    for frame in sorted(candidates, key=lambda f: abs(f.frame_index - target)):
        try:
            with frame.image.open("rb") as fh:
                image = Image.open(io.BytesIO(fh.read()))
                image.load()
            return image
        except (FileNotFoundError, ValueError, OSError):
            continue
    if video.thumbnail:
        try:
            with video.thumbnail.open("rb") as fh:
                image = Image.open(io.BytesIO(fh.read()))
                image.load()
            return image
        except (FileNotFoundError, ValueError, OSError):
            return None
    return None


def arena_background(*, video: Video) -> Image.Image | None:
    """An RGB still of ``video`` at its original size (pixels match zone coordinates), or
    None when the video has no stored image."""
    image = _stored_image(video)
    if image is None:
        return None
    image = image.convert("RGB")
    if video.width and video.height and image.size != (video.width, video.height):
        image = image.resize((video.width, video.height), Image.Resampling.BILINEAR)
    return image


def arena_background_jpeg(*, video: Video) -> bytes | None:
    image = arena_background(video=video)
    if image is None:
        return None
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def arena_background_array(*, video: Video) -> np.ndarray | None:
    """uint8 (H, W, 3) RGB, or None."""
    image = arena_background(video=video)
    return None if image is None else np.asarray(image, dtype=np.uint8)
