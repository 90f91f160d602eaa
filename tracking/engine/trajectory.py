"""The data the tracking engine passes around (no Django import).

Coordinates are pixels of the original video. Boxes are ``x1, y1, x2, y2`` (corners), as
trackers and MOT tools use them; the box centre is the animal's position ``x, y``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

import numpy as np


class Status(IntEnum):
    """Per frame and animal; the CSV writes the lower-case name."""

    MISSING = 0
    DETECTED = 1
    INTERPOLATED = 2


@dataclass(frozen=True)
class FrameDetections:
    """What the detector found in one frame, before identities.

    boxes_xyxy: float32 (K, 4) original-video pixels; scores: float32 (K,) in [0, 1].
    ``time_s`` is the frame's presentation time from the container (not index / fps).
    appearance: float32 (K, D) one descriptor per box (:mod:`tracking.engine.appearance`), or
    ``None`` where none was taken (a single animal, detections stored before there were any).
    """

    frame: int
    time_s: float
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    appearance: np.ndarray | None = None


@dataclass
class Trajectory:
    """Every frame of a video × every animal (identity), dense.

    frames: int64 (F,) frame indices 0..F-1 in decode order; time_s: float64 (F,).
    boxes: float32 (F, N, 4) x1, y1, x2, y2, NaN where missing.
    confidence: float32 (F, N), NaN where missing (interpolated rows keep NaN too).
    status: int8 (F, N) of :class:`Status`.
    flags: named boolean (F, N) masks a review needs, e.g. ``"outlier"``, ``"swap_suspect"``.
    """

    frames: np.ndarray
    time_s: np.ndarray
    boxes: np.ndarray
    confidence: np.ndarray
    status: np.ndarray
    flags: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def n_animals(self) -> int:
        return int(self.boxes.shape[1])

    def centres(self) -> np.ndarray:
        """float64 (F, N, 2) box centres, NaN where missing."""
        b = self.boxes.astype(np.float64)
        return np.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2], axis=-1)


class FrameDetector(Protocol):
    """What the engine needs from a model runtime (``training.runtime.Detector`` fits).

    ``predict`` takes HxWx3 uint8 BGR images (whole frames or crops of them) and returns,
    per image, an object with ``boxes_xywh`` (float32 (K, 4): x, y top-left, w, h in that
    image's pixels), ``scores`` (K,) and ``classes`` (K,).
    """

    def predict(
        self, images, *, imgsz: int, conf: float, iou: float, max_det: int, batch_size: int
    ): ...
