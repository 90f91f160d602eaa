"""MOT-challenge text: ``frame,id,bb_left,bb_top,bb_width,bb_height,conf,-1,-1,-1``.

Frames are 1-based (MOT's convention: video frame number + 1), ids are the animal ids 1..N,
boxes top-left corner and size in pixels. One line per frame and animal that has a box;
interpolated boxes are written (``include_interpolated``) with conf ``-1``, i.e. not a detector
score. Missing animals have no line, as MOT expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import numpy as np

from tracking.engine.trajectory import Status, Trajectory


def write_trajectory_mot(
    trajectory: Trajectory, dest: str | Path | TextIO, *, include_interpolated: bool = True
) -> None:
    if isinstance(dest, str | Path):
        with open(dest, "w", newline="", encoding="utf-8") as f:
            _write(trajectory, f, include_interpolated)
    else:
        _write(trajectory, dest, include_interpolated)


def _write(trajectory: Trajectory, f: TextIO, include_interpolated: bool) -> None:
    keep = trajectory.status == Status.DETECTED
    if include_interpolated:
        keep = keep | (trajectory.status == Status.INTERPOLATED)
    rows, animals = np.nonzero(keep)  # frame-major, then animal: MOT files are sorted so
    boxes = trajectory.boxes[rows, animals].astype(np.float64)
    conf = np.where(
        trajectory.status[rows, animals] == Status.DETECTED,
        trajectory.confidence[rows, animals].astype(np.float64),
        -1.0,
    )
    frames = trajectory.frames[rows] + 1
    for lo in range(0, len(rows), 50_000):
        sl = slice(lo, lo + 50_000)
        b = boxes[sl]
        lines = [
            f"{fr},{a},{x1:.3f},{y1:.3f},{w:.3f},{h:.3f},{c:.4f},-1,-1,-1\n"
            for fr, a, x1, y1, w, h, c in zip(
                frames[sl].tolist(),
                (animals[sl] + 1).tolist(),
                b[:, 0].tolist(),
                b[:, 1].tolist(),
                (b[:, 2] - b[:, 0]).tolist(),
                (b[:, 3] - b[:, 1]).tolist(),
                conf[sl].tolist(),
                strict=True,
            )
        ]
        f.write("".join(lines))
