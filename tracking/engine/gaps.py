"""After identities: single-frame jumps flagged as outliers, short gaps interpolated.

Both take and return a :class:`Trajectory` (new arrays; the input is not changed).
A *gap* is a run of frames without a detection between two detected frames; its length is the
time between those two detections (``time_s``, so variable frame rates are honoured). Gaps up to
``max_gap_s`` are filled by linear interpolation of the box corners in time: status
INTERPOLATED, confidence NaN. Longer gaps, and the frames before an animal's first detection or
after its last, stay MISSING: nothing is invented there.
"""

from __future__ import annotations

import numpy as np

from tracking.engine.trajectory import Status, Trajectory

_TIME_TOLERANCE_S = 1e-6  # container timestamps are rational; 15 frames at 30 fps is 0.5 s


def mark_outliers(trajectory: Trajectory, *, factor: float, drop: bool = False) -> Trajectory:
    """Flag ``flags["outlier"]`` where an animal jumps farther than ``factor`` x its median box
    diagonal between two consecutive detected frames.

    A spike (out and straight back) flags only the frame that left; a step (out, staying) flags
    the first frame after the jump. With ``drop``, flagged frames become MISSING (box and
    confidence NaN) so that :func:`interpolate_gaps` can bridge them; the flag stays.
    """
    status = trajectory.status
    centres = trajectory.centres()
    boxes = trajectory.boxes.astype(np.float64)
    outlier = np.zeros(status.shape, dtype=bool)
    for a in range(trajectory.n_animals):
        detected = status[:, a] == Status.DETECTED
        if detected.sum() < 2:
            continue
        diag = np.hypot(
            boxes[detected, a, 2] - boxes[detected, a, 0],
            boxes[detected, a, 3] - boxes[detected, a, 1],
        )
        limit = factor * float(np.median(diag))
        jump = np.zeros(trajectory.n_frames, dtype=bool)  # jump[t]: from t-1 to t
        both = detected[1:] & detected[:-1]
        step = np.linalg.norm(centres[1:, a] - centres[:-1, a], axis=1)
        jump[1:] = both & (step > limit)
        spike = jump & np.r_[jump[1:], False]  # left at t and came back at t+1
        outlier[:, a] = jump & ~np.r_[False, spike[:-1]]
    flags = {name: mask.copy() for name, mask in trajectory.flags.items()}
    flags["outlier"] = outlier | flags.get("outlier", np.zeros_like(outlier))
    out = _copy(trajectory, flags)
    if drop:
        out.status[outlier] = Status.MISSING
        out.boxes[outlier] = np.nan
        out.confidence[outlier] = np.nan
    return out


def interpolate_gaps(trajectory: Trajectory, *, max_gap_s: float) -> Trajectory:
    """Fill gaps up to ``max_gap_s`` (see module); existing INTERPOLATED rows are recomputed."""
    out = _copy(trajectory, {name: mask.copy() for name, mask in trajectory.flags.items()})
    t = trajectory.time_s.astype(np.float64)
    redo = out.status == Status.INTERPOLATED
    out.status[redo] = Status.MISSING
    out.boxes[redo] = np.nan
    for a in range(trajectory.n_animals):
        known = np.flatnonzero(out.status[:, a] == Status.DETECTED)
        if known.size < 2:
            continue
        holes = np.flatnonzero(out.status[:, a] == Status.MISSING)
        pos = np.searchsorted(known, holes)
        inside = (pos > 0) & (pos < known.size)
        holes, pos = holes[inside], pos[inside]
        span = t[known[pos]] - t[known[pos - 1]]
        holes = holes[span <= max_gap_s + _TIME_TOLERANCE_S]
        if not holes.size:
            continue
        source = trajectory.boxes[known, a].astype(np.float64)
        for c in range(4):
            out.boxes[holes, a, c] = np.interp(t[holes], t[known], source[:, c])
        out.status[holes, a] = Status.INTERPOLATED
        out.confidence[holes, a] = np.nan
    return out


def _copy(trajectory: Trajectory, flags: dict[str, np.ndarray]) -> Trajectory:
    return Trajectory(
        frames=trajectory.frames.copy(),
        time_s=trajectory.time_s.copy(),
        boxes=trajectory.boxes.copy(),
        confidence=trajectory.confidence.copy(),
        status=trajectory.status.copy(),
        flags=flags,
    )
