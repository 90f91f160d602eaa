"""`make run` on a machine with nothing installed: embedded SQLite and Redis, one worker on
both queues, the web server; Ctrl-C stops every child."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_run_serves_the_login_page_with_embedded_services_and_stops_cleanly(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOUSETRACK_", "PYTEST_", "DJANGO_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT")
    }
    env.update(
        MOUSETRACK_VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
        DJANGO_SUPERUSER_USERNAME="pi",
        DJANGO_SUPERUSER_PASSWORD="a-long-pass-phrase",
    )
    for args in (["migrate", "--noinput"], ["ensure_admin"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "db.sqlite3").exists()

    port = _free_port()
    log = open(tmp_path / "devstack.log", "wb")
    stack = subprocess.Popen(
        [sys.executable, "-m", "webapp.devstack", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        health = {}
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                health = json.loads(body)
                if status == 200 and all(q["ok"] for q in health["queues"].values()):
                    break
            except (OSError, ValueError):
                pass
            time.sleep(1)
        assert health.get("ok"), (tmp_path / "devstack.log").read_text()
        assert health["broker"]["embedded"] is True
        assert health["database"]["vendor"] == "sqlite"
        assert health["queues"]["default"]["ok"] and health["queues"]["gpu"]["ok"]
        assert health["queues"]["live"]["ok"]  # the live queue has its own worker

        status, body = _get(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200 and b"Log in to MouseTrack Studio" in body
        children = psutil.Process(stack.pid).children(recursive=True)
        assert len(children) >= 3  # redis-server, celery worker (+pool), runserver
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=60)
        log.close()
    time.sleep(1)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
