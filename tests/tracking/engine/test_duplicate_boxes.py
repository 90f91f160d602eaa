"""A weak detector's duplicate boxes do not turn separate animals into one long contact."""

from __future__ import annotations

import numpy as np

from tracking.engine.pipeline import build_trajectory
from tracking.engine.scoring import score_trajectory
from tracking.engine.trajectory import FrameDetections, Status


def test_duplicate_boxes_per_animal_still_give_every_frame_both_identities(ultralytics_offline):
    detections = []
    for f in range(60):
        a = np.array([20 + 2 * f, 40, 80 + 2 * f, 80], np.float32)
        b = np.array([400 - 2 * f, 300, 460 - 2 * f, 340], np.float32)
        # Each animal also gets a larger, weaker box around it (body + tail).
        boxes = np.stack([a, a + [-6, -4, 14, 4], b, b + [-6, -4, 14, 4]])
        scores = np.array([0.9, 0.5, 0.85, 0.45], np.float32)
        detections.append(FrameDetections(f, f / 30, boxes, scores))
    result = build_trajectory(detections, n_animals=2)
    status = result.trajectory.status
    assert (status == Status.DETECTED).mean() > 0.95, np.unique(status, return_counts=True)
    centres = result.trajectory.centres()
    # Identities stay with their animal: one stays in the top band, the other in the bottom.
    top = np.nanmean(centres[:, :, 1], axis=0) < 200
    assert sorted(top.tolist()) == [False, True]


def test_a_box_around_two_touching_animals_gives_way_to_their_own_boxes(ultralytics_offline):
    """Where two animals touch a detector often adds one box around both, scoring higher than
    either animal's own box: with two animals known, the two own boxes are kept."""
    from tests.tracking.engine.fake_detections import _union, boxes_around, crossing_paths

    truth = boxes_around(crossing_paths())  # boxes overlap on frames 68-82, IoU > 0.5 on 73-77
    touching = np.r_[68:73, 78:83]  # overlapping, yet two distinct boxes
    detections = []
    for f, (a, b) in enumerate(truth):
        boxes, scores = [a, b], [0.6, 0.5]
        if f in touching:
            boxes.append(_union(a, b))
            scores.append(0.9)
        detections.append(
            FrameDetections(f, f / 30, np.array(boxes, np.float32), np.array(scores, np.float32))
        )
    result = build_trajectory(detections, n_animals=2)
    t = result.trajectory
    assert (t.status[touching] == Status.DETECTED).all()  # none lost, none interpolated
    height = t.boxes[touching, :, 3] - t.boxes[touching, :, 1]
    assert np.allclose(height, 30, atol=1e-3)  # each animal's own 30 px box, not the union
    ours = score_trajectory(t, truth)
    assert ours.id_switches == 0 and ours.idf1 > 0.98


def test_one_animals_boxes_inside_each_other_are_no_merge(ultralytics_offline):
    """A body box inside a body + tail box is one animal: the best box stays."""
    a = np.array([100, 100, 160, 130], np.float32)
    b = np.array([400, 300, 460, 330], np.float32)
    detections = [
        FrameDetections(
            f,
            f / 30,
            np.stack([a + [-8, -4, 30, 6], a, a + [10, 0, 0, 0], b]),
            np.array([0.9, 0.5, 0.4, 0.8], np.float32),
        )
        for f in range(30)
    ]
    t = build_trajectory(detections, n_animals=2).trajectory
    assert (t.status == Status.DETECTED).all()
    widths = sorted(np.unique(np.round(t.boxes[..., 2] - t.boxes[..., 0])).tolist())
    assert widths == [60.0, 98.0]
