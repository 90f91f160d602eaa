"""Per-frame detections stored in chunks, so a long run is resumable (no Django import).

A run directory holds::

    run.json                               what the detections depend on (see ``RunManifest``)
    detections/chunk-000000000-000000999.parquet   frames 0..999, both ends included
    detections/chunk-000001000-000001999.parquet
    ...

Each chunk is a Parquet table, one row per frame, in frame order:

- ``frame`` int64, ``time_s`` float64 (container timestamp),
- ``path`` int8: how the frame was detected (:class:`DetectPath`),
- ``boxes`` list<float32>: the frame's K boxes flattened, ``x1, y1, x2, y2`` (corners) in
  original-video pixels, 4K values; ``scores`` list<float32>: K scores in [0, 1];
  ``appearance`` list<float32>: the K boxes' descriptors flattened (K x D values,
  :mod:`tracking.engine.appearance`), empty where none were taken. Chunks written before
  there were descriptors have no such column and read back without them.

A chunk is written under a temporary name, flushed to disk and renamed into place, so a
chunk either exists whole or not at all, whatever kills the process. Leftover temporary
files are removed when a writer opens the directory. Chunks end on multiples of
``chunk_frames`` (frame 999, 1999, ...), except the last one of a run and one written
early because the run stopped (a cancel, a decode error): resuming continues from the frame
after it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

from .trajectory import FrameDetections

CHUNK_DIR = "detections"
MANIFEST = "run.json"
_CHUNK_NAME = re.compile(r"^chunk-(\d{9})-(\d{9})\.parquet$")
_TMP_PREFIX = ".tmp-"


class DetectPath(IntEnum):
    """How a frame's detections were obtained (stored per frame, for statistics)."""

    FULL = 0  # the whole frame
    CROP = 1  # a window around the animals (dynamic cropping)
    CROP_THEN_FULL = 2  # a window was tried, failed the checks, and the full frame was run


class ChunkError(RuntimeError):
    """The run directory holds chunks that cannot be read or do not fit together."""


class RunDirMismatch(ValueError):
    """The run directory was made for another video or other settings."""


@dataclass(frozen=True)
class StoredDetections:
    """What the chunks of a run directory hold, frames ``0 .. n_frames - 1`` in order."""

    detections: list[FrameDetections]
    paths: np.ndarray  # int8 (F,) of DetectPath

    @property
    def n_frames(self) -> int:
        return len(self.detections)


def chunk_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHUNK_DIR


def chunk_files(run_dir: Path) -> list[tuple[int, int, Path]]:
    """``(first, last, path)`` of every complete chunk, by first frame."""
    folder = chunk_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _CHUNK_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    return sorted(found)


def covered_frames(run_dir: Path) -> int:
    """How many frames from frame 0 on the chunks cover without a gap."""
    covered = 0
    for first, last, _ in chunk_files(run_dir):
        if first != covered:
            break
        covered = last + 1
    return covered


def check_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Write ``run.json`` in a new run directory; in one with chunks, refuse a different one.

    ``manifest`` is plain JSON data naming everything the detections depend on (the video,
    the model, the detection and cropping settings): chunks made under other settings must
    not be mixed into this run's result.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / MANIFEST
    wanted = json.loads(json.dumps(manifest, sort_keys=True))
    if path.exists():
        stored = json.loads(path.read_text())
        if stored != wanted and chunk_files(run_dir):
            changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise RunDirMismatch(
                f"{run_dir} holds detections made with other settings ({', '.join(changed)}); "
                "use a new run directory"
            )
    _write_atomic(path, json.dumps(wanted, indent=1, sort_keys=True).encode())


