"""The per-frame CSV: one row per frame per animal, found or not.

Columns, in this order: ``frame, time_s, animal, status, x, y, x1, y1, x2, y2, confidence``.
``status`` is ``detected`` | ``interpolated`` | ``missing``; ``x, y`` is the box centre; all in
original-video pixels; animals 1..N. Where an animal is missing, x..confidence are empty;
interpolated rows have a box but no confidence. ``pandas.read_csv`` reads it as int, float,
int, str and floats with NaN, without any conversion. Written in chunks of frames (a one-hour
30 fps video with 4 animals is 432k rows).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from tracking.engine.trajectory import Status, Trajectory

COLUMNS = ("frame", "time_s", "animal", "status", "x", "y", "x1", "y1", "x2", "y2", "confidence")
STATUS_NAMES = np.array([s.name.lower() for s in sorted(Status)], dtype=object)
PIXEL_DECIMALS = 3  # a thousandth of a pixel
TIME_DECIMALS = 6


def write_trajectory_csv(
    trajectory: Trajectory, dest: str | Path | TextIO, *, chunk_frames: int = 20_000
) -> None:
    if isinstance(dest, str | Path):
        with open(dest, "w", newline="", encoding="utf-8") as f:
            _write(trajectory, f, chunk_frames)
    else:
        _write(trajectory, dest, chunk_frames)


def _write(trajectory: Trajectory, f: TextIO, chunk_frames: int) -> None:
    f.write(",".join(COLUMNS) + "\n")
    n_animals = trajectory.n_animals
    for lo in range(0, trajectory.n_frames, chunk_frames):
        hi = min(lo + chunk_frames, trajectory.n_frames)
        f.write(_chunk(trajectory, lo, hi, n_animals))


def _chunk(trajectory: Trajectory, lo: int, hi: int, n_animals: int) -> str:
    rows = hi - lo
    status = trajectory.status[lo:hi].reshape(-1)
    boxes = trajectory.boxes[lo:hi].reshape(-1, 4).astype(np.float64)
    missing = status == Status.MISSING
    boxes[missing] = np.nan  # never print a stale box for a missing row
    confidence = trajectory.confidence[lo:hi].reshape(-1).astype(np.float64)
    confidence[status != Status.DETECTED] = np.nan
    frame = pd.DataFrame(
        {
            "frame": np.repeat(trajectory.frames[lo:hi], n_animals),
            "time_s": np.repeat(trajectory.time_s[lo:hi], n_animals).round(TIME_DECIMALS),
            "animal": np.tile(np.arange(1, n_animals + 1), rows),
            "status": STATUS_NAMES[status],
            "x": ((boxes[:, 0] + boxes[:, 2]) / 2).round(PIXEL_DECIMALS),
            "y": ((boxes[:, 1] + boxes[:, 3]) / 2).round(PIXEL_DECIMALS),
            "x1": boxes[:, 0].round(PIXEL_DECIMALS),
            "y1": boxes[:, 1].round(PIXEL_DECIMALS),
            "x2": boxes[:, 2].round(PIXEL_DECIMALS),
            "y2": boxes[:, 3].round(PIXEL_DECIMALS),
            "confidence": confidence.round(4),
        },
        columns=list(COLUMNS),
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False, na_rep="", lineterminator="\n")
    return buffer.getvalue()
