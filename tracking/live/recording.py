"""What a live session keeps: the video (H.264) and the detections (no Django import).

The recording holds exactly the frames the tracker processed, each at its capture time
(a 1/1000 s time base: a dropped frame leaves a longer gap, so the file's timestamps are the
camera's). The detections of recorded frame k are frame k of the engine's chunks
(:class:`tracking.engine.chunks.ChunkWriter`), so a stopped session is an ordinary run
directory: detections 1:1 with the recorded video, ``time_s`` = the container time.
Encoding runs on its own thread (after the frame's events were handed to the outputs).
A killed process loses at most the frames of the chunk being filled (and the video's
unfinished tail: an MP4 without its index is unreadable, so the writer uses fragmented
MP4, whose fragments are readable as they are written).
"""

from __future__ import annotations

import json
import queue
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

VIDEO_NAME = "recording.mp4"
EVENTS_NAME = "events.jsonl"


class VideoRecorder:
    """H.264 (libx264, ``ultrafast``/``zerolatency``) MP4 writer on a thread."""

    def __init__(self, path: Path, *, size: tuple[int, int], fps: float, maxsize: int = 90):
        import av

        self.path = Path(path)
        self.container = av.open(
            str(self.path), "w", options={"movflags": "frag_keyframe+empty_moov"}
        )
        stream = self.container.add_stream("libx264", rate=max(1, round(fps)))
        stream.width, stream.height = (size[0] // 2) * 2, (size[1] // 2) * 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "20"}
        stream.codec_context.time_base = Fraction(1, 1000)
        self.stream = stream
        self.frames = 0
        self.error: str | None = None
        self._last_pts = -1
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._thread = threading.Thread(target=self._run, name="live-recorder", daemon=True)
        self._thread.start()

    def add(self, image: np.ndarray, time_s: float) -> None:
        """Queue one frame (blocks only when encoding is far behind: a recording with holes
        would no longer match its detections)."""
        self._queue.put((image, time_s))

    def _run(self) -> None:
        import av

        while True:
            item = self._queue.get()
            if item is None:
                break
            if self.error is not None:
                continue
            image, time_s = item
            try:
                h, w = self.stream.height, self.stream.width
                frame = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(image[:h, :w]), format="bgr24"
                )
                pts = max(self._last_pts + 1, int(round(time_s * 1000)))
                self._last_pts = pts
                frame.pts, frame.time_base = pts, Fraction(1, 1000)
                for packet in self.stream.encode(frame):
                    self.container.mux(packet)
                self.frames += 1
            except Exception as e:  # noqa: BLE001 - kept and reported; tracking goes on
                self.error = str(e) or type(e).__name__
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)


class EventLog:
    """The session's event log, one JSON object a line, appended as events go out."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.lines = 0

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self._file.closed:
                return
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
            self.lines += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()
