"""Camera sources and the capture thread that keeps only the newest frame (no Django).

A camera produces frames whether or not anyone reads them. The capture thread grabs each
one, stamps it with ``time.monotonic_ns()`` at the grab and puts it in a one-frame slot
(:class:`LatestFrame`): a frame the tracker did not take before the next arrived is dropped
and counted, never queued. (``CAP_PROP_BUFFERSIZE`` is unreliable across drivers, so the
driver's own buffer is drained by grabbing as fast as it delivers.)

Sources (each has ``fps``, ``size`` = (width, height) and ``read()`` -> BGR uint8 (H, W, 3)
or ``None`` at the end; a vanished device raises :class:`SourceError`):

- :class:`OpenCVCamera`: ``/dev/videoN`` (or an index) through ``cv2.VideoCapture``;
- :class:`StreamSource`: a network stream (``rtsp://``, ``http://``) through PyAV;
- :class:`PacedFile`: a video file delivered at its own frame rate, as a camera would
  (``--paced``): ``read()`` waits for the frame's due time;
- :class:`SyntheticCamera`: frames drawn in memory (a moving dark blob, the frame index
  written as a bar code), for tests and the bench; it can stall or vanish on cue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


class SourceError(RuntimeError):
    """The source cannot be opened, or it vanished while it ran."""


@dataclass(frozen=True)
class CapturedFrame:
    """One grabbed frame. ``index``: the source's frame number from 0 (frames the tracker
    never took leave gaps); ``capture_ns``: ``time.monotonic_ns()`` when it was grabbed;
    ``image``: uint8 (H, W, 3) BGR."""

    index: int
    capture_ns: int
    image: np.ndarray


class CameraSource(Protocol):
    fps: float
    size: tuple[int, int]

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def open_source(spec: str, *, paced: bool = False) -> CameraSource:
    """The source ``spec`` names: ``/dev/videoN`` or a digit (a local camera), a URL with a
    scheme (a network stream), else a video file (``paced`` required: a file read as fast as
    it decodes is not a camera). Raises :class:`SourceError` when it cannot be opened."""
    spec = str(spec).strip()
    if spec.startswith("/dev/video") or spec.isdigit():
        return OpenCVCamera(spec)
    if "://" in spec:
        return StreamSource(spec)
    if not paced:
        raise SourceError(f"{spec}: a video file is a camera only when played --paced")
    return PacedFile(spec)


def source_key(spec: str) -> str:
    """What identifies a camera across sessions (one session per camera): the device path,
    the URL, or the file's resolved path."""
    spec = str(spec).strip()
    if spec.isdigit():
        return f"/dev/video{int(spec)}"
    if spec.startswith("/dev/") or "://" in spec:
        return spec
    return str(Path(spec).resolve())


