"""Hard frames (assisted.hardframes): candidates from a trajectory and an evaluation, and
the capped, deduplicated sample spread over the video."""

from __future__ import annotations

import numpy as np

from assisted.hardframes import (
    HardFrame,
    evaluation_hard_frames,
    sample_hard_frames,
    tracking_hard_frames,
)


def test_tracking_candidates_name_each_reason():
    f, n = 100, 2
    status = np.ones((f, n), np.int8)
    conf = np.full((f, n), 0.9)
    status[10, 0], conf[10, 0] = 0, np.nan  # a miss
    status[20, 1], conf[20, 1] = 2, np.nan  # interpolated
    conf[30, 1] = 0.2  # low confidence
    outlier = np.zeros((f, n), bool)
    outlier[40, 0] = True
    got = tracking_hard_frames(
        status=status,
        confidence=conf,
        frames=np.arange(f),
        flags={"outlier": outlier},
        swaps=[(60, 70)],
    )
    reasons = {(c.frame, c.reason) for c in got}
    assert reasons == {
        (10, "missing"),
        (20, "missing"),
        (30, "low_confidence"),
        (40, "outlier"),
        (60, "swap"),
        (65, "swap"),
        (70, "swap"),
    }


def test_evaluation_candidates():
    got = evaluation_hard_frames(
        [
            {"frame": 1, "false_positives": 0, "misses": 1, "min_iou": None},
            {"frame": 2, "false_positives": 2, "misses": 0, "min_iou": 0.8},
            {"frame": 3, "false_positives": 0, "misses": 0, "min_iou": 0.3},
            {"frame": 4, "false_positives": 0, "misses": 0, "min_iou": 0.9},
        ]
    )
    assert [(c.frame, c.reason) for c in got] == [
        (1, "miss"),
        (2, "false_positive"),
        (3, "low_iou"),
    ]


def test_sample_is_capped_deduplicated_and_spread():
    # A long miss at the start (frames 0-499) and a few isolated low-confidence frames.
    candidates = [HardFrame(i, "missing", 2.0) for i in range(500)]
    candidates += [HardFrame(i, "low_confidence", 1.2) for i in (1200, 1800, 2300)]
    candidates += [HardFrame(5, "swap", 3.0)]  # the same frame again, worse
    got = sample_hard_frames(candidates, n_frames=2400, cap=10, min_gap=30)
    frames = [c.frame for c in got]
    assert len(got) == 10 and frames == sorted(frames)
    assert len(set(frames)) == 10
    assert all(b - a >= 30 for a, b in zip(frames, frames[1:], strict=False))
    assert {1200, 1800, 2300} <= set(frames)  # the rest of the video is not crowded out
    assert got[0] == HardFrame(5, "swap", 3.0)


def test_sample_of_nothing():
    assert sample_hard_frames([], n_frames=100) == []
    assert sample_hard_frames([HardFrame(1, "miss", 1.0)], n_frames=100, cap=0) == []
