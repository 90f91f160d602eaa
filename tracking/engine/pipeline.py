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


def _at_most(found: FrameDetections, n_animals: int) -> FrameDetections:
    """At most ``n_animals`` boxes of one frame: class-agnostic NMS, then the best scores.

    A frame shows at most N animals. A weak detector gives several overlapping boxes per
    animal; left in, every frame looks like a contact of animals and no identity can be
    trusted, so a video of clearly separate animals came out all "missing".
    """
    scores = np.asarray(found.scores, dtype=np.float32)
    if len(scores) <= n_animals:
        return found
    boxes = np.asarray(found.boxes_xyxy, dtype=np.float32).reshape(-1, 4)
    overlap = iou_matrix(boxes, boxes)
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(overlap[i, j] <= _DUPLICATE_IOU for j in kept):
            kept.append(int(i))
            if len(kept) == n_animals:
                break
    kept.sort()
    looks = None if found.appearance is None else np.asarray(found.appearance)[kept]
    return FrameDetections(found.frame, found.time_s, boxes[kept], scores[kept], looks)
