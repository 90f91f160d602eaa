"""The one entry point from per-frame detections to N identities, gaps, swaps and trust.

``build_trajectory`` is what the run loop and the Django layer call once a video's detections
are complete; ``review`` recomputes the review figures of an (edited) trajectory. Deterministic:
the same detections and parameters give the same result. Ultralytics' offline set-up is the
caller's job (see :mod:`tracking.engine.association`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tracking.engine.association import associate
from tracking.engine.gaps import interpolate_gaps, mark_outliers
from tracking.engine.identity import SuspectedSwap, assign_identities, find_suspected_swaps
from tracking.engine.params import TrackingParams
from tracking.engine.scoring import iou_matrix
from tracking.engine.trajectory import FrameDetections, Status, Trajectory
from tracking.engine.trust import TrustReport, trust_report


@dataclass(frozen=True)
class TrackResult:
    """``trajectory`` (animals 1..N = columns 0..N-1, flags ``outlier`` and ``swap_suspect``),
    the intervals to review, the trust figures, the parameters used and counters for the log."""

    trajectory: Trajectory
    suspected_swaps: list[SuspectedSwap]
    trust: TrustReport
    params: TrackingParams
    stats: dict = field(default_factory=dict)


def build_trajectory(
    detections: Sequence[FrameDetections],
    *,
    n_animals: int,
    params: TrackingParams | dict | None = None,
) -> TrackResult:
    """Detections of every decoded frame, in order -> a dense trajectory of ``n_animals``.

    ``detections[i].frame`` must increase strictly and ``time_s`` must not decrease; boxes are
    x1, y1, x2, y2 original-video pixels. ``params``: a :class:`TrackingParams`, its
    ``to_dict()`` form (as stored with a run), or ``None`` for the defaults. Raises
    ``ValueError`` naming the bad input.
    """
    if params is None:
        params = TrackingParams()
    elif isinstance(params, dict):
        params = TrackingParams.from_dict(params)
    _validate(detections, n_animals)
    frames = np.array([d.frame for d in detections], dtype=np.int64)
    time_s = np.array([d.time_s for d in detections], dtype=np.float64)

    detections = [_at_most(d, n_animals) for d in detections]
    tracklets = associate(detections, params.tracker, min_score=params.min_score)
    ids = assign_identities(tracklets, time_s, n_animals=n_animals, params=params)
    found = ~np.isnan(ids.scores)
    trajectory = Trajectory(
        frames=frames,
        time_s=time_s,
        boxes=ids.boxes.astype(np.float32),
        confidence=ids.scores.astype(np.float32),
        status=np.where(found, Status.DETECTED, Status.MISSING).astype(np.int8),
    )
    trajectory = mark_outliers(trajectory, factor=params.outlier_factor, drop=params.drop_outliers)
    trajectory = interpolate_gaps(trajectory, max_gap_s=params.max_gap_s)
    swaps, trust = review(trajectory, params=params)
    stats = dict(ids.stats, body_length_px=ids.body_length)
    return TrackResult(trajectory, swaps, trust, params, stats)


def review(
    trajectory: Trajectory, *, params: TrackingParams
) -> tuple[list[SuspectedSwap], TrustReport]:
    """Suspected swaps and trust figures of ``trajectory``; sets its ``swap_suspect`` flag.

    Call it again after applying edits (:func:`tracking.engine.edits.apply_edits`).
    """
    swaps, mask = find_suspected_swaps(
        trajectory,
        swap_iou=params.swap_iou,
        swap_distance_bl=params.swap_distance_bl,
        merge_frames=params.contact_pad_frames,
    )
    trajectory.flags["swap_suspect"] = mask
    return swaps, trust_report(trajectory, swaps)


def _validate(detections: Sequence[FrameDetections], n_animals: int) -> None:
    if isinstance(n_animals, bool) or not isinstance(n_animals, int | np.integer):
        raise ValueError("n_animals must be an integer")
    if not 1 <= n_animals <= 100:
        raise ValueError("n_animals must be in [1, 100]")
    previous_frame, previous_time = None, -np.inf
    for d in detections:
        if previous_frame is not None and d.frame <= previous_frame:
            raise ValueError(f"detections: frame {d.frame} does not follow frame {previous_frame}")
        if not np.isfinite(d.time_s) or d.time_s < previous_time:
            raise ValueError(f"detections: frame {d.frame} has a bad time_s ({d.time_s})")
        boxes = np.asarray(d.boxes_xyxy)
        scores = np.asarray(d.scores)
        if boxes.size and (boxes.ndim != 2 or boxes.shape[1] != 4):
            raise ValueError(f"detections: frame {d.frame} boxes must be (K, 4)")
        if boxes.reshape(-1, 4).shape[0] != scores.reshape(-1).shape[0]:
            raise ValueError(f"detections: frame {d.frame} has {len(scores)} scores for its boxes")
        previous_frame, previous_time = d.frame, d.time_s


# Duplicates of one animal (a box on its body and one on body + tail) overlap this much.
_DUPLICATE_IOU = 0.5
# A box holding this share of each of two distinct, smaller boxes is those two animals merged.
_MERGED_CONTAINS = 0.8
_MERGED_AREA = 0.85  # ...each of them at most this share of its area


def _at_most(found: FrameDetections, n_animals: int) -> FrameDetections:
    """At most ``n_animals`` boxes of one frame: merged boxes out, class-agnostic NMS, then
    the best scores.

    A frame shows at most N animals. A weak detector gives several overlapping boxes per
    animal; left in, every frame looks like a contact of animals and no identity can be
    trusted, so a video of clearly separate animals came out all "missing". Where two animals
    touch it often gives, besides a box on each, one around both, scoring higher: kept, that
    one would suppress the box of one animal (its IoU with it is over ``_DUPLICATE_IOU``) and
    match neither. With N >= 2 known, a box that holds two distinct smaller boxes of the same
    frame is dropped in favour of them.
    """
    scores = np.asarray(found.scores, dtype=np.float32)
    if len(scores) <= n_animals:
        return found
    boxes = np.asarray(found.boxes_xyxy, dtype=np.float32).reshape(-1, 4)
    overlap = iou_matrix(boxes, boxes)
    merged = _merged_boxes(boxes, overlap) if n_animals >= 2 else np.zeros(len(boxes), bool)
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if merged[i]:
            continue
        if all(overlap[i, j] <= _DUPLICATE_IOU for j in kept):
            kept.append(int(i))
            if len(kept) == n_animals:
                break
    kept.sort()
    return FrameDetections(found.frame, found.time_s, boxes[kept], scores[kept])


def _merged_boxes(boxes: np.ndarray, overlap: np.ndarray) -> np.ndarray:
    """bool (K,): the box holds two distinct smaller boxes (two animals in one box)."""
    b = boxes.astype(np.float64)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    w = np.clip(
        np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]), 0, None
    )
    h = np.clip(
        np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]), 0, None
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (w * h) / area[None, :]  # [i, j]: share of box j inside box i
    out = np.zeros(len(b), dtype=bool)
    for i in range(len(b)):
        inside = np.flatnonzero((share[i] >= _MERGED_CONTAINS) & (area <= _MERGED_AREA * area[i]))
        inside = inside[inside != i]
        if len(inside) >= 2:
            distinct = overlap[np.ix_(inside, inside)] <= _DUPLICATE_IOU
            np.fill_diagonal(distinct, False)
            out[i] = bool(distinct.any())
    return out
