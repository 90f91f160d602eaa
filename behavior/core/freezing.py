"""ezTrack-style freezing from pixel change inside the animal's (dilated) box. Off unless asked.

ezTrack (Pennington et al. 2019, FreezeAnalysis) blurs each greyscale frame (Gaussian,
sigma 1) to suppress sensor noise and jitter, counts the pixels whose intensity changed by
more than ``MotionCutoff`` grey levels since the previous frame ("motion"), and calls a frame
freezing when motion stays below ``FreezeThresh`` for at least ``MinDuration`` frames — the
whole run, including its first frames. Here the same, with three changes for a tracked animal:

* motion is measured only inside the region of the animal: the union of its boxes in the two
  frames, grown by ``dilate_px`` on every side and clipped to the frame (so another animal or
  a moving cable elsewhere does not count);
* the threshold is on the *share* of that region's pixels that changed
  (``freeze_threshold``, default 0.02), because the region's size changes with the box, where
  ezTrack's absolute pixel count is tuned for one fixed crop. Calibrate it on a few scored
  videos, as ezTrack advises for its own threshold;
* ``min_duration_s`` (default 1 s) is time from the timestamps (frame durations as in
  :mod:`.timebase`), not a frame count.

A frame without a box in it or in the previous frame (and the first frame) has no motion
(NaN): it is not freezing and it interrupts a freezing run.

The caller streams frames (:class:`MotionMeter`), or passes an iterable to
:func:`measure_freezing`. Frames: 2-D greyscale arrays (H, W), uint8 or float, full frames in
original-video pixels (convert BGR with ``cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)``). Boxes:
``x1, y1, x2, y2`` original-video pixels, NaN where missing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from .errors import BehaviorInputError, finite_number
from .timebase import frame_durations, validate_time

_EPS = 1e-9


@dataclass(frozen=True)
class FreezingParams:
    motion_cutoff: float = 10.0  # grey levels (ezTrack's MotionCutoff)
    freeze_threshold: float = 0.02  # share of the region's pixels changed
    min_duration_s: float = 1.0
    dilate_px: float = 10.0
    sigma: float = 1.0  # Gaussian blur, px (ezTrack's SIGMA)

    def checked(self) -> FreezingParams:
        if finite_number(self.motion_cutoff, "motion_cutoff") < 0:
            raise BehaviorInputError("motion_cutoff", "must be >= 0")
        thr = finite_number(self.freeze_threshold, "freeze_threshold")
        if not 0 < thr <= 1:
            raise BehaviorInputError("freeze_threshold", f"must be in (0, 1], got {thr:g}")
        if finite_number(self.min_duration_s, "min_duration_s") < 0:
            raise BehaviorInputError("min_duration_s", "must be >= 0")
        if finite_number(self.dilate_px, "dilate_px") < 0:
            raise BehaviorInputError("dilate_px", "must be >= 0")
        if finite_number(self.sigma, "sigma") < 0:
            raise BehaviorInputError("sigma", "must be >= 0")
        return self


@dataclass(frozen=True)
class FreezingResult:
    """Per frame: ``changed_px`` (pixels over the cutoff), ``region_px`` (pixels compared),
    ``motion`` (their ratio, NaN where not measured), ``freezing`` (bool); and the totals."""

    changed_px: np.ndarray
    region_px: np.ndarray
    motion: np.ndarray
    freezing: np.ndarray
    time_freezing_s: float
    bouts: list[tuple[float, float]]  # (start_s, end_s) container times
    parameters: dict


class MotionMeter:
    """Feed frames in order with :meth:`update`; each call returns ``(changed_px,
    region_px)`` between that frame and the previous one (``(nan, 0)`` when not measured)."""

    def __init__(self, params: FreezingParams | None = None) -> None:
        self.params = (params or FreezingParams()).checked()
        self._prev: np.ndarray | None = None
        self._prev_box: np.ndarray | None = None

    def update(self, frame: np.ndarray, box_xyxy: np.ndarray) -> tuple[float, int]:
        frame = np.asarray(frame)
        if frame.ndim != 2:
            raise BehaviorInputError("frames", f"must be 2-D greyscale, got shape {frame.shape}")
        box = np.asarray(box_xyxy, dtype=np.float64).reshape(4)
        prev, prev_box = self._prev, self._prev_box
        if prev is not None and prev.shape != frame.shape:
            raise BehaviorInputError("frames", "frame size changed within the video")
        self._prev, self._prev_box = frame, box
        if prev is None or not (np.isfinite(box).all() and np.isfinite(prev_box).all()):
            return math.nan, 0
        h, w = frame.shape
        d = self.params.dilate_px
        x1 = max(int(math.floor(min(box[0], prev_box[0]) - d)), 0)
        y1 = max(int(math.floor(min(box[1], prev_box[1]) - d)), 0)
        x2 = min(int(math.ceil(max(box[2], prev_box[2]) + d)), w)
        y2 = min(int(math.ceil(max(box[3], prev_box[3]) + d)), h)
        if x2 <= x1 or y2 <= y1:
            return math.nan, 0
        # Blur a margin around the region too, so its edge pixels see real neighbours.
        m = int(math.ceil(4 * self.params.sigma))
        ox1, oy1, ox2, oy2 = max(x1 - m, 0), max(y1 - m, 0), min(x2 + m, w), min(y2 + m, h)
        a = prev[oy1:oy2, ox1:ox2].astype(np.float32)
        b = frame[oy1:oy2, ox1:ox2].astype(np.float32)
        if self.params.sigma > 0:
            a = gaussian_filter(a, self.params.sigma)
            b = gaussian_filter(b, self.params.sigma)
        diff = np.abs(b - a)[y1 - oy1 : y2 - oy1, x1 - ox1 : x2 - ox1]
        return float(np.count_nonzero(diff > self.params.motion_cutoff)), int(diff.size)


def freezing_from_motion(
    time_s: np.ndarray, motion: np.ndarray, *, threshold: float, min_duration_s: float
) -> np.ndarray:
    """bool (F,): frames in runs of consecutive ``motion < threshold`` frames lasting at least
    ``min_duration_s`` (summed frame durations). NaN motion breaks a run."""
    t = validate_time(time_s)
    motion = np.asarray(motion, dtype=np.float64)
    if motion.shape != t.shape:
        raise BehaviorInputError("motion", f"must have shape {t.shape}, got {motion.shape}")
    with np.errstate(invalid="ignore"):
        low = motion < threshold
    if low.size == 0:
        return low
    dur = frame_durations(t)
    run = np.concatenate([[0], np.cumsum(~(low[:-1] & low[1:]))])
    run_time = np.bincount(run, weights=np.where(low, dur, 0.0))
    return low & (run_time[run] >= min_duration_s - _EPS)


def measure_freezing(
    frames: Iterable[np.ndarray],
    boxes_xyxy: np.ndarray,
    time_s: np.ndarray,
    params: FreezingParams | None = None,
) -> FreezingResult:
    """Freezing of one animal over a stream of greyscale frames (one per timestamp)."""
    params = (params or FreezingParams()).checked()
    t = validate_time(time_s)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.shape != (t.shape[0], 4):
        raise BehaviorInputError("boxes", f"must have shape ({t.shape[0]}, 4), got {boxes.shape}")
    meter = MotionMeter(params)
    changed = np.full(t.shape[0], np.nan)
    region = np.zeros(t.shape[0], dtype=np.int64)
    count = 0
    for i, frame in enumerate(frames):
        if i >= t.shape[0]:
            raise BehaviorInputError("frames", f"more frames than the {t.shape[0]} timestamps")
        changed[i], region[i] = meter.update(frame, boxes[i])
        count += 1
    if count != t.shape[0]:
        raise BehaviorInputError("frames", f"got {count} frames for {t.shape[0]} timestamps")
    with np.errstate(invalid="ignore", divide="ignore"):
        motion = np.where(region > 0, changed / np.maximum(region, 1), np.nan)
    freezing = freezing_from_motion(
        t, motion, threshold=params.freeze_threshold, min_duration_s=params.min_duration_s
    )
    dur = frame_durations(t)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], freezing.astype(np.int8), [0]])))
    bouts = [
        (float(t[s]), float(t[e - 1] + dur[e - 1]))
        for s, e in zip(edges[::2], edges[1::2], strict=True)
    ]
    return FreezingResult(
        changed_px=changed,
        region_px=region,
        motion=motion,
        freezing=freezing,
        time_freezing_s=float(dur[freezing].sum()),
        bouts=bouts,
        parameters=asdict(params),
    )
