"""Ultralytics' trackers fed the engine's own detections."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tracking.engine.fake_detections import boxes_around, crossing_paths, detect
from tracking.engine.association import associate
from tracking.engine.params import TrackerConfig


@pytest.mark.parametrize("tracker_type", ["bytetrack", "botsort"])
def test_each_animal_is_one_tracklet_with_its_detected_boxes(ultralytics_offline, tracker_type):
    truth = boxes_around(crossing_paths(40))
    detections = detect(truth, jitter_px=1.0)
    tracklets = associate(detections, TrackerConfig(tracker_type=tracker_type))
    assert len(tracklets) == 2 and [t.track_id for t in tracklets] == [1, 2]
    for t in tracklets:
        assert t.rows.tolist() == list(range(40))  # the first frame too
        expected = np.stack(
            [detections[r].boxes_xyxy[d] for r, d in zip(t.rows, t.det_index, strict=True)]
        )
        np.testing.assert_array_equal(t.boxes, expected)  # as detected, not Kalman-smoothed


def test_a_new_track_keeps_its_first_detection(ultralytics_offline):
    truth = boxes_around(crossing_paths(30))
    truth[:10, 1] = np.nan  # animal 2 appears at frame 10
    tracklets = associate(detect(truth), TrackerConfig())
    assert [t.start for t in tracklets] == [0, 10]


def test_low_scores_and_degenerate_boxes_never_reach_the_tracker(ultralytics_offline):
    truth = boxes_around(crossing_paths(20))
    detections = detect(truth, score=0.05)
    assert associate(detections, TrackerConfig(), min_score=0.1) == []
    flat = detect(truth, extra=[(f, (10.0, 10.0, 10.0, 30.0), 0.9) for f in range(20)])
    assert len(associate(flat, TrackerConfig())) == 2


def test_the_tracker_is_only_built_after_the_offline_set_up(monkeypatch):
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    with pytest.raises(RuntimeError, match="offline"):
        associate([], TrackerConfig())


def test_a_missing_lap_fails_clearly_instead_of_installing_it(monkeypatch, ultralytics_offline):
    import sys

    monkeypatch.setitem(sys.modules, "lap", None)  # import lap -> ImportError
    with pytest.raises(RuntimeError, match="lap"):
        associate([], TrackerConfig())
