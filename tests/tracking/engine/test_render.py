"""The annotated MP4."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.tracking.synthetic_video import make_tiny_video
from tracking.engine.frames import OpenCVSource
from tracking.engine.render import Mp4Writer, RenderError, render_video
from tracking.engine.trajectory import Status, Trajectory


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_video(
        tmp_path_factory.mktemp("video") / "tiny.mp4", n_frames=24, size=(160, 120)
    )


def _trajectory(truth) -> Trajectory:
    boxes = truth.boxes.copy()
    boxes[5:8, 1] = np.nan  # animal 2 missing for three frames
    status = np.where(np.isnan(boxes).any(axis=2), Status.MISSING, Status.DETECTED)
    status[10, 0] = Status.INTERPOLATED
    return Trajectory(
        frames=np.arange(truth.n_frames - 2),  # the last two frames untracked
        time_s=truth.time_s[:-2],
        boxes=boxes[:-2],
        confidence=np.full(boxes[:-2].shape[:2], 0.9, np.float32),
        status=status[:-2].astype(np.int8),
    )


def test_renders_an_h264_mp4_that_opencv_decodes_frame_for_frame(tiny, tmp_path):
    out = render_video(OpenCVSource(tiny.path), _trajectory(tiny), tmp_path / "out" / "a.mp4")
    assert [p.name for p in out.parent.iterdir()] == ["a.mp4"]  # no temporary file left
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 24
    assert int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little") in (b"avc1", b"h264")
    ok, first = cap.read()
    cap.release()
    original = next(OpenCVSource(tiny.path).frames())
    assert ok and first.shape == original.image.shape == (120, 160, 3)
    assert np.abs(first.astype(int) - original.image).max() > 100  # drawn on


def test_odd_frame_sizes_are_padded_by_one_pixel_for_yuv420p(tmp_path):
    with Mp4Writer(tmp_path / "odd.mp4", size=(33, 25), fps=10) as out:
        for _ in range(3):
            out.write(np.full((25, 33, 3), 200, np.uint8))
    ok, frame = cv2.VideoCapture(str(tmp_path / "odd.mp4")).read()
    assert ok and frame.shape == (26, 34, 3)


def test_a_stop_requested_while_rendering_leaves_no_file(tiny, tmp_path):
    class Stop(Exception):
        pass

    def stop_at_10(done):
        if done == 10:
            raise Stop

    with pytest.raises(Stop):
        render_video(
            OpenCVSource(tiny.path), _trajectory(tiny), tmp_path / "a.mp4", on_progress=stop_at_10
        )
    assert list(tmp_path.iterdir()) == []


def test_the_writer_refuses_frames_of_another_size(tmp_path):
    with pytest.raises(ValueError), Mp4Writer(tmp_path / "a.mp4", size=(32, 24), fps=10) as out:
        out.write(np.zeros((24, 33, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_an_encoder_failure_is_reported_with_ffmpegs_words(tmp_path):
    with pytest.raises(RenderError, match="ffmpeg"):
        with Mp4Writer(tmp_path / "a.mp4", size=(32, 24), fps=10, preset="no-such-preset") as out:
            for _ in range(50):
                out.write(np.zeros((24, 32, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
