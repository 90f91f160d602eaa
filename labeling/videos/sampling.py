"""Probe videos and sample frames from them, decoding in a sandboxed subprocess.

Pure module: no Django import. Plain values and dataclasses in and out. This is the public
face; the work is split in two modules:

- :mod:`labeling.videos.sandbox` runs the decoding in a child Python under limits on
  address space, CPU seconds, core files and written file size, with a wall-clock limit,
  and kills it on a timeout. Uploaded videos are untrusted, and a crafted file can make a
  decoder crash, loop or allocate without bound: that ends as a ``VideoError`` carrying a
  message for a person, never as a dead web or Celery worker.
- :mod:`labeling.videos.worker` is what runs in the child: opening a file with only the
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
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# What files are acceptable and which frames a plan selects are decided in the child, so
# they live in the worker module (which may import nothing from the project).
from .sandbox import STALL_TIMEOUT_S, run_worker
from .worker import (
    ALLOWED_CODECS,
    ALLOWED_CONTAINERS,
    CONTAINER_NAMES,
    DEDUP_THUMB_WIDTH,
    MAX_DIMENSION,
    MAX_FRAMES,
    MIN_FRAMES,
    indices_every_seconds,
    indices_uniform,
)

__all__ = [
    "ALLOWED_CODECS",
    "ALLOWED_CONTAINERS",
    "CONTAINER_NAMES",
    "DEDUP_THUMB_WIDTH",
    "DEFAULT_MEMORY_LIMIT_BYTES",
    "DEFAULT_PROBE_TIMEOUT_S",
    "DEFAULT_SAMPLE_TIMEOUT_S",
    "KMEANS_THUMB_WIDTH",
    "MAX_DIMENSION",
    "MAX_FRAMES",
    "MIN_FRAMES",
    "MIN_MEMORY_LIMIT_BYTES",
    "STALL_TIMEOUT_S",
    "ProgressCallback",
    "SampleProgress",
    "SampledFrame",
    "VideoError",
    "VideoInfo",
    "VideoProbeError",
    "VideoSampleError",
    "indices_every_seconds",
    "indices_uniform",
    "pick_kmeans_indices",
    "probe_video",
    "sample_every_seconds",
    "sample_indices",
    "sample_kmeans",
    "sample_uniform",
]

DEFAULT_PROBE_TIMEOUT_S = 60.0
DEFAULT_SAMPLE_TIMEOUT_S = 3600.0
# Address space, not resident memory: the decoder libraries alone map about 200 MiB, and
# a 640x480 file decodes in well under 400 MiB. 8192x8192 frames need several GiB.
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3
MIN_MEMORY_LIMIT_BYTES = 256 * 1024**2
# DeepLabCut's k-means default: grayscale, 30 pixels wide.
KMEANS_THUMB_WIDTH = 30


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


@dataclass(frozen=True, eq=False)
class SampledFrame:
    """One kept frame: ``image`` is ``uint8`` ``(height, width, 3)`` BGR, writable."""

    index: int
    timestamp_s: float
    image: np.ndarray


@dataclass(frozen=True)
class SampleProgress:
    """Reported while sampling. ``frames_done`` of ``frame_count`` frames have been gone
    through (decoded or skipped) in ``phase`` (``"scan"``: k-means reading thumbnails;
    ``"sample"``: decoding kept frames). ``frames_kept`` so far in this phase;
    ``frames_similar`` dropped as near-duplicates; ``frames_failed``: wanted frames the
    decoder could not produce (damaged data)."""

    phase: str
    frames_done: int
    frame_count: int
    frames_kept: int
    frames_similar: int = 0
    frames_failed: int = 0


ProgressCallback = Callable[[SampleProgress], None]


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
    _check_options(timeout_s=timeout_s, memory_limit_bytes=memory_limit_bytes)
    path = _checked_path(path, VideoProbeError)
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


def sample_every_seconds(
    path: str | os.PathLike[str],
    seconds: float = 1.5,
    *,
    skip_indices: Collection[int] = (),
    skip_similar: float | None = None,
    progress: ProgressCallback | None = None,
    timeout_s: float = DEFAULT_SAMPLE_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> Iterator[SampledFrame]:
    """Yield the frames nearest to 0, ``seconds``, 2 * ``seconds``, ... by timestamp.

    See ``indices_every_seconds`` for the choice and ``sample_indices`` for the options.
    """
    seconds = float(seconds)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError("seconds must be a positive number")
    return _sample(
        path,
        {"kind": "every_seconds", "seconds": seconds},
        skip_indices=skip_indices,
        skip_similar=skip_similar,
        progress=progress,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
    )


def sample_uniform(
    path: str | os.PathLike[str],
    n: int,
    *,
    skip_indices: Collection[int] = (),
    skip_similar: float | None = None,
    progress: ProgressCallback | None = None,
    timeout_s: float = DEFAULT_SAMPLE_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> Iterator[SampledFrame]:
    """Yield ``n`` frames spread evenly over the video (see ``indices_uniform``)."""
    _check_count(n)
    return _sample(
        path,
        {"kind": "uniform", "n": int(n)},
        skip_indices=skip_indices,
        skip_similar=skip_similar,
        progress=progress,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
    )


def sample_indices(
    path: str | os.PathLike[str],
    indices: Iterable[int],
    *,
    skip_indices: Collection[int] = (),
    skip_similar: float | None = None,
    progress: ProgressCallback | None = None,
    timeout_s: float = DEFAULT_SAMPLE_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> Iterator[SampledFrame]:
    """Yield the frames at ``indices`` ("take this frame"), in increasing index order.

    Common options of every sampler:
    - ``skip_indices``: frames not to yield (already sampled, e.g. when a job resumes);
      they are not decoded unless ``skip_similar`` needs them as the reference.
    - ``skip_similar``: drop a frame whose mean absolute difference from the last kept
      frame, on 64-pixel-wide grayscale thumbnails, is below this fraction of full scale
      (0.02 is about 5 gray levels); None keeps every frame.
    - ``progress``: called with a ``SampleProgress`` several times a second.
    - ``timeout_s``: limit on the time spent waiting for the decoder (time the caller
      spends between frames does not count); ``memory_limit_bytes``: the decoder's address
      space limit.

    Returns a generator: nothing runs until the first ``next()``. Errors come from the
    iteration: ``VideoProbeError`` when the file is not an acceptable video,
    ``VideoSampleError`` when decoding fails part way or an index is past the end.
    Closing the generator early stops the decoder.
    """
    wanted = sorted({_check_index(i) for i in indices})
    if not wanted:
        raise ValueError("indices must name at least one frame")
    return _sample(
        path,
        {"kind": "indices", "indices": wanted},
        skip_indices=skip_indices,
        skip_similar=skip_similar,
        progress=progress,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
    )


def sample_kmeans(
    path: str | os.PathLike[str],
    n: int,
    *,
    scan_frames: int = 1000,
    thumb_width: int = KMEANS_THUMB_WIDTH,
    seed: int = 0,
    skip_indices: Collection[int] = (),
    skip_similar: float | None = None,
    progress: ProgressCallback | None = None,
    timeout_s: float = DEFAULT_SAMPLE_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> Iterator[SampledFrame]:
    """Yield up to ``n`` visually diverse frames, DeepLabCut's "kmeans" way.

    Reads ``scan_frames`` frames spread evenly over the video as grayscale thumbnails
    ``thumb_width`` pixels wide, clusters them with MiniBatchKMeans into ``n`` clusters and
    keeps, per cluster, the frame nearest to its centre (DeepLabCut picks a random member;
    the nearest is as representative and makes a resumed job pick the same frames). Fewer
    than ``n`` frames come out when the video has fewer distinct frames. Deterministic for
    a given ``seed``. Options as in ``sample_indices``; progress has phase ``"scan"`` then
    ``"sample"``.
    """
    _check_count(n)
    _check_count(scan_frames)
    if not 4 <= thumb_width <= 256:
        raise ValueError("thumb_width must be between 4 and 256")
    _check_options(
        skip_indices=skip_indices,
        skip_similar=skip_similar,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
    )
    return _kmeans(
        path,
        n,
        scan_frames=max(int(scan_frames), int(n)),
        thumb_width=int(thumb_width),
        seed=seed,
        skip_indices=skip_indices,
        skip_similar=skip_similar,
        progress=progress,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
    )


def pick_kmeans_indices(
    indices: Sequence[int], features: np.ndarray, n: int, *, seed: int = 0
) -> list[int]:
    """Cluster ``features`` (one row per frame, same order as ``indices``) into ``n``
    clusters and return, sorted, the index of the row nearest to each cluster's centre."""
    from sklearn.cluster import MiniBatchKMeans  # heavy import, only needed here

    if len(indices) == 0:
        return []
    x = np.asarray(features, dtype=np.float32).reshape(len(indices), -1)
    distinct = len(np.unique(x, axis=0))
    k = min(int(n), distinct)
    if k <= 1:
        return [int(indices[0])]
    model = MiniBatchKMeans(
        n_clusters=k,
        random_state=seed,
        batch_size=min(1024, len(x)),
        n_init=3,
        max_iter=100,
    )
    labels = model.fit_predict(x)
    chosen = set()
    for cluster in range(k):
        members = np.flatnonzero(labels == cluster)
        if members.size == 0:
            continue
        dist = ((x[members] - model.cluster_centers_[cluster]) ** 2).sum(axis=1)
        chosen.add(int(indices[members[int(np.argmin(dist))]]))
    return sorted(chosen)


