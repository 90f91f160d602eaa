"""Exports: the per-frame CSV contract, Parquet and NWB round trips, MOT text, the sidecar."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from tests.tracking.engine.helpers import line, make_trajectory
from tracking.engine.exports.mot import write_trajectory_mot
from tracking.engine.exports.nwb import write_trajectory_nwb
from tracking.engine.exports.parquet import read_trajectory_parquet, write_trajectory_parquet
from tracking.engine.exports.per_frame_csv import COLUMNS, write_trajectory_csv
from tracking.engine.exports.sidecar import write_sidecar
from tracking.engine.gaps import interpolate_gaps, mark_outliers
from tracking.engine.trajectory import Status, Trajectory


def _trajectory() -> Trajectory:
    """2 animals x 30 frames: animal 1 misses frame 4 (interpolated) and 20-29 (missing)."""
    centres = np.stack([line(30), line(30, start=(300.0, 200.0), step=(-1.0, 0.5))], axis=1)
    centres[4, 0] = np.nan
    centres[20:, 0] = np.nan
    t = make_trajectory(centres)
    t.confidence[:, 1] = np.linspace(0.5, 0.99, 30, dtype=np.float32)
    t = interpolate_gaps(mark_outliers(t, factor=1.0), max_gap_s=0.5)
    t.flags["swap_suspect"] = np.zeros((30, 2), dtype=bool)
    t.flags["swap_suspect"][7:9] = True
    return t


def test_csv_has_every_frame_and_animal_in_the_contracted_columns():
    t = _trajectory()
    out = io.StringIO()
    write_trajectory_csv(t, out, chunk_frames=7)  # chunk boundaries inside the data
    text = out.getvalue()
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert COLUMNS == (
        "frame",
        "time_s",
        "animal",
        "status",
        "x",
        "y",
        "x1",
        "y1",
        "x2",
        "y2",
        "confidence",
    )
    table = pd.read_csv(io.StringIO(text))
    assert list(table.columns) == list(COLUMNS) and len(table) == 30 * 2
    assert table.frame.tolist() == np.repeat(np.arange(30), 2).tolist()
    assert table.animal.tolist() == [1, 2] * 30
    assert table.frame.dtype.kind == "i" and table.animal.dtype.kind == "i"
    for name in ("time_s", "x", "y", "x1", "y1", "x2", "y2", "confidence"):
        assert table[name].dtype.kind == "f", name
    statuses = table.set_index(["frame", "animal"]).status
    assert statuses[(4, 1)] == "interpolated" and statuses[(20, 1)] == "missing"
    assert statuses[(0, 1)] == "detected" and set(table.status) == {
        "detected",
        "interpolated",
        "missing",
    }
    row = table[(table.frame == 3) & (table.animal == 2)].iloc[0]
    assert (row.x, row.y) == (297.0, 201.5)
    assert (row.x1, row.y1, row.x2, row.y2) == (277.0, 191.5, 317.0, 211.5)
    assert row.time_s == pytest.approx(0.1)
    assert row.confidence == pytest.approx(float(t.confidence[3, 1]), abs=1e-4)


def test_csv_leaves_missing_values_empty_and_interpolated_without_confidence():
    out = io.StringIO()
    write_trajectory_csv(_trajectory(), out)
    lines = out.getvalue().splitlines()
    missing = lines[1 + 20 * 2]  # frame 20, animal 1
    assert missing == "20,0.666667,1,missing,,,,,,,"
    interpolated = lines[1 + 4 * 2].split(",")
    assert interpolated[3] == "interpolated" and interpolated[4] == "108.0"
    assert interpolated[-1] == ""


def test_csv_to_a_path(tmp_path):
    path = tmp_path / "positions.csv"
    write_trajectory_csv(_trajectory(), path)
    assert len(pd.read_csv(path)) == 60


def test_parquet_round_trips_exactly(tmp_path):
    t = _trajectory()
    path = tmp_path / "trajectory.parquet"
    write_trajectory_parquet(t, path)
    back = read_trajectory_parquet(path)
    for name in ("frames", "time_s", "boxes", "confidence", "status"):
        a, b = getattr(t, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert sorted(back.flags) == ["outlier", "swap_suspect"]
    for name, mask in t.flags.items():
        assert back.flags[name].dtype == bool
        np.testing.assert_array_equal(mask, back.flags[name])


def test_parquet_round_trips_an_empty_trajectory_through_a_file_object():
    empty = Trajectory(
        frames=np.zeros(0, np.int64),
        time_s=np.zeros(0),
        boxes=np.zeros((0, 3, 4), np.float32),
        confidence=np.zeros((0, 3), np.float32),
        status=np.zeros((0, 3), np.int8),
    )
    buffer = io.BytesIO()
    write_trajectory_parquet(empty, buffer)
    back = read_trajectory_parquet(io.BytesIO(buffer.getvalue()))
    assert back.n_frames == 0 and back.boxes.shape == (0, 3, 4)


def test_parquet_refuses_a_file_that_is_not_a_trajectory(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    with pytest.raises(ValueError, match="not a MouseTrack trajectory"):
        read_trajectory_parquet(path)


def test_nwb_holds_one_spatial_series_per_animal_and_reads_back(tmp_path):
    from pynwb import NWBHDF5IO

    t = _trajectory()
    path = tmp_path / "session.nwb"
    start = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    write_trajectory_nwb(
        t,
        path,
        session_description="open field, 2 mice",
        identifier="run-42",
        session_start_time=start,
        video_name="arena.mp4",
    )
    with NWBHDF5IO(str(path), mode="r") as io_:
        nwb = io_.read()
        assert nwb.identifier == "run-42" and nwb.session_start_time == start
        position = nwb.processing["behavior"]["Position"]
        assert sorted(position.spatial_series) == ["animal_1", "animal_2"]
        for a in range(2):
            series = position.spatial_series[f"animal_{a + 1}"]
            np.testing.assert_array_equal(series.timestamps[:], t.time_s)
            np.testing.assert_allclose(series.data[:], t.centres()[:, a], equal_nan=True)
            assert series.unit == "pixels" and "top-left" in series.reference_frame
        first = position.spatial_series["animal_1"].data[:]
        assert np.isnan(first[20:]).all() and not np.isnan(first[4]).any()


def test_nwb_to_a_file_object_and_without_interpolated_positions():
    import h5py
    from pynwb import NWBHDF5IO

    buffer = io.BytesIO()
    write_trajectory_nwb(
        _trajectory(),
        buffer,
        session_description="s",
        identifier="x",
        session_start_time=datetime(2026, 1, 1, tzinfo=UTC),
        include_interpolated=False,
    )
    with h5py.File(io.BytesIO(buffer.getvalue()), "r") as f, NWBHDF5IO(file=f, mode="r") as r:
        data = r.read().processing["behavior"]["Position"]["animal_1"].data[:]
        assert np.isnan(data[4]).all()
    with pytest.raises(ValueError, match="timezone"):
        write_trajectory_nwb(
            _trajectory(),
            io.BytesIO(),
            session_description="s",
            identifier="x",
            session_start_time=datetime(2026, 1, 1),
        )


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:Operation with tuple")
def test_mot_lines_are_one_based_and_readable_by_motmetrics(tmp_path):
    import motmetrics as mm

    t = _trajectory()
    path = tmp_path / "tracks.txt"
    write_trajectory_mot(t, path)
    lines = path.read_text().splitlines()
    assert len(lines) == 60 - 10  # the 10 missing rows have no line
    first = lines[0].split(",")
    assert first[:2] == ["1", "1"] and first[-3:] == ["-1", "-1", "-1"] and len(first) == 10
    x1, y1, w, h = (float(v) for v in first[2:6])
    assert (x1, y1, w, h) == (80.0, 90.0, 40.0, 20.0)
    interpolated = [ln for ln in lines if ln.startswith("5,1,")]
    assert interpolated and interpolated[0].split(",")[6] == "-1.0000"
    table = mm.io.loadtxt(str(path), fmt="mot15-2D")
    assert len(table) == 50 and table.index.get_level_values("FrameId").min() == 1
    detected_only = io.StringIO()
    write_trajectory_mot(t, detected_only, include_interpolated=False)
    assert len(detected_only.getvalue().splitlines()) == 49


def test_sidecar_records_provenance_parameters_and_trust_as_strict_json(tmp_path):
    path = tmp_path / "export.json"
    data = write_sidecar(
        path,
        model_name="mice-v3",
        model_sha256="ab" * 32,
        video_name="arena.mp4",
        video_sha256="cd" * 32,
        parameters={"max_gap_s": 0.5, "tracker": {"tracker_type": "bytetrack"}},
        app_version="0.1.0",
        trust={"mean_confidence": float("nan"), "detected_pct": np.float64(97.5)},
        extra={"edits": [{"kind": "swap", "a": 1, "b": 2, "from_frame": 3}]},
    )
    back = json.loads(path.read_text())
    assert back == data
    assert back["model"] == {"name": "mice-v3", "sha256": "ab" * 32}
    assert back["video"]["name"] == "arena.mp4" and back["app_version"] == "0.1.0"
    assert back["trust"] == {"mean_confidence": None, "detected_pct": 97.5}
    assert back["parameters"]["tracker"]["tracker_type"] == "bytetrack"
    assert back["edits"][0]["kind"] == "swap"


def test_statuses_written_match_the_trajectory():
    t = _trajectory()
    out = io.StringIO()
    write_trajectory_csv(t, out)
    table = pd.read_csv(io.StringIO(out.getvalue()))
    names = {
        Status.DETECTED: "detected",
        Status.INTERPOLATED: "interpolated",
        Status.MISSING: "missing",
    }
    assert table.status.tolist() == [names[Status(s)] for s in t.status.reshape(-1)]
