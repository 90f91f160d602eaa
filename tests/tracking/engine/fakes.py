"""Stand-ins for the model runtime and the decoder in the run-loop tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from tracking.engine.frames import DecodedFrame


@dataclass(frozen=True)
class FakeDetections:
    boxes_xywh: np.ndarray  # float32 (K, 4), x, y top-left, w, h in the input image's pixels
    scores: np.ndarray
    classes: np.ndarray


@dataclass
class Call:
    imgsz: int
    shapes: list[tuple[int, ...]]
    batch_size: int


@dataclass
class BlobDetector:
    """Finds dark blobs, honouring the runtime's scale contract.

    Like the letterbox of a YOLO runtime, each input is resized by ``imgsz / max(h, w)``
    (bilinear) before anything is looked at, and boxes are mapped back to the input's
    pixels: a crop given the right ``imgsz`` yields the boxes the full frame yields.
    Blobs of at least ``min_area`` resized pixels darker than ``threshold`` are detections,
    score ``score``. ``fail_on_call`` raises on that call (0-based), as a crashed runtime.
    """

    threshold: int = 100
    min_area: int = 4
    score: float = 0.9
    fail_on_call: int | None = None
    delay_s: float = 0.0
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def images_seen(self) -> int:
        return sum(len(c.shapes) for c in self.calls)

    def predict(self, images, *, imgsz, conf, iou, max_det, batch_size):
        with self.lock:
            if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
                raise RuntimeError("the runtime crashed")
            self.calls.append(Call(imgsz, [im.shape for im in images], batch_size))
        if self.delay_s:
            time.sleep(self.delay_s)
        return [self._detect(im, imgsz, conf, max_det) for im in images]

    def _detect(self, image, imgsz, conf, max_det) -> FakeDetections:
        h, w = image.shape[:2]
        r = imgsz / max(h, w)
        small = cv2.resize(image, (round(w * r), round(h * r)), interpolation=cv2.INTER_LINEAR)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        count, _, stats, _ = cv2.connectedComponentsWithStats(
            (gray < self.threshold).astype(np.uint8), connectivity=8
        )
        boxes = [
            stats[i, :4].astype(np.float32) / r
            for i in range(1, count)
            if stats[i, cv2.CC_STAT_AREA] >= self.min_area
        ]
        boxes = boxes[:max_det] if self.score >= conf else []
        xywh = np.array(boxes, np.float32).reshape(-1, 4)
        return FakeDetections(
            xywh, np.full(len(xywh), self.score, np.float32), np.zeros(len(xywh), np.int64)
        )


class ListSource:
    """A frame source over frames made in memory, counting what it yields.

    ``fail_at``: raise ``OSError`` instead of yielding that frame; ``stall_at``/``stall_s``:
    sleep before yielding that frame (a slow decoder).
    """

    def __init__(self, make_frame, n_frames, *, fps=30.0, size=(320, 240), fail_at=None,
                 stall_at=None, stall_s=0.0):  # fmt: skip
        self.make_frame = make_frame
        self.frame_count = n_frames
        self.fps = fps
        self.size = size
        self.fail_at = fail_at
        self.stall_at, self.stall_s = stall_at, stall_s
        self.yielded = 0
        self.closed = False

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[DecodedFrame]:
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        try:
            for index in range(start, stop):
                if index == self.fail_at:
                    raise OSError(f"corrupt packet at frame {index}")
                if index == self.stall_at:
                    time.sleep(self.stall_s)
                self.yielded += 1
                yield DecodedFrame(index, index / self.fps, self.make_frame(index))
        finally:
            self.closed = True
