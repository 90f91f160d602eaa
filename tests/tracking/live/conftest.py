"""Fixtures of the live tests: a small paced-file video."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from tracking.live.sources import SyntheticCamera, draw_frame


@pytest.fixture
def tiny_video(tmp_path: Path) -> Path:
    """40 frames of the synthetic camera (320x240, 30 fps) as an MP4 file."""
    path = tmp_path / "tiny.mp4"
    camera = SyntheticCamera()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, camera.size)
    for k in range(40):
        writer.write(draw_frame(k, camera.size, camera.path(k)))
    writer.release()
    return path
