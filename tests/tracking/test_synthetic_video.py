"""The synthetic videos the tracking tests and benches are measured on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.tracking.synthetic_video import _iou, make_tiny_video, make_two_mouse_video


def test_the_tiny_video_has_the_frames_and_boxes_it_says(tmp_path):
    truth = make_tiny_video(tmp_path / "t.mp4", n_frames=12, size=(160, 120), n_animals=3)
    cap = cv2.VideoCapture(str(truth.path))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 12
    ok, image = cap.read()
    assert ok and image.shape == (120, 160, 3)
    assert truth.boxes.shape == (12, 3, 4) and not np.isnan(truth.boxes).any()
    x1, y1, x2, y2 = truth.boxes[0, 0]
    inside = image[int(y1) + 3 : int(y2) - 3, int(x1) + 3 : int(x2) - 3]
    centre = image[int((y1 + y2) / 2), int((x1 + x2) / 2)]
    assert inside.size and centre.max() < 80  # a dark animal where its box says


@pytest.mark.slow
def test_two_mice_from_the_recording_with_their_boxes(openfield_video, tmp_path):
    truth = make_two_mouse_video(openfield_video, tmp_path / "two.mp4", n_frames=150, scale=0.5)
    assert truth.size == (320, 240) and truth.boxes.shape == (150, 2, 4)
    cap = cv2.VideoCapture(str(truth.path))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 150
    found = ~np.isnan(truth.boxes).any(axis=2)
    assert found.mean() > 0.9
    b = truth.boxes[found]
    assert (b[:, 0] >= 0).all() and (b[:, 2] <= 320).all() and (b[:, 3] <= 240).all()
    # The pasted mouse is the same mouse at another moment: the same path, shifted in time.
    delay = np.flatnonzero(
        [np.allclose(truth.boxes[0, 1], truth.boxes[t, 0], equal_nan=True) for t in range(150)]
    )
    assert len(delay) and delay[0] > 0
    # Both are dark where their boxes are, in the written video.
    ok, image = cap.read()
    for animal in range(2):
        x1, y1, x2, y2 = truth.boxes[0, animal]
        patch = cv2.cvtColor(image[int(y1) : int(y2), int(x1) : int(x2)], cv2.COLOR_BGR2GRAY)
        assert np.percentile(patch, 10) < 60
    # and they meet: some frames have overlapping boxes.
    assert (_iou(truth.boxes[:, 0], truth.boxes[:, 1]) > 0).any()
