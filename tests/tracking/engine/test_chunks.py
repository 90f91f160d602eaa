"""Chunked, atomically written per-frame detections."""

from __future__ import annotations

import numpy as np
import pytest

from tracking.engine import chunks
from tracking.engine.chunks import (
    ChunkError,
    ChunkWriter,
    DetectPath,
    RunDirMismatch,
    check_manifest,
    chunk_files,
    covered_frames,
    read_chunks,
)
from tracking.engine.trajectory import FrameDetections


def _frame(i: int) -> FrameDetections:
    k = i % 3  # 0, 1 or 2 boxes: empty frames must round-trip too
    boxes = np.arange(4 * k, dtype=np.float32).reshape(k, 4) + i
    return FrameDetections(i, i / 30 + 1e-7, boxes, np.linspace(0.5, 0.9, k, dtype=np.float32))


def test_chunks_end_on_multiples_of_the_chunk_size_and_read_back_exactly(tmp_path):
    writer = ChunkWriter(tmp_path, chunk_frames=10)
    written = [writer.add(_frame(i), DetectPath(i % 3)) for i in range(25)]
    assert [p.name for p in written if p] == [
        "chunk-000000000-000000009.parquet",
        "chunk-000000010-000000019.parquet",
    ]
    assert writer.pending == 5
    writer.flush()
    assert [(a, b) for a, b, _ in chunk_files(tmp_path)] == [(0, 9), (10, 19), (20, 24)]
    stored = read_chunks(tmp_path)
    assert stored.n_frames == 25 and covered_frames(tmp_path) == 25
    for i, det in enumerate(stored.detections):
        want = _frame(i)
        assert det.frame == i and det.time_s == want.time_s
        assert det.boxes_xyxy.shape == want.boxes_xyxy.shape and det.boxes_xyxy.dtype == np.float32
        assert np.array_equal(det.boxes_xyxy, want.boxes_xyxy)
        assert np.array_equal(det.scores, want.scores)
    assert stored.paths.tolist() == [i % 3 for i in range(25)]


def test_a_writer_resuming_mid_chunk_continues_to_the_next_boundary(tmp_path):
    writer = ChunkWriter(tmp_path, chunk_frames=10)
    for i in range(13):
        writer.add(_frame(i), DetectPath.FULL)
    writer.flush()  # stopped at frame 12
    writer = ChunkWriter(tmp_path, chunk_frames=10)
    for i in range(13, 22):
        writer.add(_frame(i), DetectPath.FULL)
    writer.flush()
    assert [(a, b) for a, b, _ in chunk_files(tmp_path)] == [(0, 9), (10, 12), (13, 19), (20, 21)]
    assert read_chunks(tmp_path).n_frames == 22


def test_frames_must_follow_each_other(tmp_path):
    writer = ChunkWriter(tmp_path, chunk_frames=10)
    writer.add(_frame(0), DetectPath.FULL)
    with pytest.raises(ValueError, match="does not follow"):
        writer.add(_frame(2), DetectPath.FULL)


def test_a_write_that_dies_midway_leaves_no_chunk_and_its_remains_are_swept(tmp_path, monkeypatch):
    writer = ChunkWriter(tmp_path, chunk_frames=5)
    for i in range(5):
        writer.add(_frame(i), DetectPath.FULL)
    import pyarrow.parquet as pq

    real = pq.write_table

    def dies_midway(table, where, **kwargs):
        where.write(b"PAR1 half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(pq, "write_table", dies_midway)
    for i in range(5, 9):
        writer.add(_frame(i), DetectPath.FULL)
    with pytest.raises(OSError):
        writer.add(_frame(9), DetectPath.FULL)
    monkeypatch.setattr(pq, "write_table", real)
    names = {p.name for p in chunks.chunk_dir(tmp_path).iterdir()}
    assert names == {
        "chunk-000000000-000000004.parquet",
        ".tmp-chunk-000000005-000000009.parquet",
    }
    assert read_chunks(tmp_path).n_frames == 5  # the remains are never read
    ChunkWriter(tmp_path, chunk_frames=5)
    names = {p.name for p in chunks.chunk_dir(tmp_path).iterdir()}
    assert names == {"chunk-000000000-000000004.parquet"}


def test_coverage_stops_at_a_gap(tmp_path):
    writer = ChunkWriter(tmp_path, chunk_frames=5)
    for i in range(15):
        writer.add(_frame(i), DetectPath.FULL)
    chunk_files(tmp_path)[1][2].unlink()
    assert covered_frames(tmp_path) == 5
    assert read_chunks(tmp_path).n_frames == 5


def test_an_unreadable_chunk_is_an_error_naming_it(tmp_path):
    writer = ChunkWriter(tmp_path, chunk_frames=5)
    for i in range(5):
        writer.add(_frame(i), DetectPath.FULL)
    path = chunk_files(tmp_path)[0][2]
    path.write_bytes(b"garbage")
    with pytest.raises(ChunkError, match=path.name):
        read_chunks(tmp_path)


def test_a_run_directory_refuses_chunks_made_with_other_settings(tmp_path):
    check_manifest(tmp_path, {"imgsz": 320, "video": "a"})
    check_manifest(tmp_path, {"imgsz": 640, "video": "a"})  # nothing stored yet: fine
    writer = ChunkWriter(tmp_path, chunk_frames=5)
    writer.add(_frame(0), DetectPath.FULL)
    writer.flush()
    check_manifest(tmp_path, {"imgsz": 640, "video": "a"})
    with pytest.raises(RunDirMismatch, match="imgsz"):
        check_manifest(tmp_path, {"imgsz": 320, "video": "a"})


def test_descriptors_round_trip_and_chunks_without_them_read_back_without_them(tmp_path):
    writer = ChunkWriter(tmp_path / "new", chunk_frames=10)
    frames = []
    for i in range(7):
        f = _frame(i)
        looks = np.arange(len(f.scores) * 5, dtype=np.float32).reshape(-1, 5) + i
        frames.append(FrameDetections(f.frame, f.time_s, f.boxes_xyxy, f.scores, looks))
        writer.add(frames[-1], DetectPath.FULL)
    writer.add(_frame(7), DetectPath.FULL)  # a frame with boxes but no descriptors
    writer.flush()
    stored = read_chunks(tmp_path / "new").detections
    for want, got in zip(frames, stored, strict=False):
        if len(want.scores):
            assert got.appearance.shape == (len(want.scores), 5)
            assert np.array_equal(got.appearance, want.appearance)
        else:
            assert got.appearance is None
    assert len(stored[7].scores) == 1 and stored[7].appearance is None

    # A chunk written before descriptors existed: no such column at all.
    import pyarrow as pa
    import pyarrow.parquet as pq

    old = tmp_path / "old" / chunks.CHUNK_DIR
    old.mkdir(parents=True)
    table = pa.table(
        {
            "frame": pa.array([0], pa.int64()),
            "time_s": pa.array([0.0], pa.float64()),
            "path": pa.array([0], pa.int8()),
            "boxes": pa.array([np.arange(4, dtype=np.float32)], pa.list_(pa.float32())),
            "scores": pa.array([np.ones(1, np.float32)], pa.list_(pa.float32())),
        }
    )
    pq.write_table(table, old / "chunk-000000000-000000000.parquet")
    (det,) = read_chunks(tmp_path / "old").detections
    assert det.appearance is None and det.scores.tolist() == [1.0]
