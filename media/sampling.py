"""Sample chosen frames from videos, decoding in a sandboxed subprocess.

Pure module: no Django import. Plain values and dataclasses in and out. Every sampler here
yields ``SampledFrame``s as the conventions of :mod:`media.probe` say (index,
container timestamp, BGR image); which frames a plan takes is decided in the child
(:mod:`media.worker.rules`, whose ``indices_*`` helpers are re-exported here).
Errors are that module's ``VideoProbeError`` (not an acceptable video) and
``VideoSampleError`` (decoding failed part way).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import numpy as np

from .probe import (
    DEFAULT_MEMORY_LIMIT_BYTES,
    VideoProbeError,
    VideoSampleError,
    check_index,
    check_options,
    checked_path,
)
from .sandbox import run_worker
from .worker.rules import DEDUP_THUMB_WIDTH, indices_every_seconds, indices_uniform

__all__ = [
    "DEDUP_THUMB_WIDTH",
    "DEFAULT_SAMPLE_TIMEOUT_S",
    "KMEANS_THUMB_WIDTH",
    "ProgressCallback",
    "SampleOptions",
    "SampleProgress",
    "SampledFrame",
    "indices_every_seconds",
    "indices_uniform",
    "pick_kmeans_indices",
    "sample_every_seconds",
    "sample_indices",
    "sample_kmeans",
    "sample_uniform",
]

DEFAULT_SAMPLE_TIMEOUT_S = 3600.0
# DeepLabCut's k-means default: grayscale, 30 pixels wide.
KMEANS_THUMB_WIDTH = 30


# --------------------------------------------------------------------------------------
# Public types


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


class SampleOptions(TypedDict, total=False):
    """The options every sampler takes, all optional (see ``sample_indices``)."""

    skip_indices: Collection[int]  # default: none
    skip_similar: float | None  # default: None (keep every frame)
    progress: ProgressCallback | None
    timeout_s: float  # default: DEFAULT_SAMPLE_TIMEOUT_S
    memory_limit_bytes: int  # default: DEFAULT_MEMORY_LIMIT_BYTES


def sample_every_seconds(
    path: str | os.PathLike[str], seconds: float = 1.5, **options: Unpack[SampleOptions]
) -> Iterator[SampledFrame]:
    """Yield the frames nearest to 0, ``seconds``, 2 * ``seconds``, ... by timestamp.

    See ``indices_every_seconds`` for the choice and ``sample_indices`` for the options.
    """
    seconds = float(seconds)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError("seconds must be a positive number")
    return _sample(path, {"kind": "every_seconds", "seconds": seconds}, **options)


def sample_uniform(
    path: str | os.PathLike[str], n: int, **options: Unpack[SampleOptions]
) -> Iterator[SampledFrame]:
    """Yield ``n`` frames spread evenly over the video (see ``indices_uniform``)."""
    _check_count(n)
    return _sample(path, {"kind": "uniform", "n": int(n)}, **options)


def sample_indices(
    path: str | os.PathLike[str], indices: Iterable[int], **options: Unpack[SampleOptions]
) -> Iterator[SampledFrame]:
    """Yield the frames at ``indices`` ("take this frame"), in increasing index order.

    Common options of every sampler (:class:`SampleOptions`):
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
    wanted = sorted({check_index(i) for i in indices})
    if not wanted:
        raise ValueError("indices must name at least one frame")
    return _sample(path, {"kind": "indices", "indices": wanted}, **options)


def sample_kmeans(
    path: str | os.PathLike[str],
    n: int,
    *,
    scan_frames: int = 1000,
    thumb_width: int = KMEANS_THUMB_WIDTH,
    seed: int = 0,
    **options: Unpack[SampleOptions],
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
    # Checked now, not at the first next(), so a bad call fails where it is made.
    _checked_options(options)
    return _kmeans(
        path,
        n,
        scan_frames=max(int(scan_frames), int(n)),
        thumb_width=int(thumb_width),
        seed=seed,
        options=options,
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


def _check_count(n: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError("n must be a positive whole number")


def _checked_options(options: SampleOptions) -> dict[str, Any]:
    """The options with their defaults, checked (unknown names: TypeError); ``skip``: the
    frames to skip as the worker takes them."""
    unknown = set(options) - set(SampleOptions.__annotations__)
    if unknown:
        raise TypeError(f"Unknown sampling options: {', '.join(sorted(unknown))}")
    given: dict[str, Any] = {
        "skip_indices": (),
        "skip_similar": None,
        "progress": None,
        "timeout_s": DEFAULT_SAMPLE_TIMEOUT_S,
        "memory_limit_bytes": DEFAULT_MEMORY_LIMIT_BYTES,
        **options,
    }
    given["skip"] = check_options(
        skip_indices=given["skip_indices"],
        skip_similar=given["skip_similar"],
        timeout_s=given["timeout_s"],
        memory_limit_bytes=given["memory_limit_bytes"],
    )
    return given


def _sample(
    path: str | os.PathLike[str],
    plan: dict[str, Any],
    *,
    output: str = "bgr",
    thumb_width: int = DEDUP_THUMB_WIDTH,
    phase: str = "sample",
    **options: Unpack[SampleOptions],
) -> Iterator[SampledFrame]:
    # Checked now, not at the first next(), so a bad call fails where it is made.
    given = _checked_options(options)
    request = {
        "op": "sample",
        "path": None,
        "plan": plan,
        "skip": given["skip"],
        "skip_similar": given["skip_similar"],
        "output": output,
        "thumb_width": thumb_width,
    }
    return _sample_iter(
        path,
        request,
        given["progress"],
        phase,
        timeout_s=given["timeout_s"],
        memory=given["memory_limit_bytes"],
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
    request["path"] = checked_path(path, VideoProbeError)
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
    options: SampleOptions,
) -> Iterator[SampledFrame]:
    started = time.monotonic()
    timeout_s = options.get("timeout_s", DEFAULT_SAMPLE_TIMEOUT_S)
    indices: list[int] = []
    thumbs: list[np.ndarray] = []
    scan_options: SampleOptions = {
        k: v for k, v in options.items() if k in ("progress", "timeout_s", "memory_limit_bytes")
    }
    for thumb in _sample(
        path,
        {"kind": "uniform", "n": scan_frames},
        output="gray",
        thumb_width=thumb_width,
        phase="scan",
        **scan_options,
    ):
        indices.append(thumb.index)
        thumbs.append(thumb.image.astype(np.float32).ravel() / 255.0)
    if not indices:
        return
    chosen = pick_kmeans_indices(indices, np.stack(thumbs), n, seed=seed)
    remaining = max(1.0, timeout_s - (time.monotonic() - started))
    yield from sample_indices(path, chosen, **{**options, "timeout_s": remaining})
