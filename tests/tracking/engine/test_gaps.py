"""Gap filling (time-based, never beyond max_gap_s) and outlier flags."""

from __future__ import annotations

import numpy as np

from tests.tracking.engine.helpers import line, make_trajectory
from tracking.engine.gaps import interpolate_gaps, mark_outliers
from tracking.engine.trajectory import Status


def test_gaps_up_to_max_gap_s_are_interpolated_linearly_in_time():
    centres = line(60)[:, None].copy()
    centres[10:24] = np.nan  # 14 missing frames: detections 0.5 s apart at 30 fps
    centres[40:56] = np.nan  # 16 missing: 0.567 s
    t = interpolate_gaps(make_trajectory(centres), max_gap_s=0.5)
    assert (t.status[10:24, 0] == Status.INTERPOLATED).all()
    assert np.isnan(t.confidence[10:24, 0]).all()
    np.testing.assert_allclose(t.centres()[10:24, 0], line(60)[10:24], atol=1e-3)
    assert (t.status[40:56, 0] == Status.MISSING).all() and np.isnan(t.boxes[40:56]).all()
    assert (t.status[:10, 0] == Status.DETECTED).all()


def test_interpolation_follows_timestamps_not_frame_indices():
    traj = make_trajectory(line(3, start=(0.0, 0.0), step=(10.0, 0.0))[:, None])
    traj.time_s[:] = [0.0, 0.3, 0.4]  # variable frame rate
    traj.boxes[1] = np.nan
    traj.status[1] = Status.MISSING
    traj.boxes[2] += np.float32(10.0)  # x = 30 at 0.4 s
    t = interpolate_gaps(traj, max_gap_s=0.5)
    assert t.centres()[1, 0, 0] == np.float32(0 + 30 * 0.3 / 0.4)


def test_frames_before_the_first_and_after_the_last_detection_stay_missing():
    centres = line(20)[:, None].copy()
    centres[:3] = np.nan
    centres[-2:] = np.nan
    t = interpolate_gaps(make_trajectory(centres), max_gap_s=10.0)
    assert (t.status[:3, 0] == Status.MISSING).all() and (t.status[-2:, 0] == Status.MISSING).all()


def test_a_single_frame_spike_is_flagged_and_can_be_dropped_and_bridged():
    centres = line(30)[:, None].copy()
    centres[12] += [200.0, 0.0]  # one frame 200 px off: far more than a body length (45 px)
    flagged = mark_outliers(make_trajectory(centres), factor=1.0)
    assert np.flatnonzero(flagged.flags["outlier"][:, 0]).tolist() == [12]
    assert flagged.status[12, 0] == Status.DETECTED  # flagged, kept
    dropped = interpolate_gaps(
        mark_outliers(make_trajectory(centres), factor=1.0, drop=True), max_gap_s=0.5
    )
    assert dropped.status[12, 0] == Status.INTERPOLATED and dropped.flags["outlier"][12, 0]
    np.testing.assert_allclose(dropped.centres()[12, 0], line(30)[12], atol=1e-3)


def test_a_jump_that_stays_flags_its_first_frame_and_normal_steps_flag_nothing():
    centres = line(30)[:, None].copy()
    centres[20:] += [300.0, 0.0]
    flagged = mark_outliers(make_trajectory(centres), factor=1.0)
    assert np.flatnonzero(flagged.flags["outlier"][:, 0]).tolist() == [20]
    calm = mark_outliers(make_trajectory(line(30, step=(30.0, 0.0))[:, None]), factor=1.0)
    assert not calm.flags["outlier"].any()  # 30 px a frame < the 45 px body length


def test_gap_and_outlier_passes_leave_their_input_alone():
    traj = make_trajectory(np.where(np.arange(10)[:, None, None] == 4, np.nan, line(10)[:, None]))
    before = traj.status.copy()
    interpolate_gaps(mark_outliers(traj, factor=1.0, drop=True), max_gap_s=1.0)
    np.testing.assert_array_equal(traj.status, before)
    assert "outlier" not in traj.flags
