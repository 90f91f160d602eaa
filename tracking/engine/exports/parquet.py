"""The stored form of a trajectory: Parquet, one row per frame and animal, frame-major.

Columns: ``frame`` int64, ``time_s`` float64, ``animal`` int16 (1..N), ``status`` int8
(:class:`Status`), ``x1, y1, x2, y2, confidence`` float32 (NaN where missing), one bool column
``flag_<name>`` per flag. The schema metadata holds the format version and N, so a trajectory of
no frames round-trips too. Reading gives back exactly the arrays written (dtypes, NaNs, flags).
"""

from __future__ import annotations

import json
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tracking.engine.trajectory import Trajectory

FORMAT = "mousetrack.trajectory/1"
_META = b"mousetrack"
_FLAG = "flag_"


def write_trajectory_parquet(trajectory: Trajectory, dest: str | BinaryIO) -> None:
    n_frames, n_animals = trajectory.n_frames, trajectory.n_animals
    boxes = trajectory.boxes.astype(np.float32, copy=False).reshape(-1, 4)
    columns = {
        "frame": pa.array(np.repeat(trajectory.frames.astype(np.int64), n_animals)),
        "time_s": pa.array(np.repeat(trajectory.time_s.astype(np.float64), n_animals)),
        "animal": pa.array(np.tile(np.arange(1, n_animals + 1, dtype=np.int16), n_frames)),
        "status": pa.array(trajectory.status.astype(np.int8).reshape(-1)),
        "x1": pa.array(boxes[:, 0]),
        "y1": pa.array(boxes[:, 1]),
        "x2": pa.array(boxes[:, 2]),
        "y2": pa.array(boxes[:, 3]),
        "confidence": pa.array(trajectory.confidence.astype(np.float32).reshape(-1)),
    }
    for name in sorted(trajectory.flags):
        columns[_FLAG + name] = pa.array(trajectory.flags[name].astype(bool).reshape(-1))
    meta = {"format": FORMAT, "n_animals": n_animals, "flags": sorted(trajectory.flags)}
    table = pa.table(columns).replace_schema_metadata({_META: json.dumps(meta).encode()})
    pq.write_table(table, dest, compression="zstd")


def read_trajectory_parquet(source: str | BinaryIO) -> Trajectory:
    table = pq.read_table(source)
    raw = (table.schema.metadata or {}).get(_META)
    if raw is None:
        raise ValueError("not a MouseTrack trajectory (no metadata)")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT:
        raise ValueError(f"unsupported trajectory format {meta.get('format')!r}")
    n_animals = int(meta["n_animals"])
    n_frames = table.num_rows // n_animals if n_animals else 0

    def column(name: str, dtype) -> np.ndarray:
        return table.column(name).to_numpy().astype(dtype, copy=False)

    frames = column("frame", np.int64).reshape(n_frames, n_animals)
    animal = column("animal", np.int16).reshape(n_frames, n_animals)
    if n_frames and not (animal == np.arange(1, n_animals + 1)).all():
        raise ValueError("trajectory rows are not frame-major with animals 1..N")
    boxes = np.stack([column(c, np.float32) for c in ("x1", "y1", "x2", "y2")], axis=-1)
    return Trajectory(
        frames=frames[:, 0].copy() if n_animals else frames.reshape(0),
        time_s=column("time_s", np.float64).reshape(n_frames, n_animals)[:, 0].copy(),
        boxes=boxes.reshape(n_frames, n_animals, 4),
        confidence=column("confidence", np.float32).reshape(n_frames, n_animals),
        status=column("status", np.int8).reshape(n_frames, n_animals),
        flags={
            name: column(_FLAG + name, bool).reshape(n_frames, n_animals)
            for name in meta.get("flags", [])
        },
    )
