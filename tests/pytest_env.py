"""Imported by webapp/settings.py under pytest: gives each test run its own var/ directory.

Settings are read when pytest-django sets Django up, which happens before any conftest
runs, so the environment has to be prepared from the settings module itself. Worker
processes started by the tests inherit the variables and so share the run's directories.

Each run gets a fresh temp directory for the SQLite database (a file, so worker processes
can open it), media, scratch space and the embedded Redis socket; DATABASE_URL/REDIS_URL
from the environment still win.
"""

import os
import tempfile
from pathlib import Path

if "MOUSETRACK_RUN_DIR" not in os.environ:
    _run_dir = Path(tempfile.mkdtemp(prefix="mousetrack-test-"))
    os.environ["MOUSETRACK_TESTING"] = "1"
    os.environ["MOUSETRACK_RUN_DIR"] = str(_run_dir)
    os.environ["MOUSETRACK_VAR_DIR"] = str(_run_dir / "var")
    os.environ["MEDIA_ROOT"] = str(_run_dir / "media")
    os.environ["MOUSETRACK_SCRATCH_DIR"] = str(_run_dir / "scratch")
    os.environ["MOUSETRACK_TEST_SQLITE"] = str(_run_dir / "test-db.sqlite3")
    # A short socket path: unix socket paths are limited to ~100 bytes.
    os.environ["MOUSETRACK_REDIS_SOCKET"] = str(_run_dir / "redis.sock")
    os.environ.setdefault("SECRET_KEY", "tests-" + os.urandom(24).hex())
    os.environ.setdefault("JOB_HEARTBEAT_INTERVAL", "1")
    # Playwright's sync API keeps an event loop in the test thread; Django's ORM calls
    # made by the test itself are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
