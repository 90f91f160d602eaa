"""Probe videos and sample frames from them, decoding in a sandboxed subprocess.

Pure module: no Django import. Plain values and dataclasses in and out.

Why a subprocess: uploaded videos are untrusted, and a crafted file can make a decoder
crash, loop or allocate without bound. Every decode of a file runs in a child Python
(this very file run as a script) under ``resource.setrlimit`` limits on address space,
CPU seconds, core files and written file size, with a wall-clock limit enforced by the
parent, which kills the child's process group. A crash, a hang or an out-of-memory ends as
a ``VideoError`` carrying a message for a person, never as a dead web or Celery worker.

Conventions
- A frame's ``index`` is its position in presentation (display) order among the packets
  the container holds, counting from 0; it is what OpenCV's ``CAP_PROP_POS_FRAMES`` and
  ffmpeg's frame numbering count on an intact file.
- A frame's ``timestamp_s`` is its presentation timestamp (PTS) from the container, in
  seconds, relative to the first frame's PTS. It is not ``index / fps``, which drifts on
  variable-frame-rate files.
- Images are ``numpy.uint8`` arrays of shape ``(height, width, 3)`` in BGR order (OpenCV's),
  in original-video pixels.

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

Speed: a sampler demuxes the file once to index its packets (cheap: no decoding), works
out which frames it wants, then decodes once, in order, with these savings measured on the
lab videos (see ``bench/sample_frames.py``):
- only the frames kept are converted to BGR; the rest stay in the decoder's YUV;
- packets that no kept frame depends on are never decoded: non-reference frames (most
  B-frames) through the decoder's ``skip_frame``, and whole stretches of GOPs (keyframe to
  keyframe) with no kept frame are not even sent to the decoder (like a seek, but without
  re-reading the index);
- the decoder runs frame-threaded.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
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

DEFAULT_PROBE_TIMEOUT_S = 60.0
DEFAULT_SAMPLE_TIMEOUT_S = 3600.0
# The child reports progress several times a second; silence this long means a hang.
STALL_TIMEOUT_S = 120.0
# Address space, not resident memory: the decoder libraries alone map about 200 MiB, and
# a 640x480 file decodes in well under 400 MiB. 8192x8192 frames need several GiB.
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3
MIN_MEMORY_LIMIT_BYTES = 256 * 1024**2
# Dedup thumbnails are this wide (grayscale); the height keeps the aspect ratio.
DEDUP_THUMB_WIDTH = 64
# DeepLabCut's k-means default: grayscale, 30 pixels wide.
KMEANS_THUMB_WIDTH = 30

_PROGRESS_INTERVAL_S = 0.2
_MAX_HEADER_BYTES = 1 << 20
_STDERR_LIMIT_BYTES = 1 << 20


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
    for message, _ in _run_worker(
        request,
        timeout_s=timeout_s,
        memory_limit_bytes=memory_limit_bytes,
        error_class=VideoProbeError,
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
# Parent side: argument checks, running the worker, reading its messages


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
    for message, payload in _run_worker(
        request,
        timeout_s=timeout_s,
        memory_limit_bytes=memory,
        error_class=VideoSampleError,
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


def _worker_command() -> list[str]:
    # -I: ignore PYTHON* variables, the user's site-packages and the script's folder, so
    # nothing beside this file can shadow a module in the child.
    return [sys.executable, "-I", os.path.abspath(__file__), "--video-worker"]


def _worker_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        # Each glibc malloc arena reserves 64 MiB of address space per thread, and
        # OpenBLAS starts a thread per core: both would eat the RLIMIT_AS budget.
        "MALLOC_ARENA_MAX": "2",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def _run_worker(
    request: dict[str, Any],
    *,
    timeout_s: float,
    memory_limit_bytes: int,
    error_class: type[VideoError],
) -> Iterator[tuple[dict[str, Any], bytearray | None]]:
    """Run one request in a limited child and yield its messages as they come.

    Raises ``error_class`` (or ``VideoProbeError`` when the child judged the file
    unacceptable) on an error message, a timeout, or a child that died.
    """
    request = dict(
        request,
        memory_limit_bytes=int(memory_limit_bytes),
        # A CPU-time backstop in case the wall clock is not enforced (parent gone).
        cpu_limit_s=int(timeout_s * (_decode_threads() + 1)) + 10,
        threads=_decode_threads(),
    )
    stderr = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(
            _worker_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=0,
            close_fds=True,
            start_new_session=True,  # its own process group: killed as one, threads and all
            env=_worker_env(),
            cwd="/",
        )
    except BaseException:
        stderr.close()
        raise
    reader = _MessageReader(proc, timeout_s)
    finished = False
    try:
        try:
            assert proc.stdin is not None
            data = memoryview(json.dumps(request).encode())
            while data:
                data = data[proc.stdin.write(data) or 0 :]
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the child died at start; the read below reports how
        while True:
            try:
                message, payload = reader.read_message()
            except _ChildTimeout as exc:
                raise error_class(
                    f"Reading the video {exc.what} {exc.limit:g} s allowed; the file "
                    "may be damaged or crafted.",
                    _stderr_tail(stderr),
                ) from None
            except _ChildGone:
                raise _death_error(proc, error_class, memory_limit_bytes, stderr) from None
            if message["type"] == "error":
                cls = VideoProbeError if message.get("reject") else error_class
                raise cls(message["message"], message.get("detail", ""))
            if message["type"] == "done":
                finished = True
                return
            yield message, payload
    finally:
        if finished:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _kill(proc)
        else:
            _kill(proc)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        stderr.close()


def _decode_threads() -> int:
    # Frame threading pays off up to a few threads for lab-sized video; more threads only
    # add address space and memory per decoder.
    return max(1, min(4, os.cpu_count() or 1))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
        pass


def _stderr_tail(stderr: Any) -> str:
    try:
        stderr.seek(0, os.SEEK_END)
        size = stderr.tell()
        stderr.seek(max(0, size - 4000))
        return stderr.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""


def _death_error(
    proc: subprocess.Popen[bytes],
    error_class: type[VideoError],
    memory_limit_bytes: int,
    stderr: Any,
) -> VideoError:
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _kill(proc)
        code = proc.returncode
    detail = f"exit status {code}\n{_stderr_tail(stderr)}"
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return error_class(
            "Decoding the video used more time or memory than allowed "
            f"({memory_limit_bytes // 1024**2} MiB); the file may be damaged or crafted.",
            detail,
        )
    if code is not None and code < 0:
        return error_class(
            "The video decoder crashed on this file; it is damaged or not supported.",
            detail,
        )
    if "MemoryError" in detail or "Cannot allocate memory" in detail:
        return error_class(
            "Decoding the video needed more than the "
            f"{memory_limit_bytes // 1024**2} MiB of memory allowed.",
            detail,
        )
    return error_class("The video decoder stopped unexpectedly on this file.", detail)


class _ChildTimeout(Exception):
    def __init__(self, limit: float, *, stalled: bool = False) -> None:
        self.limit = limit
        self.what = "made no progress for the" if stalled else "took longer than the"


class _ChildGone(Exception):
    pass


class _MessageReader:
    """Reads ``[4-byte length][JSON header][payload]`` messages from the child's stdout
    with a total and a stall time limit, counting only time spent waiting on the child
    (the caller may spend as long as it likes between frames)."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()
        self._budget = timeout_s
        self._limit = timeout_s

    def read_message(self) -> tuple[dict[str, Any], bytearray | None]:
        (size,) = struct.unpack(">I", self._read_exact(4))
        if size > _MAX_HEADER_BYTES:
            raise _ChildGone
        header = json.loads(bytes(self._read_exact(size)))
        nbytes = int(header.get("nbytes", 0))
        if not 0 <= nbytes <= MAX_DIMENSION * MAX_DIMENSION * 3:
            raise _ChildGone
        return header, self._read_exact(nbytes) if nbytes else None

    def _read_exact(self, n: int) -> bytearray:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            wait = min(self._budget, STALL_TIMEOUT_S)
            if wait <= 0:
                raise _ChildTimeout(self._limit)
            started = time.monotonic()
            ready, _, _ = select.select([self._fd], [], [], wait)
            if not ready:
                self._budget -= time.monotonic() - started
                if self._budget <= 0:
                    raise _ChildTimeout(self._limit)
                raise _ChildTimeout(STALL_TIMEOUT_S, stalled=True)
            count = os.readv(self._fd, [view[got:]])
            self._budget -= time.monotonic() - started
            if count == 0:
                raise _ChildGone
            got += count
        return buf


