"""One OpenCV only (issue 13): Ultralytics pulls in the GUI build (opencv-python) next to
the headless one the app installs; both write cv2/, so the Makefile's install step keeps
the headless one (see ONE_OPENCV in the Makefile)."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import numpy as np
import pytest

OPENCV_DISTRIBUTIONS = {
    "opencv-python",
    "opencv-python-headless",
    "opencv-contrib-python",
    "opencv-contrib-python-headless",
}


def test_only_the_headless_opencv_is_installed_and_cv2_works():
    names = {(d.metadata["Name"] or "").lower() for d in importlib.metadata.distributions()}
    installed = names & OPENCV_DISTRIBUTIONS
    if len(installed) > 1 and not Path(sys.prefix, ".one-opencv").exists():
        pytest.skip(
            f"this virtualenv predates the Makefile's one-OpenCV step ({sorted(installed)}); "
            "run `make install` to fix it"
        )
    assert installed == {"opencv-python-headless"}
    import cv2

    ok, jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert ok and cv2.imdecode(jpeg, cv2.IMREAD_COLOR).shape == (8, 8, 3)