class ChunkWriter:
    """Collects frames and writes a chunk each time one reaches a multiple of
    ``chunk_frames``; :meth:`flush` writes whatever is collected (on stop or at the end)."""

    def __init__(self, run_dir: Path, *, chunk_frames: int = 1000):
        if chunk_frames < 1:
            raise ValueError("chunk_frames must be at least 1")
        self.folder = chunk_dir(run_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.folder.iterdir():
            if path.name.startswith(_TMP_PREFIX):  # a chunk a killed process never finished
                path.unlink(missing_ok=True)
        self.chunk_frames = chunk_frames
        self._rows: list[tuple[FrameDetections, int]] = []
        self.written: list[Path] = []

    def add(self, detections: FrameDetections, path: DetectPath | int) -> Path | None:
        if self._rows and detections.frame != self._rows[-1][0].frame + 1:
            raise ValueError(
                f"frame {detections.frame} does not follow frame {self._rows[-1][0].frame}"
            )
        self._rows.append((detections, int(path)))
        if (detections.frame + 1) % self.chunk_frames == 0:
            return self.flush()
        return None

    @property
    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> Path | None:
        if not self._rows:
            return None
        import pyarrow as pa
        import pyarrow.parquet as pq

        dets = [d for d, _ in self._rows]
        table = pa.table(
            {
                "frame": pa.array([d.frame for d in dets], pa.int64()),
                "time_s": pa.array([d.time_s for d in dets], pa.float64()),
                "path": pa.array([p for _, p in self._rows], pa.int8()),
                "boxes": pa.array(
                    [np.asarray(d.boxes_xyxy, np.float32).reshape(-1) for d in dets],
                    pa.list_(pa.float32()),
                ),
                "scores": pa.array(
                    [np.asarray(d.scores, np.float32).reshape(-1) for d in dets],
                    pa.list_(pa.float32()),
                ),
                "appearance": pa.array(
                    [
                        np.zeros(0, np.float32)
                        if d.appearance is None
                        else np.asarray(d.appearance, np.float32).reshape(-1)
                        for d in dets
                    ],
                    pa.list_(pa.float32()),
                ),
            }
        )
        first, last = dets[0].frame, dets[-1].frame
        target = self.folder / f"chunk-{first:09d}-{last:09d}.parquet"
        tmp = self.folder / f"{_TMP_PREFIX}{target.name}"
        with open(tmp, "wb") as f:
            pq.write_table(table, f, compression="zstd")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(self.folder)
        self._rows.clear()
        self.written.append(target)
        return target


def read_chunks(run_dir: Path) -> StoredDetections:
    """Every frame the chunks of ``run_dir`` cover from frame 0 on, in order.

    Raises ``ChunkError`` on a chunk that can't be read or whose rows don't match its name;
    chunks after a gap in the coverage (none are ever written so) are ignored.
    """
    import pyarrow.parquet as pq

    detections: list[FrameDetections] = []
    paths: list[np.ndarray] = []
    covered = 0
    for first, last, path in chunk_files(run_dir):
        if first != covered:
            break
        try:
            table = pq.read_table(path)
            frames = table.column("frame").to_numpy()
            times = table.column("time_s").to_numpy()
            kinds = table.column("path").to_numpy()
            boxes, box_offsets = _list_column(table, "boxes")
            scores, score_offsets = _list_column(table, "scores")
            looks = (
                _list_column(table, "appearance") if "appearance" in table.column_names else None
            )
        except Exception as e:
            raise ChunkError(f"{path.name} cannot be read: {e}") from e
        if len(frames) != last - first + 1 or not np.array_equal(
            frames, np.arange(first, last + 1)
        ):
            raise ChunkError(f"{path.name} does not hold frames {first}..{last} in order")
        for i in range(len(frames)):
            b = boxes[box_offsets[i] : box_offsets[i + 1]]
            s = scores[score_offsets[i] : score_offsets[i + 1]]
            if len(b) != 4 * len(s):
                raise ChunkError(
                    f"{path.name}: frame {frames[i]} has {len(b)} box values, {len(s)} scores"
                )
            appearance = None
            if looks is not None and len(s):
                a = looks[0][looks[1][i] : looks[1][i + 1]]
                if len(a) and len(a) % len(s) == 0:
                    appearance = a.reshape(len(s), -1).copy()
            detections.append(
                FrameDetections(
                    int(frames[i]), float(times[i]), b.reshape(-1, 4).copy(), s.copy(), appearance
                )
            )
        paths.append(kinds.astype(np.int8))
        covered = last + 1
    return StoredDetections(
        detections=detections,
        paths=np.concatenate(paths) if paths else np.zeros(0, np.int8),
    )


def _list_column(table: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A list<float32> column as (all values, offsets): row i is values[off[i]:off[i + 1]]."""
    column = table.column(name).combine_chunks()
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    offsets = column.offsets.to_numpy() - column.offsets[0].as_py()
    return values, offsets


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
