"""Fixtures for the pure tracking-engine tests (no database)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ultralytics_offline():
    """Ultralytics' offline set-up for the engine tests (the test run's var/).

    The engine never configures Ultralytics itself: its caller does (the Celery task, the
    benchmark); this is the one place these tests do it.
    """
    from django.conf import settings

    from training.ultralytics_setup import configure_offline

    return configure_offline(settings.VAR_DIR)
