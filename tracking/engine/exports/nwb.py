"""NWB (Neurodata Without Borders) through pynwb: what labs archive and share.

A ``behavior`` processing module holds a ``Position`` with one ``SpatialSeries`` per animal
(``animal_1``, ...): the box centre x, y in pixels of the original video (NaN where the
animal was not found), with the frames' container timestamps in seconds.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from ..trajectory import Trajectory


def write_nwb(
    trajectory: Trajectory,
    path: str | Path,
    *,
    session_description: str,
    identifier: str,
    source_video: str = "",
    session_start_time: datetime | None = None,
) -> Path:
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.behavior import Position, SpatialSeries

    nwbfile = NWBFile(
        session_description=session_description,
        identifier=identifier,
        session_start_time=session_start_time or datetime.now(UTC),
        source_script="MouseTrack Studio",
        source_script_file_name="tracking/engine/exports/nwb.py",
    )
    behavior = nwbfile.create_processing_module(
        name="behavior", description="Positions tracked by MouseTrack Studio"
    )
    position = Position(name="Position")
    centres = trajectory.centres()
    for a in range(trajectory.n_animals):
        position.add_spatial_series(
            SpatialSeries(
                name=f"animal_{a + 1}",
                description=f"Box centre of animal {a + 1}; NaN where it was not found"
                + (f"; video {source_video}" if source_video else ""),
                data=centres[:, a, :],
                timestamps=trajectory.time_s,
                reference_frame="pixels of the original video; origin top-left, x right, y down",
                unit="pixels",
            )
        )
    behavior.add(position)
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    with NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwbfile)
    os.replace(tmp, path)
    return path
