"""Fixtures for the pure tracking-engine tests (no database)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ultralytics_offline(tmp_path_factory):
    """Ultralytics' offline set-up, done once for the engine tests, in a temporary directory.

    The engine never configures Ultralytics itself: its caller does (the Celery task, the
    benchmark). This is the ONE place these tests do it; point it at the new home of the
    set-up function when that moves.
    """
    from training.trainer import configure_offline

    return configure_offline(tmp_path_factory.mktemp("var"))
