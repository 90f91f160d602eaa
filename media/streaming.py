"""Stream every frame of a video, in order, decoded in the sandboxed subprocess.

Pure module: no Django import. For whole-video work (tracking): one decode pass over the
file, frames handed over one at a time as the decoder produces them, so hours of video
never sit in memory. The child (:mod:`media.worker`) runs under the limits every
decode of an untrusted file gets (:mod:`media.sandbox`).

Frames follow the conventions of :mod:`media.probe`: ``index`` is the same frame
index the samplers use (frame ``i`` here is ``sample_indices(path, [i])``'s frame, pixels
included), ``time_s`` the container timestamp relative to the first frame (not
``index / fps``), ``image`` ``uint8`` ``(height, width, 3)`` BGR. The video's ``fps`` and
``frame_count`` come from :func:`media.probe.probe_video`.

Memory stays bounded: the child decodes only as fast as the consumer reads (the pipe holds
about one frame; a full pipe blocks the child), so a slow consumer slows the decoder rather
than piling frames up. Time the consumer spends between frames does not count against
``timeout_s``. Stop early by closing the generator (``close()``, or leaving a ``with
contextlib.closing(...)`` block): the child is killed and reaped at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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

__all__ = [
    "DEFAULT_STREAM_TIMEOUT_S",
    "DecodedFrame",
    "VideoDecodeError",
    "iter_video_frames",
]

# A limit on the time spent waiting for the decoder over the whole stream; a stalled
# decoder is stopped long before (media.sandbox.STALL_TIMEOUT_S). A Celery job
# passes its queue's limit instead.
DEFAULT_STREAM_TIMEOUT_S = 24 * 3600.0


@dataclass(frozen=True, eq=False)
class DecodedFrame:
    """One frame: ``image`` is ``uint8`` ``(height, width, 3)`` BGR, writable (its own
    buffer, never reused for the next frame)."""

    index: int
    time_s: float
    image: np.ndarray


class VideoDecodeError(VideoSampleError):
    """Decoding stopped part way through the stream.

    ``frame_index`` is the first frame not yielded: every wanted frame before it was
    yielded; the decoder could not produce it (damaged data, a file that ends before the
    frames it claims, a frame size change) or stopped there (crash, time or memory limit).
    """

    def __init__(self, message: str, detail: str = "", *, frame_index: int) -> None:
        super().__init__(message, detail)
        self.frame_index = frame_index


def iter_video_frames(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    stop: int | None = None,
    every: int = 1,
    timeout_s: float = DEFAULT_STREAM_TIMEOUT_S,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
) -> Iterator[DecodedFrame]:
    """Yield frames ``start, start + every, start + 2 * every, ...`` below ``stop`` (None:
    to the end of the video), in order, as :class:`DecodedFrame`.

    Returns a generator: the arguments are checked now (``ValueError``), the child starts
    at the first ``next()``. Errors come from the iteration: ``VideoProbeError`` when the
    file is not an acceptable video, :class:`VideoDecodeError` (a ``VideoSampleError``)
    when decoding fails part way, after the frames before ``frame_index`` were yielded.
    A ``stop`` past the end is the end; a file shorter than its header says is an error
    when the stream runs to its end. Frames before ``start`` are decoded only as far as
    the frames wanted depend on them (whole stretches between keyframes are skipped).
    """
    start = check_index(start)
    if stop is not None:
        stop = check_index(stop)
    if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
        raise ValueError("every must be a whole number >= 1")
    check_options(timeout_s=timeout_s, memory_limit_bytes=memory_limit_bytes)
    request = {"op": "stream", "start": start, "stop": stop, "every": int(every)}
    return _stream(path, request, timeout_s=timeout_s, memory=memory_limit_bytes)


def _stream(
    path: str | os.PathLike[str], request: dict[str, Any], *, timeout_s: float, memory: int
) -> Iterator[DecodedFrame]:
    request["path"] = checked_path(path, VideoProbeError)
    reached = request["start"]  # the first frame not yielded yet

    def stopped(message: str, detail: str = "", frame_index: int | None = None) -> Exception:
        if frame_index is None:  # the child died or ran out of time: it said nothing
            frame_index = reached
            message = f"Decoding stopped at frame {reached}: {message}"
        return VideoDecodeError(message, detail, frame_index=frame_index)

    messages = run_worker(
        request,
        timeout_s=timeout_s,
        memory_limit_bytes=memory,
        error_class=stopped,
        reject_class=VideoProbeError,
    )
    # closing(): the child is killed when this generator is closed, not whenever the
    # worker's generator happens to be collected.
    with contextlib.closing(messages):
        for message, payload in messages:
            if message["type"] == "frame" and payload is not None:
                # The array the message was read into, reshaped: no copy.
                image = payload.reshape(message["shape"])
                reached = message["index"] + 1
                yield DecodedFrame(message["index"], message["timestamp_s"], image)
