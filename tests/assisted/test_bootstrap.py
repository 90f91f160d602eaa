"""The zero-label bootstrap (assisted.bootstrap) on synthetic frames and on the recording."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from assisted import bootstrap

from .helpers import arena as _arena
from .helpers import synthetic_video as _video


def test_dark_mouse_on_white_floor_found_without_its_tail():
    frames, truth = _video(floor=220, mouse=30)
    model = bootstrap.background_model(frames)
    assert model.dark_animals
    for frame, (want,) in zip(frames, truth, strict=True):
        (got,) = bootstrap.propose_boxes(frame, model)
        box = (got.x, got.y, got.w, got.h)
        # The tail reaches 90 px from the centre: a box with it would have IoU < 0.6.
        assert bootstrap.box_iou(box, want) > 0.8, (box, want)
        assert 0.5 <= got.score <= 1.0


def test_bright_mouse_on_dark_floor_decided_automatically():
    frames, truth = _video(floor=50, mouse=235)
    model = bootstrap.background_model(frames)
    assert not model.dark_animals
    for frame, (want,) in zip(frames, truth, strict=True):
        (got,) = bootstrap.propose_boxes(frame, model)
        assert bootstrap.box_iou((got.x, got.y, got.w, got.h), want) > 0.8


def test_expected_animal_count_is_respected():
    frames, truth = _video(floor=220, mouse=30, animals=2)
    model = bootstrap.background_model(frames)
    for frame, want in zip(frames, truth, strict=True):
        assert len(bootstrap.propose_boxes(frame, model, expected=1)) == 1
        got = bootstrap.propose_boxes(frame, model, expected=2)
        assert len(got) == 2
        for w in want:
            assert max(bootstrap.box_iou((g.x, g.y, g.w, g.h), w) for g in got) > 0.8


def test_empty_frame_gives_no_box():
    frames, _ = _video(floor=220, mouse=30)
    model = bootstrap.background_model(frames)
    assert bootstrap.propose_boxes(_arena(220, seed=99), model) == []


def test_background_needs_frames_of_one_size():
    frames, _ = _video(floor=220, mouse=30, n=3)
    with pytest.raises(ValueError, match="at least 3"):
        bootstrap.background_model(frames[:2])
    with pytest.raises(ValueError, match="same size"):
        bootstrap.background_model([*frames[:2], cv2.resize(frames[2], (320, 240))])
    model = bootstrap.background_model(frames)
    with pytest.raises(ValueError, match="background"):
        bootstrap.foreground_mask(cv2.resize(frames[0], (320, 240)), model)


def test_frames_of_the_recording(openfield_video):
    """On the shared recording every sampled frame gets one mouse-sized box on a dark blob,
    and the box excludes the tail: its far end is outside the box."""
    cap = cv2.VideoCapture(str(openfield_video))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for index in np.linspace(0, count - 1, 30).astype(int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = cap.read()
        assert ok
        frames.append(frame)
    cap.release()
    model = bootstrap.background_model(frames)
    assert model.dark_animals
    found = 0
    for frame in frames:
        boxes = bootstrap.propose_boxes(frame, model, expected=1)
        if not boxes:
            continue
        found += 1
        (b,) = boxes
        assert 1500 <= b.area_px <= 12000
        assert 30 <= max(b.w, b.h) <= 180
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        inside = gray[int(b.y) : int(b.y + b.h), int(b.x) : int(b.x + b.w)]
        assert np.percentile(inside, 10) < 80  # the black mouse is in the box
    assert found >= 28
