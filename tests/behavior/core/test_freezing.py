"""ezTrack-style freezing on synthetic frames with a known still period."""

from __future__ import annotations

import numpy as np
import pytest

from behavior.core import BehaviorInputError
from behavior.core.freezing import (
    FreezingParams,
    MotionMeter,
    freezing_from_motion,
    measure_freezing,
)

FPS = 30.0


def scene(x_positions, *, other=False, seed=0):
    """Grey frames with a bright 12x12 'mouse' at each x (y fixed) and mild sensor noise;
    ``other`` adds a second square that keeps moving far away."""
    rng = np.random.default_rng(seed)
    frames, boxes = [], []
    for i, x in enumerate(x_positions):
        f = np.full((120, 200), 60.0) + rng.normal(0, 2, (120, 200))
        x = int(x)
        f[40:52, x : x + 12] = 200
        if other:
            ox = 150 + (i * 3) % 40
            f[90:110, ox : ox + 8] = 220
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
        boxes.append([x, 40, x + 12, 52])
    t = np.arange(len(frames)) / FPS
    return frames, np.array(boxes, dtype=float), t


def moving_still_moving(still_frames):
    x = np.concatenate([np.arange(10, 40), np.full(still_frames, 40), np.arange(41, 71)])
    return x


def test_still_period_is_freezing_within_one_frame():
    frames, boxes, t = scene(moving_still_moving(45), other=True)
    r = measure_freezing(iter(frames), boxes, t)
    assert r.time_freezing_s == pytest.approx(1.5, abs=1.01 / FPS)
    assert len(r.bouts) == 1
    start, end = r.bouts[0]
    assert start == pytest.approx(31 / FPS) and end == pytest.approx(75 / FPS)
    assert np.isnan(r.motion[0]) and not r.freezing[0]
    assert r.parameters["freeze_threshold"] == 0.02


def test_a_still_period_shorter_than_the_minimum_is_not_freezing():
    frames, boxes, t = scene(moving_still_moving(25))
    r = measure_freezing(frames, boxes, t)
    assert r.time_freezing_s == 0.0
    shorter = measure_freezing(frames, boxes, t, FreezingParams(min_duration_s=0.5))
    assert shorter.time_freezing_s == pytest.approx(24 / FPS)


def test_a_missing_box_interrupts_freezing():
    frames, boxes, t = scene(moving_still_moving(80))  # still in frames 30..109
    boxes[60] = np.nan
    r = measure_freezing(frames, boxes, t)
    assert not r.freezing[60] and not r.freezing[61]  # no motion measured on either side
    assert not r.freezing[31:60].any()  # 29 still frames before the gap: under 1 s
    assert r.freezing[62:110].all() and len(r.bouts) == 1


def test_freezing_from_motion_uses_time_not_frame_counts():
    t = np.array([0.0, 0.2, 0.9, 1.0, 1.1, 1.2])
    motion = np.array([0.0, 0.0, 0.0, 0.5, 0.0, np.nan])
    out = freezing_from_motion(t, motion, threshold=0.1, min_duration_s=1.0)
    assert out.tolist() == [True, True, True, False, False, False]


def test_motion_meter_streams_and_checks_frames():
    meter = MotionMeter()
    frame = np.zeros((50, 50), dtype=np.uint8)
    assert np.isnan(meter.update(frame, [10, 10, 20, 20])[0])
    changed, region = meter.update(frame, [10, 10, 20, 20])
    assert changed == 0 and region == 30 * 30  # the 10 px box grown by 10 px each side
    with pytest.raises(BehaviorInputError) as exc:
        meter.update(np.zeros((50, 50, 3)), [10, 10, 20, 20])
    assert exc.value.field == "frames"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (FreezingParams(freeze_threshold=0), "freeze_threshold"),
        (FreezingParams(motion_cutoff=-1), "motion_cutoff"),
        (FreezingParams(min_duration_s=float("nan")), "min_duration_s"),
        (FreezingParams(dilate_px=-2), "dilate_px"),
    ],
)
def test_bad_freezing_parameters_name_the_field(params, field):
    with pytest.raises(BehaviorInputError) as exc:
        MotionMeter(params)
    assert exc.value.field == field


def test_frame_count_must_match_the_timestamps():
    frames, boxes, t = scene(range(10, 20))
    with pytest.raises(BehaviorInputError) as exc:
        measure_freezing(frames[:-1], boxes, t)
    assert exc.value.field == "frames"
