"""The front end's JavaScript: its Node unit tests and ESLint, run from pytest so that
`make test` (which installs both through `make js`) covers them."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"


def test_pure_modules_pass_their_node_tests():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (make test installs Debian's nodejs when root)")
    done = subprocess.run(
        [node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_eslint_finds_nothing():
    if shutil.which("node") is None or not ESLINT.exists():
        pytest.skip("ESLint is not installed: run `make js` (npm ci, pinned in package-lock.json)")
    done = subprocess.run(
        [str(ESLINT), "static/", "tests/js/", "eslint.config.js"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
