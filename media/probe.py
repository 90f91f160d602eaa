"""Probe videos, decoding in a sandboxed subprocess; what every video reader shares.

Pure module: no Django import. Plain values and dataclasses in and out. With
:mod:`media.sampling` (chosen frames) this is the public face of the decoder: the
error classes, ``VideoInfo``, the limits and the argument checks live here. The work is
split in two modules:

- :mod:`media.sandbox` runs the decoding in a child Python under limits on
  address space, CPU seconds, core files and written file size, with a wall-clock limit,
  and kills it on a timeout. Uploaded videos are untrusted, and a crafted file can make a
  decoder crash, loop or allocate without bound: that ends as a ``VideoError`` carrying a
  message for a person, never as a dead web or Celery worker.
- :mod:`media.worker` is what runs in the child: opening a file with only the
  allowed demuxers, indexing its packets, and decoding only what the chosen frames need
  (its notes say how, and when jumping ahead is safe).

Conventions
- A frame's ``index`` is its position in presentation (display) order among the packets
  the container holds, counting from 0; it is what OpenCV's ``CAP_PROP_POS_FRAMES`` and
  ffmpeg's frame numbering count on an intact file.
- A frame's ``timestamp_s`` is its presentation timestamp (PTS) from the container, in
  seconds, relative to the first frame's PTS. It is not ``index / fps``, which drifts on
  variable-frame-rate files.
- Images are ``numpy.uint8`` arrays of shape ``(height, width, 3)`` in BGR order (OpenCV's),
  in original-video pixels.
- Every sampler yields exactly the pixels a plain decode of the whole file from its start
  gives for that frame (what every player and OpenCV show).

Decisions
- The file type is decided by decoding, never by name: the container must be one of
  ``ALLOWED_CONTAINERS`` and the codec one of ``ALLOWED_CODECS`` (ffmpeg carries hundreds of
  rarely used parsers; accepting only what lab cameras write shrinks what an attacker can
  reach), and demuxers may open no other file or URL (no HLS/concat tricks).
- A video needs at least ``MIN_FRAMES`` (2) decodable frames. A 1-frame "video" is
  rejected: it is almost always a still image or a broken recording, and still images
  belong in an image set.
- A header that claims more frames than the file holds is not an error: the real count is
  reported and a warning says so (``VideoInfo.warnings``). ``strict=True`` turns that, and
  any other truncation, into a ``VideoProbeError``.
- Frames must be at most ``MAX_DIMENSION`` pixels on each side, and not 0.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

# What files are acceptable is decided in the child, so it lives in the worker package
# (which may import nothing from the project).
from .sandbox import STALL_TIMEOUT_S, run_worker
from .worker.rules import (
    ALLOWED_CODECS,
    ALLOWED_CONTAINERS,
    CONTAINER_NAMES,
    MAX_DIMENSION,
    MAX_FRAMES,
    MIN_FRAMES,
)

__all__ = [
    "ALLOWED_CODECS",
    "ALLOWED_CONTAINERS",
    "CONTAINER_NAMES",
    "DEFAULT_MEMORY_LIMIT_BYTES",
    "DEFAULT_PROBE_TIMEOUT_S",
    "MAX_DIMENSION",
    "MAX_FRAMES",
    "MIN_FRAMES",
    "MIN_MEMORY_LIMIT_BYTES",
    "STALL_TIMEOUT_S",
    "VideoError",
    "VideoInfo",
    "VideoProbeError",
    "VideoSampleError",
    "probe_video",
]

DEFAULT_PROBE_TIMEOUT_S = 60.0
# Address space, not resident memory: the decoder libraries alone map about 200 MiB, and
# a 640x480 file decodes in well under 400 MiB. 8192x8192 frames need several GiB.
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3
MIN_MEMORY_LIMIT_BYTES = 256 * 1024**2


# --------------------------------------------------------------------------------------
# Public types


class VideoError(Exception):
    """A video could not be used. ``str(error)`` is written for the person who uploaded
    it; ``detail`` holds diagnostics for logs (may be empty)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class VideoProbeError(VideoError):
    """The file is not an acceptable video (wrong type, broken, too large, ...)."""


