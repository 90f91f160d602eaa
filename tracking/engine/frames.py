"""Where the engine's frames come from, and the reader thread that decodes ahead (no Django).

A frame source yields :class:`DecodedFrame` ``(index, time_s, image)`` in decode order:

- ``index``: position in presentation order, counting from 0 (what OpenCV's
  ``CAP_PROP_POS_FRAMES`` and ffmpeg count on an intact file);
- ``time_s``: the frame's presentation time from the container, in seconds from the first
  frame (not ``index / fps``, which drifts on variable-frame-rate files);
- ``image``: ``numpy.uint8`` (H, W, 3), BGR, original-video pixels.

Two sources:

- :class:`DecoderSource` wraps a generator function ``decode(path, start=, stop=)``.
  :func:`sandboxed_source` is the one place the product plugs in the sandboxed decoder of
  ``media.streaming`` (``iter_video_frames``): untrusted uploads must be
  decoded there; nothing else in the engine changes.
- :class:`OpenCVSource`, ``cv2.VideoCapture`` with timestamps from ``CAP_PROP_POS_MSEC``, for
  tests and benches on files we made or trust.

:class:`ReadAhead` runs a source in a thread with a bounded queue, so decoding overlaps
inference while at most ``maxsize`` decoded frames (plus the one the thread holds) exist at
any time: hours of video never sit in memory. A decode failure reaches the consumer as
:class:`FrameDecodeError` naming the first frame that could not be delivered, after every
frame before it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame; ``image`` is uint8 (H, W, 3) BGR in original-video pixels."""

    index: int
    time_s: float
    image: np.ndarray


class FrameSource(Protocol):
    """What the runner and the renderer need from a video.

    ``frame_count`` may be an estimate from the header (``None`` if unknown): it is used for
    progress only; the frames actually yielded are the truth. ``size`` is (width, height).
    ``frames(start, stop)`` yields frames ``start <= index < stop`` (``stop=None``: to the
    end) in decode order; a source that cannot seek decodes from the start and discards.
    """

    frame_count: int | None
    fps: float
    size: tuple[int, int]

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[DecodedFrame]: ...


class FrameDecodeError(RuntimeError):
    """The video stopped decoding. ``frame`` is the index of the first frame not delivered
    (so frames ``0 .. frame - 1`` were); the decoder's own exception is ``__cause__``."""

    def __init__(self, frame: int, reason: str):
        super().__init__(f"the video could not be decoded from frame {frame} on: {reason}")
        self.frame = frame
        self.reason = reason


class DecoderSource:
    """A frame source over a generator function ``decode(path, start=, stop=)`` that yields
    objects with ``index``, ``time_s`` and ``image`` (e.g. ``media.streaming``'s
    ``DecodedFrame``). Any exception it raises becomes :class:`FrameDecodeError`."""

    def __init__(
        self,
        path: str | Path,
        *,
        decode: Callable[..., Iterable[Any]],
        frame_count: int | None,
        fps: float,
        size: tuple[int, int],
    ):
        self.path = Path(path)
        self.decode = decode
        self.frame_count = frame_count
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[DecodedFrame]:
        expected = start
        iterator = iter(self.decode(self.path, start=start, stop=stop))
        try:
            while True:
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                except Exception as e:
                    raise FrameDecodeError(expected, str(e) or type(e).__name__) from e
                expected = int(item.index) + 1
                yield DecodedFrame(int(item.index), float(item.time_s), item.image)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a sandboxed decoder ends its child process here


def sandboxed_source(path: str | Path, info: Any) -> DecoderSource:
    """The product's frame source: ``media.streaming.iter_video_frames``
    (decoding in a sandboxed child process) over ``path``; ``info`` has ``frame_count``,
    ``fps``, ``width``, ``height`` (a probe result or a ``Video`` row)."""
    from media.streaming import iter_video_frames

    return DecoderSource(
        path,
        decode=iter_video_frames,
        frame_count=info.frame_count or None,
        fps=info.fps,
        size=(info.width, info.height),
    )


class OpenCVSource:
    """``cv2.VideoCapture`` over a local file; timestamps from ``CAP_PROP_POS_MSEC``.

    No seeking: ``start`` frames are grabbed (decoded, not converted) and dropped, which is
    exact on every file and several times faster than the inference they replace. OpenCV
    reports a decode failure and the end of the file the same way (``read()`` is False), so
    a file that ends early shows as a shorter video here; the sandboxed decoder tells them
    apart.
    """

    def __init__(self, path: str | Path):
        import cv2

        self.path = Path(path)
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise FrameDecodeError(0, f"OpenCV cannot open {self.path}")
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.frame_count = count if count > 0 else None
            self.fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
            self.size = (
                int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            )
        finally:
            cap.release()

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[DecodedFrame]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while stop is None or index < stop:
                if index < start:
                    if not cap.grab():
                        return
                    index += 1
                    continue
                ok, image = cap.read()
                if not ok:
                    return
                yield DecodedFrame(index, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, image)
                index += 1
        finally:
            cap.release()


@dataclass
class ReadAheadStats:
    """Filled by the reader thread: frames delivered and seconds spent inside the source."""

    frames: int = 0
    decode_s: float = 0.0


_END = object()


class ReadAhead:
    """Iterate ``source_iter`` in a background thread through a queue of ``maxsize`` frames.

    Use as a context manager (or call :meth:`close`) so that leaving early stops the thread
    and closes the source's generator::

        with ReadAhead(source.frames(start), maxsize=32) as frames:
            for frame in frames:
                ...

    The thread never runs more than ``maxsize + 1`` frames ahead of the consumer (the queue,
    plus the frame it waits to put). An exception from the source is re-raised in the
    consumer after every frame decoded before it.
    """

    def __init__(self, source_iter: Iterator[DecodedFrame], *, maxsize: int = 32):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.stats = ReadAheadStats()
        self._iter = source_iter
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frame-reader", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    frame = next(self._iter)
                except StopIteration:
                    break
                self.stats.decode_s += time.perf_counter() - started
                self.stats.frames += 1
                if not self._put(frame):
                    return
            self._put(_END)
        except BaseException as e:  # handed to the consumer, which re-raises it
            self._put(e)
        finally:
            close = getattr(self._iter, "close", None)
            if close is not None:
                close()

    def get(self, timeout: float | None = None) -> DecodedFrame | None:
        """The next frame, ``None`` at the end; raises ``queue.Empty`` after ``timeout``."""
        item = self._queue.get(timeout=timeout)
        if item is _END:
            self._queue.put(_END)  # later calls see the end too
            return None
        if isinstance(item, BaseException):
            self._queue.put(_END)
            raise item
        return item

    def __iter__(self) -> Iterator[DecodedFrame]:
        while (frame := self.get()) is not None:
            yield frame

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
