"""Per-frame CSV: one row per frame per animal, frames where it was not found included.

Columns, in this order: ``frame, time_s, animal, status, x, y, x1, y1, x2, y2,
confidence``. ``status`` is ``detected``, ``interpolated`` or ``missing``; ``x, y`` the box
centre; pixels of the original video; empty cells where the animal was not found (and no
confidence for interpolated rows). pandas reads it as is (``pd.read_csv``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..trajectory import Status, Trajectory

COLUMNS = ("frame", "time_s", "animal", "status", "x", "y", "x1", "y1", "x2", "y2", "confidence")
STATUS_NAMES = np.array([s.name.lower() for s in sorted(Status)], dtype=object)
# Frames written per block: bounded memory for hours of video, few calls for speed.
_BLOCK_FRAMES = 20_000


def write_csv(trajectory: Trajectory, path: str | Path) -> Path:
    import pandas as pd

    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    n = trajectory.n_animals
    centres = trajectory.centres()
    with open(tmp, "w", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for start in range(0, trajectory.n_frames, _BLOCK_FRAMES):
            rows = slice(start, start + _BLOCK_FRAMES)
            f = len(trajectory.frames[rows])
            boxes = trajectory.boxes[rows].astype(np.float64).reshape(-1, 4)
            c = centres[rows].reshape(-1, 2)
            block = pd.DataFrame(
                {
                    "frame": np.repeat(trajectory.frames[rows], n),
                    "time_s": np.repeat(np.round(trajectory.time_s[rows], 6), n),
                    "animal": np.tile(np.arange(1, n + 1), f),
                    "status": STATUS_NAMES[trajectory.status[rows].reshape(-1).astype(int)],
                    "x": np.round(c[:, 0], 2),
                    "y": np.round(c[:, 1], 2),
                    "x1": np.round(boxes[:, 0], 2),
                    "y1": np.round(boxes[:, 1], 2),
                    "x2": np.round(boxes[:, 2], 2),
                    "y2": np.round(boxes[:, 3], 2),
                    "confidence": np.round(
                        trajectory.confidence[rows].astype(np.float64).reshape(-1), 4
                    ),
                },
                columns=list(COLUMNS),
            )
            block.to_csv(out, header=False, index=False, na_rep="", lineterminator="\n")
    os.replace(tmp, path)
    return path
