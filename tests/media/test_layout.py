"""media is the bottom layer: every app decodes through it, so it imports none of them
(not even their pure modules), only the standard library, numpy, PyAV, Pillow, and the
few helpers each module names (scikit-learn for k-means sampling)."""

from __future__ import annotations

import ast

from tests.conftest import REPO_ROOT

APPS = {"webapp", "labeling", "tracking", "training", "evaluation", "assisted", "behavior"}


def test_media_imports_no_app_of_the_project():
    found = []
    for path in sorted((REPO_ROOT / "media").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            found += [
                f"{path.relative_to(REPO_ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in APPS
            ]
    assert found == []
