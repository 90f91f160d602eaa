"""The export contract: every frame × animal in the CSV, round trips of Parquet and NWB,
MOT lines, and swap edits that are applied on read and undone by removing them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tracking.engine.edits import SwapEdit, apply_edits
from tracking.engine.exports.csv import COLUMNS, write_csv
from tracking.engine.exports.mot import write_mot
from tracking.engine.exports.nwb import write_nwb
from tracking.engine.exports.parquet import read_trajectory, write_trajectory
from tracking.engine.trajectory import Status, Trajectory


def _trajectory(frames: int = 50, animals: int = 2) -> Trajectory:
    t = np.arange(frames) / 30.0
    boxes = np.zeros((frames, animals, 4), np.float32)
    for a in range(animals):
        x = 10 + 3 * np.arange(frames) + 100 * a
        boxes[:, a] = np.stack([x, x * 0 + 20 + a, x + 30, x * 0 + 40 + a], axis=-1)
    conf = np.full((frames, animals), 0.9, np.float32)
    status = np.full((frames, animals), Status.DETECTED, np.int8)
    status[10:13, 0] = Status.MISSING
    boxes[10:13, 0] = np.nan
    conf[10:13, 0] = np.nan
    status[20, 1] = Status.INTERPOLATED
    conf[20, 1] = np.nan
    outlier = np.zeros((frames, animals), bool)
    outlier[5, 1] = True
    return Trajectory(np.arange(frames), t, boxes, conf, status, {"outlier": outlier})


def test_csv_has_every_frame_and_animal_in_the_contract_order(tmp_path):
    traj = _trajectory()
    df = pd.read_csv(write_csv(traj, tmp_path / "t.csv"))
    assert tuple(df.columns) == COLUMNS
    assert len(df) == 50 * 2
    assert (df.groupby("frame").size() == 2).all()
    assert set(df["animal"]) == {1, 2}
    missing = df[(df.animal == 1) & df.frame.between(10, 12)]
    assert (missing.status == "missing").all()
    assert missing[["x", "y", "x1", "confidence"]].isna().all().all()
    assert df[(df.animal == 2) & (df.frame == 20)].status.item() == "interpolated"
    row = df[(df.animal == 1) & (df.frame == 0)].iloc[0]
    assert row.x == pytest.approx(25.0) and row.y == pytest.approx(30.0)
    assert row.time_s == 0.0 and row.confidence == pytest.approx(0.9)
    assert df.frame.dtype.kind == "i" and df.x.dtype.kind == "f"


def test_parquet_round_trip_is_exact(tmp_path):
    traj = _trajectory()
    back = read_trajectory(write_trajectory(traj, tmp_path / "t.parquet"))
    np.testing.assert_array_equal(back.frames, traj.frames)
    np.testing.assert_array_equal(back.time_s, traj.time_s)
    np.testing.assert_array_equal(back.boxes, traj.boxes)
    np.testing.assert_array_equal(back.confidence, traj.confidence)
    np.testing.assert_array_equal(back.status, traj.status)
    np.testing.assert_array_equal(back.flags["outlier"], traj.flags["outlier"])


def test_nwb_reads_back_with_pynwb(tmp_path):
    from pynwb import NWBHDF5IO

    traj = _trajectory()
    path = write_nwb(traj, tmp_path / "t.nwb", session_description="test", identifier="abc")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        position = nwb.processing["behavior"]["Position"]
        assert sorted(position.spatial_series) == ["animal_1", "animal_2"]
        series = position.spatial_series["animal_1"]
        np.testing.assert_allclose(series.timestamps[:], traj.time_s)
        np.testing.assert_allclose(series.data[:], traj.centres()[:, 0, :])
        assert np.isnan(series.data[11]).all()
        assert series.unit == "pixels"


def test_mot_lines_are_one_based_and_skip_missing(tmp_path):
    traj = _trajectory()
    lines = write_mot(traj, tmp_path / "t.txt").read_text().splitlines()
    assert len(lines) == 50 * 2 - 3
    first = lines[0].split(",")
    assert first[:2] == ["1", "1"] and first[-3:] == ["-1", "-1", "-1"]
    assert float(first[4]) == pytest.approx(30.0)  # width


def test_swap_edit_is_applied_from_a_frame_and_undone_by_removing_it():
    traj = _trajectory()
    edited = apply_edits(traj, [SwapEdit(animal_a=1, animal_b=2, from_frame=30)])
    np.testing.assert_array_equal(edited.boxes[30:, 0], traj.boxes[30:, 1])
    np.testing.assert_array_equal(edited.boxes[30:, 1], traj.boxes[30:, 0])
    np.testing.assert_array_equal(edited.boxes[:30], traj.boxes[:30])
    bounded = apply_edits(traj, [SwapEdit(1, 2, from_frame=0, to_frame=5)])
    assert bounded.flags["outlier"][5, 0] and not bounded.flags["outlier"][5, 1]
    np.testing.assert_array_equal(bounded.status[6:], traj.status[6:])
    twice = apply_edits(traj, [SwapEdit(1, 2, 30), SwapEdit(1, 2, 30)])
    np.testing.assert_array_equal(twice.boxes, traj.boxes)
    assert apply_edits(traj, []) is traj
    with pytest.raises(ValueError):
        apply_edits(traj, [SwapEdit(1, 3, 0)])
