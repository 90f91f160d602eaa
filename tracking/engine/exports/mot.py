"""MOT-challenge text for tracking-benchmark tools (py-motmetrics, TrackEval).

One line per found box: ``frame,id,bb_left,bb_top,bb_width,bb_height,conf,-1,-1,-1`` with
1-based frames as MOT numbers them; missing rows are absent (MOT has no "missing" line);
interpolated boxes carry conf 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..trajectory import Status, Trajectory


def write_mot(trajectory: Trajectory, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "w") as out:
        for row, frame in enumerate(trajectory.frames):
            for a in range(trajectory.n_animals):
                status = trajectory.status[row, a]
                if status == Status.MISSING:
                    continue
                x1, y1, x2, y2 = (float(v) for v in trajectory.boxes[row, a])
                conf = float(trajectory.confidence[row, a])
                conf = 0.0 if status == Status.INTERPOLATED or np.isnan(conf) else conf
                out.write(
                    f"{int(frame) + 1},{a + 1},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
                    f"{conf:.4f},-1,-1,-1\n"
                )
    os.replace(tmp, path)
    return path