# --------------------------------------------------------------------------------------
# Argument checks, and turning the worker's messages into results


def _check_options(
    *,
    skip_indices: Collection[int] = (),
    skip_similar: float | None = None,
    timeout_s: float,
    memory_limit_bytes: int,
) -> list[int]:
    """Check the options every sampler shares; return the skip list, sorted."""
    if skip_similar is not None and not (0 <= skip_similar <= 1):
        raise ValueError("skip_similar must be between 0 and 1, or None")
    if not (timeout_s > 0 and math.isfinite(timeout_s)):
        raise ValueError("timeout_s must be a positive number")
    if memory_limit_bytes < MIN_MEMORY_LIMIT_BYTES:
        raise ValueError("memory_limit_bytes below 256 MiB cannot even load the decoder")
    return sorted({_check_index(i) for i in skip_indices})


def _check_count(n: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError("n must be a positive whole number")


def _check_index(i: Any) -> int:
    if isinstance(i, bool) or not isinstance(i, int | np.integer) or i < 0:
        raise ValueError(f"frame index {i!r} is not a whole number >= 0")
    return int(i)


def _checked_path(path: str | os.PathLike[str], error_class: type[VideoError]) -> str:
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


def _sample(
    path: str | os.PathLike[str],
    plan: dict[str, Any],
    *,
    skip_indices: Collection[int],
    skip_similar: float | None,
    progress: ProgressCallback | None,
    timeout_s: float,
    memory_limit_bytes: int,
    output: str = "bgr",
    thumb_width: int = DEDUP_THUMB_WIDTH,
    phase: str = "sample",
) -> Iterator[SampledFrame]:
    # Checked now, not at the first next(), so a bad call fails where it is made.
    skip = _check_options(
        skip_indices=skip_indices,
        skip_similar=skip_similar,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
    )
    request = {
        "op": "sample",
        "path": None,
        "plan": plan,
        "skip": skip,
        "skip_similar": skip_similar,
        "output": output,
        "thumb_width": thumb_width,
    }
    return _sample_iter(
        path, request, progress, phase, timeout_s=timeout_s, memory=memory_limit_bytes
    )


def _sample_iter(
    path: str | os.PathLike[str],
    request: dict[str, Any],
    progress: ProgressCallback | None,
    phase: str,
    *,
    timeout_s: float,
    memory: int,
) -> Iterator[SampledFrame]:
    request["path"] = _checked_path(path, VideoProbeError)
    for message, payload in run_worker(
        request,
        timeout_s=timeout_s,
        memory_limit_bytes=memory,
        error_class=VideoSampleError,
        reject_class=VideoProbeError,
    ):
        kind = message["type"]
        if kind == "frame" and payload is not None:
            shape = tuple(message["shape"])
            image = np.frombuffer(payload, dtype=np.uint8).reshape(shape)
            yield SampledFrame(message["index"], message["timestamp_s"], image)
        elif kind == "progress" and progress is not None:
            progress(SampleProgress(phase=phase, **message["progress"]))


def _kmeans(
    path: str | os.PathLike[str],
    n: int,
    *,
    scan_frames: int,
    thumb_width: int,
    seed: int,
    skip_indices: Collection[int],
    skip_similar: float | None,
    progress: ProgressCallback | None,
    timeout_s: float,
    memory_limit_bytes: int,
) -> Iterator[SampledFrame]:
    started = time.monotonic()
    indices: list[int] = []
    thumbs: list[np.ndarray] = []
    for thumb in _sample(
        path,
        {"kind": "uniform", "n": scan_frames},
        skip_indices=(),
        skip_similar=None,
        progress=progress,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
        output="gray",
        thumb_width=thumb_width,
        phase="scan",
    ):
        indices.append(thumb.index)
        thumbs.append(thumb.image.astype(np.float32).ravel() / 255.0)
    if not indices:
        return
    chosen = pick_kmeans_indices(indices, np.stack(thumbs), n, seed=seed)
    remaining = max(1.0, timeout_s - (time.monotonic() - started))
    yield from sample_indices(
        path,
        chosen,
        skip_indices=skip_indices,
        skip_similar=skip_similar,
        progress=progress,
        timeout_s=remaining,
        memory_limit_bytes=memory_limit_bytes,
    )
