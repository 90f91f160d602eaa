"""The front end's JavaScript: its Node unit tests and ESLint, run from pytest so that
`make test` (which installs both through `make js`) covers them."""

import re
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


def test_page_scripts_are_modules_and_vendored_libraries_classic():
    """Our scripts load as ES modules (they import what they share; the CSP's script-src
    'self' allows them); only vendored libraries stay classic scripts defining globals."""
    tag = re.compile(r"<script\b([^>]*)>")
    seen = 0
    for template in (ROOT / "templates").rglob("*.html"):
        for attrs in tag.findall(template.read_text()):
            if "src=" not in attrs:
                continue
            seen += 1
            if "vendor/" in attrs:
                assert 'type="module"' not in attrs, (template, attrs)
            else:
                assert 'type="module"' in attrs, (template, attrs)
    assert seen > 15


def test_no_page_loads_a_script_to_borrow_its_helpers():
    """One entry module per page concern: the video page no longer loads the list's script,
    nor the behaviour pages a helper script (they import static/webapp/ modules)."""
    video_page = (ROOT / "templates/labeling/video_detail.html").read_text()
    assert "labeling/videos.js" not in video_page
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        for helper in ("tracking/behavior.js", "evaluation/charts.js", "editor-autosave.js"):
            assert helper not in text, (template, helper)
