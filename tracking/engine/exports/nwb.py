"""NWB (Neurodata Without Borders) through pynwb: what labs archive and share.

A ``behavior`` processing module holds a ``Position`` with one ``SpatialSeries`` per animal
(``animal_1``, ...): the box centre x, y (NaN where the animal was not found), with the
frames' container timestamps in seconds. With a calibration (``px_per_cm``) the positions
are in metres (NWB's unit for positions; ``conversion`` 1.0); without one they stay in
pixels of the original video and the unit and description say so. The subject (id, group)
goes into the file's ``Subject``, the session into ``session_id`` and the description.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..trajectory import Trajectory

FRAME = "origin at the video frame's top-left corner, x to the right, y down"


@dataclass(frozen=True)
class NwbSubject:
    """Who was recorded: ``subject_id``, ``group`` (treatment / genotype), ``session``."""

    subject_id: str = ""
    group: str = ""
    session: str = ""


def write_nwb(
    trajectory: Trajectory,
    path: str | Path,
    *,
    session_description: str,
    identifier: str,
    source_video: str = "",
    session_start_time: datetime | None = None,
    px_per_cm: float | None = None,
    calibration_note: str = "",
    subject: NwbSubject | None = None,
) -> Path:
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.file import Subject

    subject = subject or NwbSubject()
    if subject.session:
        session_description = f"{session_description}; session {subject.session}"
    nwb_subject = None
    if subject.subject_id or subject.group:
        nwb_subject = Subject(
            subject_id=subject.subject_id or None,
            description=f"group: {subject.group}" if subject.group else "no group given",
        )
    nwbfile = NWBFile(
        session_description=session_description,
        identifier=identifier,
        session_start_time=session_start_time or datetime.now(UTC),
        session_id=subject.session or None,
        subject=nwb_subject,
        source_script="MouseTrack Studio",
        source_script_file_name="tracking/engine/exports/nwb.py",
    )
    behavior = nwbfile.create_processing_module(
        name="behavior", description="Positions tracked by MouseTrack Studio"
    )
    position = Position(name="Position")
    centres = trajectory.centres()
    if px_per_cm:
        data = centres / (float(px_per_cm) * 100.0)  # px -> m
        unit = "meters"
        scale = f"metres, calibrated at {px_per_cm:g} px/cm" + (
            f" ({calibration_note})" if calibration_note else ""
        )
    else:
        data, unit = centres, "pixels"
        scale = "pixels of the original video (the video is not calibrated)"
    for a in range(trajectory.n_animals):
        position.add_spatial_series(
            SpatialSeries(
                name=f"animal_{a + 1}",
                description=f"Box centre of animal {a + 1} in {scale}; NaN where it was not "
                "found" + (f"; video {source_video}" if source_video else ""),
                data=data[:, a, :],
                timestamps=trajectory.time_s,
                reference_frame=FRAME,
                unit=unit,
                conversion=1.0,
            )
        )
    behavior.add(position)
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    with NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwbfile)
    os.replace(tmp, path)
    return path
