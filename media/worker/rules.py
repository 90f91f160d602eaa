"""What the worker accepts, and which frames a plan selects (pure: timestamps and counts
in, indices out). :mod:`media.probe` and :mod:`media.sampling`
re-export the public names: they are decided in the child, so they live here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_DIMENSION = 8192
MIN_FRAMES = 2
# About 27 hours at 30 fps: more packets than that is a crafted file or a mistake.
MAX_FRAMES = 3_000_000

# ffmpeg demuxer names (as ffmpeg spells them) accepted for upload.
ALLOWED_CONTAINERS = frozenset(
    {
        "mov,mp4,m4a,3gp,3g2,mj2",  # .mp4 .mov .m4v
        "avi",
        "matroska,webm",  # .mkv .webm
        "mpeg",  # MPEG program stream
        "mpegts",
    }
)
# ffmpeg codec names of the video codecs lab cameras and converters write.
ALLOWED_CODECS = frozenset(
    {
        "h264",
        "hevc",
        "mpeg4",  # also XVID/DIVX and OpenCV's "mp4v"
        "msmpeg4v2",
        "msmpeg4v3",
        "mjpeg",
        "vp8",
        "vp9",
        "av1",
        "mpeg1video",
        "mpeg2video",
        "ffv1",
        "rawvideo",
        "prores",
    }
)
CONTAINER_NAMES = "MP4/MOV, AVI, MKV/WebM or MPEG-PS/TS"

# Dedup thumbnails are this wide (grayscale); the height keeps the aspect ratio.
DEDUP_THUMB_WIDTH = 64


class FileRejected(Exception):
    """The file is not an acceptable video; the message is for a person."""


class DecodeFailed(Exception):
    """Sampling cannot go on; the message is for a person. ``context`` goes with it to the
    parent, as keyword arguments of the exception raised there."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.context = context


def check_frame_size(width: int, height: int, *, allow_unknown: bool = False) -> None:
    if allow_unknown and width == 0 and height == 0:
        return  # some containers only know after decoding; checked on every frame
    if width <= 0 or height <= 0:
        raise FileRejected(f"The video's frame size ({width}×{height}) is invalid.")
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise FileRejected(
            f"The video's frames are {width}×{height} pixels; at most "
            f"{MAX_DIMENSION}×{MAX_DIMENSION} is supported."
        )


# --------------------------------------------------------------------------------------
# Pure frame selection (timestamps and counts in, indices out)


def indices_every_seconds(timestamps_s: Sequence[float], seconds: float) -> list[int]:
    """Indices of the frames nearest to times 0, ``seconds``, 2 * ``seconds``, ...

    ``timestamps_s``: presentation timestamps in increasing order, the first frame at 0
    (or not: times are counted from the first). A target time past the last frame by more
    than half a frame interval is not taken. When a gap in a variable-frame-rate file puts
    one frame nearest to several targets, it is taken once.
    """
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError("seconds must be a positive number")
    ts = np.asarray(timestamps_s, dtype=np.float64)
    if ts.size == 0:
        return []
    rel = ts - ts[0]
    # Half the typical frame interval: a frame that late still counts as "at" the target
    # (frame 45 of a 29.9997 fps file is at 1.499985 s, and is the 1.5 s frame).
    half_frame = 0.5 * float(np.median(np.diff(rel))) if rel.size > 1 else 0.0
    count = int(math.floor((rel[-1] + half_frame) / seconds + 1e-9)) + 1
    targets = np.arange(count, dtype=np.float64) * seconds
    right = np.clip(np.searchsorted(rel, targets, side="left"), 0, rel.size - 1)
    left = np.clip(right - 1, 0, rel.size - 1)
    # On a tie the earlier frame wins: it is the one on screen at the target time.
    nearest = np.where(np.abs(rel[left] - targets) <= np.abs(rel[right] - targets), left, right)
    return sorted({int(i) for i in nearest})


def indices_uniform(frame_count: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``frame_count`` frames, first and last included
    (all of them when ``n >= frame_count``)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if frame_count <= 0:
        return []
    if n >= frame_count:
        return list(range(frame_count))
    if n == 1:
        return [0]
    return sorted({int(round(x)) for x in np.linspace(0, frame_count - 1, n)})