class OpenCVCamera:
    """A local camera through OpenCV (V4L2 on Linux)."""

    def __init__(self, spec: str):
        import cv2

        self._cv2 = cv2
        target: int | str = int(spec) if spec.isdigit() else spec
        self.cap = cv2.VideoCapture(target)
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"{spec}: the camera cannot be opened")
        self.fps = float(self.cap.get(cv2.CAP_PROP_FPS)) or 30.0
        self.size = (
            int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self.spec = spec

    def read(self) -> np.ndarray | None:
        ok, image = self.cap.read()
        if not ok:
            # A camera does not end: no frame means it was unplugged or failed.
            raise SourceError(f"{self.spec}: the camera stopped delivering frames")
        return image

    def close(self) -> None:
        self.cap.release()


class StreamSource:
    """A network stream through PyAV (RTSP over TCP, HTTP MJPEG/HLS, ...)."""

    def __init__(self, url: str, *, open_timeout_s: float = 10.0):
        import av

        # RTSP: over TCP (no lost packets), without the demuxer's buffering (latency).
        # ``nobuffer`` only there: on a file served over HTTP it corrupts the decoded frames.
        options = {"flags": "low_delay"}
        if url.startswith(("rtsp://", "rtsps://")):
            options.update(rtsp_transport="tcp", fflags="nobuffer")
        try:
            self.container = av.open(url, options=options, timeout=(open_timeout_s, 5.0))
            stream = self.container.streams.video[0]
        except Exception as e:  # noqa: BLE001 - PyAV raises many kinds; all mean "cannot open"
            raise SourceError(f"{url}: the stream cannot be opened ({e})") from e
        stream.thread_type = "AUTO"
        self.fps = float(stream.average_rate or stream.guessed_rate or 30.0)
        self.size = (int(stream.codec_context.width), int(stream.codec_context.height))
        self._frames = self.container.decode(video=0)
        self.url = url

    def read(self) -> np.ndarray | None:
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except Exception as e:  # noqa: BLE001
            raise SourceError(f"{self.url}: the stream broke off ({e})") from e
        return frame.to_ndarray(format="bgr24")

    def close(self) -> None:
        self.container.close()


class PacedFile:
    """A video file played at its own frame rate: ``read()`` returns frame k no earlier than
    k / fps seconds after the first read, so a slow consumer loses frames as with a camera.
    Decoding happens in the capture thread, ahead of the due time."""

    def __init__(self, path: str | Path, *, fps: float | None = None):
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such file")
        self.cap = cv2.VideoCapture(str(self.path))
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"{self.path}: the video cannot be opened")
        self.fps = float(fps or self.cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self.size = (
            int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._count = 0
        self._start_ns: int | None = None
        self._interrupted = threading.Event()

    def read(self) -> np.ndarray | None:
        ok, image = self.cap.read()
        if not ok:
            return None
        if self._start_ns is None:
            self._start_ns = time.monotonic_ns()
        due = self._start_ns + int(self._count * 1e9 / self.fps)
        self._count += 1
        wait = (due - time.monotonic_ns()) / 1e9
        if wait > 0:
            self._interrupted.wait(wait)
        return image

    def interrupt(self) -> None:
        self._interrupted.set()

    def close(self) -> None:
        self.cap.release()


class SyntheticCamera:
    """Frames drawn in memory at ``fps``: a light floor, a dark 40x24 blob moving along
    ``path(k) -> (cx, cy)``, and the frame index as a 24-bit bar code in the top rows
    (:func:`read_index` reads it back). ``stall_at``: frame at which it stops delivering for
    ``stall_s`` seconds; ``vanish_at``: frame at which it raises :class:`SourceError`;
    ``n_frames``: the end (``None``: never)."""

    def __init__(
        self,
        *,
        size: tuple[int, int] = (320, 240),
        fps: float = 30.0,
        n_frames: int | None = None,
        path: Callable[[int], tuple[float, float]] | None = None,
        stall_at: int | None = None,
        stall_s: float = 0.0,
        vanish_at: int | None = None,
    ):
        self.size = size
        self.fps = fps
        self.n_frames = n_frames
        self.path = path or (lambda k: (40 + (k * 3) % (size[0] - 80), size[1] / 2))
        self.stall_at, self.stall_s, self.vanish_at = stall_at, stall_s, vanish_at
        self._count = 0
        self._start_ns: int | None = None
        self._closed = threading.Event()

    def read(self) -> np.ndarray | None:
        k = self._count
        if self.n_frames is not None and k >= self.n_frames:
            return None
        if self.vanish_at is not None and k >= self.vanish_at:
            raise SourceError("the synthetic camera was unplugged")
        if self._start_ns is None:
            self._start_ns = time.monotonic_ns()
        if self.stall_at is not None and k == self.stall_at and self.stall_s > 0:
            self._closed.wait(self.stall_s)
            self._start_ns += int(self.stall_s * 1e9)
        due = self._start_ns + int(k * 1e9 / self.fps)
        wait = (due - time.monotonic_ns()) / 1e9
        if wait > 0:
            self._closed.wait(wait)
        self._count += 1
        return draw_frame(k, self.size, self.path(k))

    def interrupt(self) -> None:
        self._closed.set()

    def close(self) -> None:
        self._closed.set()


BLOB_W, BLOB_H = 40, 24
FLOOR, BLOB = 200, 20  # a dark animal on a light floor, as in the arenas
_BITS, _BAR = 24, 8  # bar code: 24 bits, 8 px wide each, rows 0..5, brighter than the floor


def draw_frame(index: int, size: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    """A synthetic frame: the blob centred at ``centre`` and ``index`` as a bar code."""
    width, height = size
    image = np.full((height, width, 3), FLOOR, np.uint8)
    cx, cy = centre
    x0, y0 = int(round(cx - BLOB_W / 2)), int(round(cy - BLOB_H / 2))
    image[max(0, y0) : max(0, y0 + BLOB_H), max(0, x0) : max(0, x0 + BLOB_W)] = BLOB
    for bit in range(_BITS):
        if index >> bit & 1:
            image[0:6, bit * _BAR : (bit + 1) * _BAR] = 255
    return image


def read_index(image: np.ndarray) -> int:
    """The frame index :func:`draw_frame` wrote into ``image`` (survives H.264)."""
    row = image[3, :, 1].astype(int)
    return sum(1 << bit for bit in range(_BITS) if row[bit * _BAR + _BAR // 2] > 228)


class LatestFrame:
    """A one-frame slot: ``put`` replaces what the consumer has not taken (counted in
    ``dropped``); ``take`` waits for a frame newer than the last one taken."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: CapturedFrame | None = None
        self.offered = 0
        self.dropped = 0
        self.ended = False
        self.error: str | None = None

    def put(self, frame: CapturedFrame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self.offered += 1
            self._cond.notify_all()

    def end(self, error: str | None = None) -> None:
        with self._cond:
            self.ended = True
            self.error = error
            self._cond.notify_all()

    def take(self, timeout: float) -> CapturedFrame | None:
        """The newest frame not yet taken, or ``None`` after ``timeout`` seconds (a stall)
        or once the source ended (``ended`` is then set)."""
        with self._cond:
            if self._frame is None and not self.ended:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame


class CaptureThread:
    """Grabs ``source`` in a thread into a :class:`LatestFrame` until it ends, vanishes or
    :meth:`stop` is called; ``slot.error`` says why a source that failed ended."""

    def __init__(self, source: CameraSource):
        self.source = source
        self.slot = LatestFrame()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-capture", daemon=True)

    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        index = 0
        error: str | None = None
        try:
            while not self._stop.is_set():
                image = self.source.read()
                stamp = time.monotonic_ns()  # at the grab: the frame's age starts here
                if image is None:
                    break
                self.slot.put(CapturedFrame(index, stamp, image))
                index += 1
        except Exception as e:  # noqa: BLE001 - any failure of the device ends the session
            error = str(e) or type(e).__name__
        finally:
            self.slot.end(error)

    def stop(self) -> None:
        """Stop grabbing and close the source (after the thread let go of it: closing a
        device under a read in progress may crash its driver)."""
        self._stop.set()
        interrupt = getattr(self.source, "interrupt", None)
        if interrupt is not None:
            interrupt()
        self._thread.join(timeout=5)
        self.source.close()
