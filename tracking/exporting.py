"""A run's trajectory as the user sees it (edits applied) and its export files.

The stored Parquet is the engine's output; every read goes through
:func:`tracking_run_trajectory`, which applies the run's active edits in order, so the
page, every export and the behaviour analysis show the same corrected identities.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from django.core.exceptions import ValidationError

from webapp.storage import scratch_workdir

from .models import TrackingRun
from .selectors import tracking_edits_active, tracking_run_trajectory

EXPORTS = {
    "csv": "text/csv",
    "nwb": "application/x-hdf5",
    "mot.txt": "text/plain",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


def trajectory_arrays(*, run: TrackingRun) -> dict:
    """Compact per-animal arrays for the run page (overlay, timeline): rounded, JSON."""
    traj = tracking_run_trajectory(run=run)
    boxes = np.round(traj.boxes.astype(np.float64), 1)
    conf = np.round(traj.confidence.astype(np.float64), 3)
    animals = []
    for a in range(traj.n_animals):
        b = boxes[:, a, :]
        animals.append(
            {
                "animal": a + 1,
                "status": traj.status[:, a].astype(int).tolist(),
                "boxes": [None if np.isnan(row[0]) else row.tolist() for row in b],
                "confidence": [None if np.isnan(c) else float(c) for c in conf[:, a]],
            }
        )
    return {
        "run": run.pk,
        "frames": traj.frames.astype(int).tolist(),
        "time_s": np.round(traj.time_s, 4).tolist(),
        "fps": run.video.fps,
        "width": run.video.width,
        "height": run.video.height,
        "animals": animals,
        "suspected_swaps": run.suspected_swaps,
        "edits": len(tracking_edits_active(run=run)),
    }


def _sidecar(run: TrackingRun) -> dict:
    from webapp import __version__ as app_version

    return {
        "run": run.pk,
        "app": "MouseTrack Studio",
        "app_version": app_version,
        "model": {"id": run.model_id, "name": run.model.name, "sha256": run.model_sha256},
        "video": {
            "id": run.video_id,
            "name": run.video.original_name,
            "sha256": run.video_sha256,
            "fps": run.video.fps,
            "width": run.video.width,
            "height": run.video.height,
        },
        "n_animals": run.n_animals,
        "parameters": run.params,
        "trust": run.trust,
        "suspected_swaps": run.suspected_swaps,
        "edits": [
            {
                "kind": "swap",
                "animal_a": e.animal_a,
                "animal_b": e.animal_b,
                "from_frame": e.from_frame,
                "to_frame": e.to_frame,
            }
            for e in tracking_edits_active(run=run)
        ],
        "failed_at_frame": run.failed_at_frame,
        "coordinates": "pixels of the original video; x, y = box centre; boxes x1, y1, x2, y2",
    }


@dataclass(frozen=True)
class Export:
    path: Path
    filename: str
    content_type: str

    def open_once(self) -> BinaryIO:
        """The file, opened for a response to stream; its scratch folder is removed now
        (POSIX keeps an open file readable) or, where that is refused, when it is closed."""
        handle = _ScratchFile(self.path)
        handle.release()
        return handle


class _ScratchFile(io.FileIO):
    """A scratch file that takes its folder with it."""

    def __init__(self, path: Path):
        super().__init__(path, "rb")
        self.folder = path.parent

    def release(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release()


def trajectory_export(*, run: TrackingRun, fmt: str) -> Export:
    """Write the run's trajectory (edits applied) in ``fmt`` to a scratch file.

    The caller streams it with :meth:`Export.open_once`, which removes it; a failure while
    writing removes it at once.
    """
    if fmt not in EXPORTS:
        raise ValidationError({"format": f"Choose one of {', '.join(EXPORTS)}."})
    tmp = scratch_workdir("exports", "track-export-")
    try:
        return _write_export(run=run, fmt=fmt, tmp=tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_export(*, run: TrackingRun, fmt: str, tmp: Path) -> Export:
    from tracking.engine.exports import csv as csv_export
    from tracking.engine.exports import mot
    from tracking.engine.exports.parquet import write_trajectory

    stem = f"run{run.pk}-{Path(run.video.original_name).stem}"[:120]
    path = tmp / f"trajectory.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(_sidecar(run), indent=1))
        return Export(path, f"{stem}.json", EXPORTS[fmt])
    trajectory = tracking_run_trajectory(run=run)
    if fmt == "csv":
        csv_export.write_csv(trajectory, path)
    elif fmt == "parquet":
        write_trajectory(trajectory, path)
    elif fmt == "mot.txt":
        mot.write_mot(trajectory, path)
    else:
        _write_nwb(run, trajectory, path)
    return Export(path, f"{stem}.{fmt}", EXPORTS[fmt])


def _write_nwb(run: TrackingRun, trajectory, path: Path) -> None:
    """NWB with the video's calibration (metres) and subject, as the analysis reads them."""
    # The behaviour app owns calibration and subjects and depends on tracking; read lazily,
    # the one place tracking looks at it (an NWB file carries both).
    from behavior.analysis.runs import arena_context
    from behavior.models import SubjectInfo
    from tracking.engine.exports import nwb

    arena = arena_context(video=run.video)
    info = SubjectInfo.objects.filter(video=run.video).first()
    subject = (
        nwb.NwbSubject(subject_id=info.subject_id, group=info.group, session=info.session)
        if info
        else None
    )
    nwb.write_nwb(
        trajectory,
        path,
        session_description=f"MouseTrack Studio tracking run {run.pk} of {run.video.original_name}",
        identifier=f"mousetrack-run-{run.pk}-{run.trajectory_sha256[:12]}",
        source_video=run.video.original_name,
        px_per_cm=arena.calibration.px_per_cm,
        calibration_note=f"calibration method: {arena.method}",
        subject=subject,
    )
