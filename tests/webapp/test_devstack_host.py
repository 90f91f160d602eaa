"""`make run` (DEBUG on) listens on loopback only and says how to serve the lab (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from webapp.devstack import SERVE_THE_LAB, host_problem

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_hosts_are_fine(host):
    assert host_problem(host, debug=True) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "lab-server.local"])
def test_other_hosts_are_refused_with_debug_on_and_the_way_to_serve_the_lab(host):
    problem = host_problem(host, debug=True)
    assert problem and f"Refusing to serve on {host}" in problem
    assert "gunicorn webapp.wsgi" in problem and "DJANGO_ENV=production" in problem
    assert host_problem(host, debug=False) is None


def test_devstack_refuses_0000_before_starting_anything(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.update(MOUSETRACK_VAR_DIR=str(tmp_path / "var"), DJANGO_DEBUG="1")
    done = subprocess.run(
        [sys.executable, "-m", "webapp.devstack", "--host", "0.0.0.0", "--port", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Refusing to serve on 0.0.0.0" in done.stderr and SERVE_THE_LAB in done.stderr
    assert "MouseTrack Studio on" not in done.stdout
