"""Small hand-made trajectories for the gap, trust, edit and export tests."""

from __future__ import annotations

import numpy as np

from tracking.engine.trajectory import Status, Trajectory


def make_trajectory(
    centres: np.ndarray, *, fps: float = 30.0, size=(40.0, 20.0), conf: float = 0.9
) -> Trajectory:
    """(F, N, 2) centres, NaN = missing -> a trajectory of detected/missing rows."""
    centres = np.asarray(centres, dtype=np.float64)
    n_frames, n_animals = centres.shape[:2]
    half = np.array(size) / 2
    boxes = np.concatenate([centres - half, centres + half], axis=-1).astype(np.float32)
    found = ~np.isnan(centres).any(axis=-1)
    return Trajectory(
        frames=np.arange(n_frames, dtype=np.int64),
        time_s=np.arange(n_frames, dtype=np.float64) / fps,
        boxes=boxes,
        confidence=np.where(found, conf, np.nan).astype(np.float32),
        status=np.where(found, Status.DETECTED, Status.MISSING).astype(np.int8),
    )


def line(n_frames: int, start=(100.0, 100.0), step=(2.0, 0.0)) -> np.ndarray:
    """(F, 2) centres moving at a constant step per frame."""
    return np.asarray(start) + np.arange(n_frames)[:, None] * np.asarray(step)