class VideoSampleError(VideoError):
    """Sampling failed part way (decoder crash, time or memory limit, bad request)."""


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` found by decoding.

    ``frame_count`` counts frames that are really there (the last one decoded), not what
    the header claims (``declared_frame_count``, None when the header has no count).
    ``fps`` is the mean rate over the real frames' timestamps; ``duration_s`` runs from the
    first frame's timestamp to the end of the last frame. ``codec`` and ``container`` are
    ffmpeg's names (e.g. ``"h264"``, ``"mov,mp4,m4a,3gp,3g2,mj2"``).
    ``variable_frame_rate`` is True when any frame interval differs from the typical one
    by more than 10% (a variable-rate recording, or dropped frames): ``index / fps`` is
    then not a frame's time; use ``SampledFrame.timestamp_s``.
    """

    frame_count: int
    fps: float
    width: int
    height: int
    duration_s: float
    codec: str
    container: str
    declared_frame_count: int | None = None
    variable_frame_rate: bool = False
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------
# Public API


def probe_video(
    path: str | os.PathLike[str],
    *,
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
    strict: bool = False,
) -> VideoInfo:
    """Open and decode ``path`` in a limited subprocess and describe it.

    Decodes the first frame and the last frames that can be decoded (so the count is
    what is really there), after indexing every packet. Raises ``VideoProbeError`` with a
    message for a person when the file is not an acceptable video, including when the
    child runs past ``timeout_s`` seconds or ``memory_limit_bytes`` of address space.
    """
    check_options(timeout_s=timeout_s, memory_limit_bytes=memory_limit_bytes)
    path = checked_path(path, VideoProbeError)
    request = {"op": "probe", "path": path, "strict": strict}
    info = None
    for message, _ in run_worker(
        request,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
        error_class=VideoProbeError,
        reject_class=VideoProbeError,
    ):
        if message["type"] == "info":
            info = message["info"]
    if info is None:  # pragma: no cover - the worker always answers or fails
        raise VideoProbeError("The video could not be read.", "worker gave no answer")
    info["warnings"] = tuple(info["warnings"])
    return VideoInfo(**info)


# --------------------------------------------------------------------------------------
# Argument checks shared by every reader of videos


def check_options(
    *,
    skip_indices: Collection[int] = (),
    skip_similar: float | None = None,
    timeout_s: float,
    memory_limit_bytes: int,
) -> list[int]:
    """Check the options every reader shares; return the skip list, sorted."""
    if skip_similar is not None and not (0 <= skip_similar <= 1):
        raise ValueError("skip_similar must be between 0 and 1, or None")
    if not (timeout_s > 0 and math.isfinite(timeout_s)):
        raise ValueError("timeout_s must be a positive number")
    if memory_limit_bytes < MIN_MEMORY_LIMIT_BYTES:
        raise ValueError("memory_limit_bytes below 256 MiB cannot even load the decoder")
    return sorted({check_index(i) for i in skip_indices})


def check_index(i: Any) -> int:
    if isinstance(i, bool) or not isinstance(i, int | np.integer) or i < 0:
        raise ValueError(f"frame index {i!r} is not a whole number >= 0")
    return int(i)


def checked_path(path: str | os.PathLike[str], error_class: type[VideoError]) -> str:
    path = os.path.abspath(os.fspath(path))
    if "\x00" in path:
        raise error_class("The video file name is invalid.", "NUL in path")
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise error_class("The video file is missing.", path) from None
    if not os.path.isfile(path):
        raise error_class("The video is not a regular file.", path)
    if size == 0:
        raise error_class("The file is empty (0 bytes).")
    return path
