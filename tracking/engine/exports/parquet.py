"""The stored form of a trajectory: one Parquet row per frame × animal (long format).

Columns: ``frame`` int64, ``time_s`` float64, ``animal`` int16 (1-based), ``status`` int8
(:class:`~tracking.engine.trajectory.Status`), ``x1, y1, x2, y2, confidence`` float32 (NaN
where missing), then one boolean column ``flag_<name>`` per flag. Rows are ordered by frame,
then animal, and every frame has all N animals, so it reads back into the dense arrays.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..trajectory import Trajectory

_BOX = ("x1", "y1", "x2", "y2")


def write_trajectory(trajectory: Trajectory, path: str | Path) -> Path:
    """Write atomically (temp name, then rename): a reader never sees half a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    f, n = trajectory.n_frames, trajectory.n_animals
    columns = {
        "frame": np.repeat(trajectory.frames.astype(np.int64), n),
        "time_s": np.repeat(trajectory.time_s.astype(np.float64), n),
        "animal": np.tile(np.arange(1, n + 1, dtype=np.int16), f),
        "status": trajectory.status.astype(np.int8).reshape(-1),
    }
    boxes = trajectory.boxes.astype(np.float32).reshape(-1, 4)
    for i, name in enumerate(_BOX):
        columns[name] = boxes[:, i]
    columns["confidence"] = trajectory.confidence.astype(np.float32).reshape(-1)
    for name, mask in sorted(trajectory.flags.items()):
        columns[f"flag_{name}"] = mask.astype(bool).reshape(-1)
    table = pa.table(columns, metadata={b"n_animals": str(n).encode()})
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def read_trajectory(path: str | Path) -> Trajectory:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    n = int(meta.get(b"n_animals", b"0")) or int(table.column("animal").to_numpy().max())
    data = {name: table.column(name).to_numpy() for name in table.column_names}
    f = len(data["frame"]) // n if n else 0
    boxes = np.stack([data[name] for name in _BOX], axis=-1).reshape(f, n, 4)
    flags = {
        name.removeprefix("flag_"): data[name].astype(bool).reshape(f, n)
        for name in table.column_names
        if name.startswith("flag_")
    }
    return Trajectory(
        frames=data["frame"].reshape(f, n)[:, 0].astype(np.int64),
        time_s=data["time_s"].reshape(f, n)[:, 0].astype(np.float64),
        boxes=boxes.astype(np.float32),
        confidence=data["confidence"].reshape(f, n).astype(np.float32),
        status=data["status"].reshape(f, n).astype(np.int8),
        flags=flags,
    )
