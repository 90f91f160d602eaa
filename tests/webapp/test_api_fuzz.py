"""Schemathesis fuzzes every operation of the OpenAPI schema against the live server: no
input, however malformed, may produce a server error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
def test_no_generated_request_gets_a_server_error(live_server, broker, owner, project, tmp_path):
    from rest_framework.authtoken.models import Token

    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.skip("schemathesis is not installed (pip install -r requirements-test.txt)")
    token = Token.objects.create(user=owner).key
    result = subprocess.run(
        [
            cli,
            "run",
            f"{live_server.url}/api/schema/",
            "-H",
            f"Authorization: Token {token}",
            "--checks",
            "not_a_server_error",
            "--phases",
            "fuzzing",
            "--max-examples",
            "8",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.webapp.schemathesis_hooks",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        },
        cwd=tmp_path,  # the CLI writes its own files here, not in the repository
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
