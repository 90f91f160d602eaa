"""MOTA / IDF1 / switches through motmetrics."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tracking.engine.helpers import line, make_trajectory
from tracking.engine.edits import SwapEdit, apply_edits
from tracking.engine.scoring import iou_matrix, score_frames, score_trajectory


def _truth():
    centres = np.stack([line(40), line(40, start=(100.0, 300.0))], axis=1)
    t = make_trajectory(centres)
    return t, t.boxes.astype(np.float64)


def test_a_perfect_trajectory_scores_one():
    t, truth = _truth()
    s = score_trajectory(t, truth)
    assert (s.mota, s.idf1, s.precision, s.recall) == (1.0, 1.0, 1.0, 1.0)
    assert s.id_switches == 0 and s.frames == 40 and s.objects == 80


def test_a_swap_halfway_is_two_switches_and_halves_idf1():
    t, truth = _truth()
    s = score_trajectory(apply_edits(t, [SwapEdit(1, 2, 20)]), truth)
    assert s.id_switches == 2 and s.idf1 == pytest.approx(0.5)
    assert s.mota == pytest.approx(1 - 2 / 80)


def test_missing_boxes_are_misses_and_extra_ones_false_positives():
    t, truth = _truth()
    t.boxes[:10, 0] = np.nan
    t.status[:10, 0] = 0
    s = score_trajectory(t, truth)
    assert s.misses == 10 and s.recall == pytest.approx(70 / 80)
    ids = [np.array([1]) for _ in range(3)]
    boxes = [np.array([[0.0, 0.0, 10.0, 10.0]]) for _ in range(3)]
    s = score_frames(
        list(zip(ids, boxes, strict=True)),
        [(np.array([1, 2]), np.array([[0, 0, 10, 10], [50, 50, 60, 60]]))] * 3,
    )
    assert s.false_positives == 3 and s.precision == pytest.approx(0.5)


def test_iou_matrix():
    iou = iou_matrix(
        np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    )
    np.testing.assert_allclose(iou, [[1.0, 1 / 3, 0.0]])
    assert iou_matrix(np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)
