from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def openfield_weights(tmp_path_factory) -> Path:
    """A YOLO11n trained on the shared open-field video (once per session); skips without it."""
    from django.conf import settings

    from tests.conftest import OPENFIELD_VIDEO
    from tests.tracking.openfield_model import train_openfield_detector

    if not OPENFIELD_VIDEO.exists():
        pytest.skip(f"the shared open-field video is absent ({OPENFIELD_VIDEO})")
    return train_openfield_detector(Path(settings.VAR_DIR))