# --------------------------------------------------------------------------------------
# Child side: runs in the sandboxed subprocess (this file run as a script)


class _Reject(Exception):
    """The file is not an acceptable video; the message is for a person."""


class _Fail(Exception):
    """Sampling cannot go on; the message is for a person."""


@dataclass
class _Index:
    """Every video packet of the file, from one demux pass without decoding.

    ``dec_pts``: PTS of each packet in decode (file) order; ``key_pos``: decode positions
    of keyframes; ``pts``: the distinct PTS of the frames shown, sorted (presentation
    order), so a frame's index is its position in ``pts``. Units: ``time_base`` seconds.
    Packets an edit list discards (a file cut with ``ffmpeg -ss ... -c copy`` starts with
    the frames before the cut, decoded for reference but never shown) are in ``dec_pts``
    but not in ``pts``, as in every player and in OpenCV's frame numbering.
    """

    dec_pts: np.ndarray
    key_pos: np.ndarray
    pts: np.ndarray
    time_base: Fraction
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    discarded: int = 0

    def seconds(self, pts: int) -> float:
        return float((pts - int(self.pts[0])) * self.time_base)


def _apply_limits(memory_limit_bytes: int, cpu_limit_s: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit_s, cpu_limit_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # The child writes no files; stderr (a temp file) is capped, and going over the cap
    # fails the write instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (_STDERR_LIMIT_BYTES, _STDERR_LIMIT_BYTES))


class _Out:
    """The child's message channel: a private copy of stdout, so that a C library
    printing to fd 1 cannot corrupt the protocol."""

    def __init__(self) -> None:
        self._file = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        self._last_progress = 0.0

    def send(self, header: dict[str, Any], payload: Any = None) -> None:
        if payload is not None:
            header["nbytes"] = memoryview(payload).nbytes
        data = json.dumps(header).encode()
        self._file.write(struct.pack(">I", len(data)) + data)
        if payload is not None:
            self._file.write(payload)
        self._file.flush()

    def alive(self) -> None:
        """Tell the parent the child is working (it ignores the message)."""
        now = time.monotonic()
        if now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.send({"type": "alive"})

    def progress(self, force: bool = False, **values: int) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.send({"type": "progress", "progress": values})


def _worker_main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    _apply_limits(request["memory_limit_bytes"], request["cpu_limit_s"])
    out = _Out()
    try:
        import av  # noqa: F401 - loaded under the limits, before the file is touched
    except (ImportError, MemoryError, OSError) as exc:
        out.send(
            {
                "type": "error",
                "message": "The video decoder could not start within its memory limit "
                f"({request['memory_limit_bytes'] // 1024**2} MiB); raise the limit.",
                "detail": repr(exc),
            }
        )
        return 0
    try:
        if request["op"] == "probe":
            info = _probe(request["path"], request["threads"], strict=request["strict"], out=out)
            out.send({"type": "info", "info": asdict(info)})
        else:
            _sample_in_child(request, out)
        out.send({"type": "done"})
    except _Reject as exc:
        out.send({"type": "error", "reject": True, "message": str(exc)})
    except _Fail as exc:
        out.send({"type": "error", "message": str(exc)})
    except MemoryError:
        out.send(
            {
                "type": "error",
                "message": "Decoding the video needed more than the "
                f"{request['memory_limit_bytes'] // 1024**2} MiB of memory allowed.",
            }
        )
    except BrokenPipeError:
        return 1  # the parent stopped listening (generator closed)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's fault
        import traceback

        out.send(
            {
                "type": "error",
                "message": "The video could not be decoded; it is damaged or not supported.",
                "detail": "".join(traceback.format_exception(exc))[-4000:],
            }
        )
    return 0


def _open(path: str, threads: int) -> tuple[Any, Any]:
    """Open ``path`` with only allowed demuxers and the file protocol; pick the video
    stream and set up its decoder. Raises ``_Reject``."""
    import av

    options = {
        "format_whitelist": ",".join(sorted(ALLOWED_CONTAINERS)),
        # No demuxer may open another file or URL (HLS playlists, concat lists, MOV
        # external references): those are the classic upload-to-local-file-read tricks.
        "protocol_whitelist": "file",
    }
    try:
        container = av.open(path, mode="r", options=options)
    except av.error.InvalidDataError:
        raise _Reject(
            "The file is not a video we can read: its contents are not a recognised "
            "video format (whatever its name says)."
        ) from None
    except av.error.ArgumentError:
        raise _Reject(
            f"The file is not in a supported video container ({CONTAINER_NAMES})."
        ) from None
    except av.error.FFmpegError as exc:
        raise _Reject(f"The file could not be opened as a video ({exc.strerror}).") from None
    streams = [
        s
        for s in container.streams.video
        if not (s.disposition & av.stream.Disposition.attached_pic)  # cover art
    ]
    if not streams:
        container.close()
        raise _Reject("The file contains no video stream.")
    stream = streams[0]
    ctx = stream.codec_context
    # canonical_name: "av1" whichever decoder (libdav1d, native) ffmpeg picked.
    codec = ctx.codec.canonical_name if ctx is not None and ctx.codec is not None else ""
    if ctx is None or codec not in ALLOWED_CODECS:
        container.close()
        raise _Reject(
            f"The video uses the codec “{codec or 'unknown'}”, which is not supported; "
            "please convert it to H.264 MP4."
        )
    _check_size(ctx.width, ctx.height, allow_unknown=True)
    stream.thread_type = "AUTO"
    ctx.thread_count = threads
    return container, stream


def _check_size(width: int, height: int, *, allow_unknown: bool = False) -> None:
    if allow_unknown and width == 0 and height == 0:
        return  # some containers only know after decoding; checked on every frame
    if width <= 0 or height <= 0:
        raise _Reject(f"The video's frame size ({width}×{height}) is invalid.")
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise _Reject(
            f"The video's frames are {width}×{height} pixels; at most "
            f"{MAX_DIMENSION}×{MAX_DIMENSION} is supported."
        )


def _build_index(
    path: str, threads: int, *, strict: bool, alive: Callable[[], None] | None = None
) -> _Index:
    """Demux every packet of the video stream (no decoding). ``alive`` is called every
    4096 packets, so the parent can tell a long index pass from a hang."""
    import av

    container, stream = _open(path, threads)
    dec_pts = array("q")
    keys = array("q")
    shown = bytearray()
    truncated = False
    warnings = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the end-of-stream marker
            if packet.is_corrupt:
                truncated = True  # a packet cut short: the file ends mid-frame
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None:
                raise _Reject(
                    "The video has no timestamps (a raw stream?); please put it in an "
                    "MP4 or MKV container."
                )
            if packet.is_keyframe:
                keys.append(len(dec_pts))
            dec_pts.append(pts)
            shown.append(0 if packet.is_discard else 1)
            if alive is not None and len(dec_pts) % 4096 == 0:
                alive()
            if len(dec_pts) > MAX_FRAMES:
                raise _Reject(f"The video has more than {MAX_FRAMES:,} frames.")
    except av.error.FFmpegError as exc:
        if isinstance(exc, MemoryError):
            raise
        truncated = True
        warnings.append(
            f"The file is damaged or truncated after {len(dec_pts)} frames "
            f"({exc.strerror}); only those are used."
        )
    finally:
        time_base = stream.time_base
        container.close()
    if truncated and strict:
        raise _Reject("The video file is truncated or damaged.")
    decode_order = np.frombuffer(dec_pts, dtype=np.int64).copy()
    visible = np.frombuffer(bytes(shown), dtype=np.uint8).astype(bool)
    presentation = np.unique(decode_order[visible])
    repeated = int(visible.sum()) - presentation.size
    if repeated:
        warnings.append(f"{repeated} frames repeat another frame's timestamp and are ignored.")
    if time_base is None:
        raise _Reject("The video has no time base; it cannot be indexed.")
    return _Index(
        dec_pts=decode_order,
        key_pos=np.frombuffer(keys, dtype=np.int64).copy(),
        pts=presentation,
        time_base=Fraction(time_base),
        warnings=warnings,
        truncated=truncated,
        discarded=int(decode_order.size - visible.sum()),
    )


def _frame_pts(frame: Any) -> int | None:
    return frame.pts if frame.pts is not None else getattr(frame, "dts", None)


def _decode(
    path: str,
    threads: int,
    index: _Index,
    targets: set[int],
    on_frame: Callable[[Any, int], None],
    *,
    skip_nonref: bool = True,
    on_position: Callable[[int], None] | None = None,
) -> set[int]:
    """Decode the frames whose PTS are in ``targets``, calling ``on_frame(frame, pts)``
    for each, in presentation order. Returns the PTS decoded.

    Feeds the decoder only the packets a target depends on: from its GOP's keyframe up
    to the target itself (and, for a leading picture shown before its keyframe, the whole
    previous GOP). When it stops feeding, it drains and flushes the decoder, so the next
    GOP starts clean, as after a seek.
    """
    import av

    done: set[int] = set()
    if not targets:
        return done
    dec = index.dec_pts
    key_pos = index.key_pos
    positions = np.flatnonzero(np.isin(dec, np.fromiter(targets, dtype=np.int64)))
    # GOP -1 holds packets before the first keyframe (a broken start): fed from 0.
    gops = np.searchsorted(key_pos, positions, side="right") - 1
    need_until: dict[int, int] = {}
    for pos, gop in zip(positions.tolist(), gops.tolist(), strict=True):
        need_until[gop] = max(need_until.get(gop, -1), pos)
        if gop >= 0 and dec[pos] < dec[key_pos[gop]]:
            need_until[gop - 1] = max(need_until.get(gop - 1, -1), int(key_pos[gop]) - 1)
    last_needed = max(need_until.values())

    container, stream = _open(path, threads)
    ctx = stream.codec_context

    def take(frames: Iterable[Any]) -> None:
        for frame in frames:
            pts = _frame_pts(frame)
            if pts in targets and pts not in done:
                done.add(pts)
                on_frame(frame, pts)

    def drain() -> None:
        try:
            take(ctx.decode(None))
        except av.error.FFmpegError:
            pass
        ctx.flush_buffers()

    pos = -1
    gop = -1
    next_key = 0
    feeding = False
    skip_mode = None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_corrupt:
                continue
            pos += 1
            if pos > last_needed or len(done) == len(targets):
                break
            if pos >= dec.size or packet.pts is not None and packet.pts != dec[pos]:
                raise _Fail("The video file changed while it was being read.")
            while next_key < key_pos.size and key_pos[next_key] <= pos:
                gop = next_key
                next_key += 1
            if on_position is not None:
                on_position(pos)
            if pos > need_until.get(gop, -1):
                if feeding:
                    drain()
                    feeding = False
                continue
            feeding = True
            pts = int(dec[pos])
            if packet.pts is None:
                packet.pts = pts
            if skip_nonref:
                # The decoder reads this per packet, so only wanted frames are decoded
                # in full; reference frames are always decoded.
                mode = "DEFAULT" if pts in targets else "NONREF"
                if mode != skip_mode:
                    ctx.skip_frame = skip_mode = mode
            try:
                take(ctx.decode(packet))
            except av.error.FFmpegError as exc:
                if isinstance(exc, MemoryError):
                    raise
                continue  # a damaged packet: its frame is reported as failed
        if feeding and len(done) < len(targets):
            drain()
    except av.error.FFmpegError as exc:
        if isinstance(exc, MemoryError):
            raise
        # Demuxing stopped early (the index pass saw the same): keep what was decoded.
    finally:
        container.close()
    return done


def _probe(path: str, threads: int, *, strict: bool, out: _Out | None = None) -> VideoInfo:
    index = _build_index(path, threads, strict=strict, alive=out.alive if out else None)
    container, stream = _open(path, threads)
    codec = stream.codec_context.codec.canonical_name
    container_name = container.format.name
    declared = int(stream.frames or 0) or None
    container.close()
    warnings = list(index.warnings)
    count = int(index.pts.size)
    if count == 0:
        raise _Reject("The video has no frames.")
    if count < MIN_FRAMES:
        raise _Reject(
            "The video has only one frame; a video needs at least "
            f"{MIN_FRAMES}. Single images belong in an image set."
        )

    sizes: list[tuple[int, int]] = []

    def check_frame(frame: Any, pts: int) -> None:
        _check_size(frame.width, frame.height)
        sizes.append((frame.width, frame.height))

    def alive(pos: int) -> None:
        if out is not None:
            out.alive()

    first = _decode(path, threads, index, {int(index.pts[0])}, check_frame, on_position=alive)
    if not first:
        raise _Reject("The first frame of the video cannot be decoded; the file is damaged.")
    width, height = sizes[0]

    # The last frames: decode the last GOP in full (no skipping: every frame counts);
    # if nothing there decodes, step back a GOP, up to three times.
    last = -1
    gop_starts = [int(p) for p in index.key_pos.tolist()] or [0]
    for back in range(1, 4):
        if back > len(gop_starts):
            break
        start = gop_starts[-back]
        tail = {int(p) for p in index.dec_pts[start:].tolist()}
        decoded = _decode(
            path, threads, index, tail, check_frame, skip_nonref=False, on_position=alive
        )
        if decoded:
            last = int(np.searchsorted(index.pts, max(decoded)))
            break
    if last < 0:
        raise _Reject("The end of the video cannot be decoded; the file is damaged.")
    real = last + 1
    if any(size != (width, height) for size in sizes):
        raise _Reject("The video changes its frame size part way; this is not supported.")
    if real < MIN_FRAMES:
        raise _Reject("The video has only one frame that can be decoded.")
    # A header's count includes the frames an edit list hides.
    declared_shown = declared - index.discarded if declared is not None else None
    if real < count or (declared_shown is not None and declared_shown > real):
        claimed = max(count, declared_shown or 0)
        if strict:
            raise _Reject(
                f"The video's header claims {claimed} frames but only {real} can be "
                "decoded; the file is truncated or damaged."
            )
        warnings.append(
            f"The file claims {claimed} frames but only {real} can be decoded; using {real}."
        )
    pts = index.pts[:real]
    span = float((int(pts[-1]) - int(pts[0])) * index.time_base)
    deltas = np.diff(pts).astype(np.float64)
    typical = float(np.median(deltas))
    if span <= 0 or typical <= 0:
        raise _Reject("The video's timestamps are broken.")
    variable = bool(np.any(np.abs(deltas - typical) > 0.1 * typical))
    return VideoInfo(
        frame_count=real,
        fps=(real - 1) / span,
        width=width,
        height=height,
        duration_s=span + typical * float(index.time_base),
        codec=codec,
        container=container_name,
        declared_frame_count=declared,
        variable_frame_rate=variable,
        warnings=tuple(warnings),
    )


def _targets_for(plan: dict[str, Any], index: _Index) -> list[int]:
    """Indices (presentation order) the plan asks for."""
    count = int(index.pts.size)
    kind = plan["kind"]
    if kind == "every_seconds":
        seconds = (index.pts - index.pts[0]).astype(np.float64) * float(index.time_base)
        return indices_every_seconds(seconds, plan["seconds"])
    if kind == "uniform":
        return indices_uniform(count, plan["n"])
    if kind == "indices":
        wanted = [int(i) for i in plan["indices"]]
        beyond = [i for i in wanted if i >= count]
        if beyond:
            raise _Fail(
                f"Frame {beyond[0]} does not exist: the video has {count} frames "
                f"(0 to {count - 1})."
            )
        return wanted
    raise ValueError(f"unknown plan {kind!r}")


def _thumb(frame: Any, width: int) -> np.ndarray:
    height = max(1, round(frame.height * width / frame.width))
    small = frame.reformat(width=width, height=height, format="gray", interpolation="AREA")
    return small.to_ndarray()


def _sample_in_child(request: dict[str, Any], out: _Out) -> None:
    path = request["path"]
    threads = request["threads"]
    index = _build_index(path, threads, strict=False, alive=out.alive)
    count = int(index.pts.size)
    if count == 0:
        raise _Reject("The video has no frames.")
    wanted = _targets_for(request["plan"], index)
    skip = set(request["skip"])
    similar = request["skip_similar"]
    output = request["output"]
    # Already-sampled frames are only decoded when they are needed as the reference
    # for near-duplicate skipping.
    if similar is None:
        wanted = [i for i in wanted if i not in skip]
    targets = {int(index.pts[i]) for i in wanted}
    state = {"kept": 0, "similar": 0, "size": None, "reference": None, "pos": 0}

    def report(force: bool = False) -> None:
        out.progress(
            force,
            frames_done=min(count, state["pos"]),
            frame_count=count,
            frames_kept=state["kept"],
            frames_similar=state["similar"],
            frames_failed=0,
        )

    def on_position(pos: int) -> None:
        state["pos"] = pos + 1
        report()

    def on_frame(frame: Any, pts: int) -> None:
        frame_index = int(np.searchsorted(index.pts, pts))
        size = (frame.width, frame.height)
        if state["size"] is None:
            _check_size(*size)
            state["size"] = size
        elif size != state["size"]:
            raise _Fail(
                f"The video changes its frame size at frame {frame_index} "
                f"({state['size'][0]}×{state['size'][1]} to {size[0]}×{size[1]}); "
                "this is not supported."
            )
        if similar is not None:
            thumb = _thumb(frame, DEDUP_THUMB_WIDTH).astype(np.int16)
            reference = state["reference"]
            if frame_index in skip:
                state["reference"] = thumb
                return
            if reference is not None:
                difference = float(np.abs(thumb - reference).mean()) / 255.0
                if difference < similar:
                    state["similar"] += 1
                    return
            state["reference"] = thumb
        if output == "gray":
            image = np.ascontiguousarray(_thumb(frame, request["thumb_width"]))
        else:
            image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"))
        state["kept"] += 1
        out.send(
            {
                "type": "frame",
                "index": frame_index,
                "timestamp_s": index.seconds(pts),
                "shape": list(image.shape),
            },
            image.data,
        )

    decoded = _decode(path, threads, index, targets, on_frame, on_position=on_position)
    state["pos"] = count
    out.progress(
        True,
        frames_done=count,
        frame_count=count,
        frames_kept=state["kept"],
        frames_similar=state["similar"],
        frames_failed=len(targets) - len(decoded),
    )


if __name__ == "__main__" and sys.argv[1:] == ["--video-worker"]:
    sys.exit(_worker_main())
