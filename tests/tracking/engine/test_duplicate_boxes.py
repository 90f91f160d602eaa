"""A weak detector's duplicate boxes do not turn separate animals into one long contact."""

from __future__ import annotations

import numpy as np

from tracking.engine.pipeline import build_trajectory
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
