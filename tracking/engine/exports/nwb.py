"""Neurodata Without Borders (NWB 2) export through ``pynwb``.

A ``behavior`` processing module holds a ``Position`` interface with one ``SpatialSeries`` per
animal (``animal_1`` .. ``animal_N``): data float64 (F, 2), the box centre x, y in pixels of the
original video (origin top-left, x right, y down), NaN where the animal is missing;
``timestamps`` = the frames' presentation times in seconds. Interpolated positions are written
unless ``include_interpolated=False``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tracking.engine.trajectory import Status, Trajectory

REFERENCE_FRAME = (
    "video pixels: origin at the top-left corner of the frame, x to the right, y down; "
    "position = centre of the animal's bounding box"
)


def write_trajectory_nwb(
    trajectory: Trajectory,
    dest: str | Path | BinaryIO,
    *,
    session_description: str,
    identifier: str,
    session_start_time: datetime,
    video_name: str | None = None,
    include_interpolated: bool = True,
) -> None:
    """``dest``: a path, or a binary file object opened for writing (HDF5 through h5py).

    ``session_start_time`` must be timezone-aware (NWB requires it).
    """
    import h5py
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.behavior import Position

    if session_start_time.tzinfo is None:
        raise ValueError("session_start_time must be timezone-aware")
    nwb = NWBFile(
        session_description=session_description,
        identifier=identifier,
        session_start_time=session_start_time,
        source_script="MouseTrack Studio tracking export",
        source_script_file_name="tracking/engine/exports/nwb.py",
    )
    behavior = nwb.create_processing_module(
        name="behavior", description="animal positions tracked by MouseTrack Studio"
    )
    position = Position(name="Position")
    keep = trajectory.status == Status.DETECTED
    if include_interpolated:
        keep |= trajectory.status == Status.INTERPOLATED
    centres = np.where(keep[..., None], trajectory.centres(), np.nan)
    timestamps = trajectory.time_s.astype(np.float64)
    source = f" of {video_name}" if video_name else ""
    for a in range(trajectory.n_animals):
        position.create_spatial_series(
            name=f"animal_{a + 1}",
            data=centres[:, a, :],
            timestamps=timestamps,
            reference_frame=REFERENCE_FRAME,
            unit="pixels",
            description=f"animal {a + 1}: box centre x, y in pixels{source}; NaN where missing",
        )
    behavior.add(position)
    if isinstance(dest, str | Path):
        with NWBHDF5IO(str(dest), mode="w") as io:
            io.write(nwb)
    else:
        with h5py.File(dest, "w") as f, NWBHDF5IO(file=f, mode="w") as io:
            io.write(nwb)
