"""Trust figures on a case worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.tracking.engine.helpers import line, make_trajectory
from tracking.engine.identity import SuspectedSwap
from tracking.engine.trajectory import Status
from tracking.engine.trust import trust_report


def test_trust_figures_per_animal_and_per_video():
    centres = np.stack([line(100), line(100, start=(100.0, 300.0))], axis=1)
    centres[10:16, 0] = np.nan  # 6 frames
    centres[50:80, 1] = np.nan  # 30 frames
    centres[95:, 1] = np.nan  # 5 frames
    t = make_trajectory(centres)
    t.status[10:16, 0] = Status.INTERPOLATED  # as the gap pass would
    t.confidence[:, 1] = np.where(np.arange(100) < 50, 0.6, 0.8).astype(np.float32)
    t.confidence[np.isnan(centres[:, 1, 0]), 1] = np.nan
    t.flags["outlier"] = np.zeros((100, 2), dtype=bool)
    t.flags["outlier"][[3, 7], 1] = True
    swap = SuspectedSwap(1, 2, 20, 25, 20 / 30, 25 / 30, 0.4, 12.0)

    report = trust_report(t, [swap])
    a, b = report.animals
    assert (a.detected_pct, a.interpolated_pct, a.missing_pct) == (94.0, 6.0, 0.0)
    assert (b.detected_pct, b.interpolated_pct, b.missing_pct) == (65.0, 0.0, 35.0)
    assert a.longest_gap_frames == 6 and a.longest_gap_s == pytest.approx(6 / 30)
    assert b.longest_gap_frames == 30 and b.longest_gap_s == pytest.approx(1.0)
    assert a.mean_confidence == pytest.approx(0.9)
    assert b.mean_confidence == pytest.approx((50 * 0.6 + 15 * 0.8) / 65)  # detected frames only
    assert report.mean_confidence == pytest.approx((94 * 0.9 + 50 * 0.6 + 15 * 0.8) / 159)
    assert (a.outliers, b.outliers) == (0, 2)
    assert a.suspected_swaps == b.suspected_swaps == report.suspected_swaps == 1
    assert report.detected_pct == 79.5 and report.missing_pct == 17.5
    assert report.longest_gap_frames == 30 and report.outliers == 2
    assert report.duration_s == pytest.approx(100 / 30)
    assert report.n_frames == 100 and report.n_animals == 2
    data = json.loads(json.dumps(report.to_dict()))
    assert data["animals"][1]["longest_gap_frames"] == 30


def test_an_animal_never_seen_has_no_mean_confidence():
    t = make_trajectory(np.full((5, 1, 2), np.nan))
    report = trust_report(t)
    assert report.animals[0].mean_confidence is None and report.mean_confidence is None
    assert report.animals[0].missing_pct == 100.0 and report.longest_gap_frames == 5
    json.dumps(report.to_dict(), allow_nan=False)
