"""Which frames a model finds hard, and a capped, deduplicated sample spread over a video.
No Django import.

From a tracking trajectory (:class:`tracking.engine.trajectory.Trajectory`): frames where an
animal is missing, detected with low confidence, flagged as an outlier jump, or inside a
suspected identity swap. From an evaluation: frames with false positives, misses or a matched
pair below an IoU. Each candidate has a ``severity`` (higher = worse); the sample keeps at
most ``cap`` frames, at least ``min_gap`` frames apart (neighbours of one long miss look
alike), spread over the video by taking the worst candidate of each of ``cap`` equal spans
of the video first, then the worst of what is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

REASONS = ("missing", "low_confidence", "outlier", "swap", "false_positive", "miss", "low_iou")


@dataclass(frozen=True)
class HardFrame:
    """A video frame index, why it is hard (one of :data:`REASONS`) and how hard."""

    frame: int
    reason: str
    severity: float


def tracking_hard_frames(
    *,
    status: np.ndarray,
    confidence: np.ndarray,
    frames: np.ndarray,
    flags: dict[str, np.ndarray] | None = None,
    swaps: Sequence[tuple[int, int]] = (),
    low_confidence: float = 0.5,
) -> list[HardFrame]:
    """Candidates from a trajectory's arrays.

    status: int8 (F, N) (0 missing, 1 detected, 2 interpolated); confidence: float (F, N),
    NaN where not detected; frames: int (F,) video frame indices; flags: boolean (F, N)
    masks (``"outlier"`` is used); swaps: (first_frame, last_frame) inclusive intervals.
    Severity: a swap 3, a miss 2 (interpolated 1.5), an outlier 2, low confidence
    1 + (low_confidence - conf).
    """
    status = np.asarray(status)
    conf = np.asarray(confidence, dtype=np.float64)
    frames = np.asarray(frames, dtype=np.int64)
    out: list[HardFrame] = []
    not_detected = status != 1
    missing = (status == 0).any(axis=1)
    interpolated = (status == 2).any(axis=1) & ~missing
    for i in np.flatnonzero(missing):
        out.append(HardFrame(int(frames[i]), "missing", 2.0))
    for i in np.flatnonzero(interpolated):
        out.append(HardFrame(int(frames[i]), "missing", 1.5))
    with np.errstate(invalid="ignore"):
        low = np.where(not_detected, np.inf, conf)
    worst = low.min(axis=1) if low.size else np.zeros(0)
    for i in np.flatnonzero(worst < low_confidence):
        out.append(HardFrame(int(frames[i]), "low_confidence", 1.0 + low_confidence - worst[i]))
    outlier = (flags or {}).get("outlier")
    if outlier is not None:
        for i in np.flatnonzero(np.asarray(outlier).any(axis=1)):
            out.append(HardFrame(int(frames[i]), "outlier", 2.0))
    for first, last in swaps:
        middle = (int(first) + int(last)) // 2
        for f in sorted({int(first), middle, int(last)}):
            out.append(HardFrame(f, "swap", 3.0))
    return out


def evaluation_hard_frames(predictions: Iterable[dict], *, low_iou: float = 0.5) -> list[HardFrame]:
    """Candidates from an evaluation's per-frame results: dicts with ``frame`` (any id),
    ``false_positives``, ``misses`` and ``min_iou`` (None without a match)."""
    out = []
    for p in predictions:
        fp, misses, min_iou = int(p["false_positives"]), int(p["misses"]), p.get("min_iou")
        if misses:
            out.append(HardFrame(int(p["frame"]), "miss", 2.0 + misses))
        if fp:
            out.append(HardFrame(int(p["frame"]), "false_positive", 1.5 + fp))
        if min_iou is not None and min_iou < low_iou and not (fp or misses):
            out.append(HardFrame(int(p["frame"]), "low_iou", 1.0 + low_iou - float(min_iou)))
    return out


def sample_hard_frames(
    candidates: Iterable[HardFrame], *, n_frames: int, cap: int = 50, min_gap: int = 15
) -> list[HardFrame]:
    """At most ``cap`` candidates, one per frame (its worst reason), ``min_gap`` apart, spread
    over ``n_frames`` frames; returned in frame order."""
    if cap < 1:
        return []
    best: dict[int, HardFrame] = {}
    for c in candidates:
        if c.frame not in best or c.severity > best[c.frame].severity:
            best[c.frame] = c
    ranked = sorted(best.values(), key=lambda c: (-c.severity, c.frame))
    span = max(1.0, n_frames / cap)
    chosen: list[HardFrame] = []

    def far_enough(c: HardFrame) -> bool:
        return all(abs(c.frame - k.frame) >= min_gap for k in chosen)

    seen_spans: set[int] = set()
    for c in ranked:  # pass 1: the worst of each span
        key = int(c.frame // span)
        if key not in seen_spans and far_enough(c):
            seen_spans.add(key)
            chosen.append(c)
    for c in ranked:  # pass 2: fill up with the worst left
        if len(chosen) >= cap:
            break
        if c not in chosen and far_enough(c):
            chosen.append(c)
    chosen = sorted(chosen, key=lambda c: (-c.severity, c.frame))[:cap]
    return sorted(chosen, key=lambda c: c.frame)
