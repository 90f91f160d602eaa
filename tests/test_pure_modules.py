"""The pure cores import with Django, DRF and Celery unavailable: media (decoding), dataset
formats, metrics, the tracking engine, behaviour measures, the model runtime. One guard,
parametrised over the packages, each imported in a fresh interpreter whose import system
refuses those frameworks (a module that needs them fails here, not in a lab's script)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

PURE = {
    "media": [
        "media", "media.probe", "media.sampling", "media.streaming", "media.sandbox",
        "media.image_check", "media.worker", "media.worker.child", "media.worker.decode",
        "media.worker.ops", "media.worker.packets", "media.worker.images",
        "media.worker.rules", "media.worker.entry_points", "media.worker.cut_short",
    ],
    "image sets": ["labeling.videos.imagesets"],
    "dataset formats": [
        "labeling.datasets.formats.base", "labeling.datasets.formats.coco",
        "labeling.datasets.formats.cvat", "labeling.datasets.formats.darknet",
        "labeling.datasets.formats.voc", "labeling.datasets.formats.yolo",
        "labeling.datasets.formats.outputs", "labeling.datasets.archives",
        "labeling.datasets.splits",
        "labeling.annotations.geometry", "labeling.annotations.keypoints",
        "labeling.datasets.formats.pose", "labeling.datasets.formats.dlc",
        "labeling.datasets.formats.sleap",
    ],
    "evaluation metrics": [
        "evaluation.metrics", "evaluation.matching", "evaluation.average_precision",
        "evaluation.curves", "evaluation.coco_io", "evaluation.keypoints",
    ],
    "model runtime": [
        "training.runtime", "training.presets", "training.yolo_ops", "training.model_card",
    ],
    "tracking engine": [
        "tracking.engine.runner", "tracking.engine.pipeline", "tracking.engine.identity",
        "tracking.engine.appearance", "tracking.engine.cropping", "tracking.engine.chunks",
        "tracking.engine.edits", "tracking.engine.scoring", "tracking.engine.render",
        "tracking.engine.exports.csv", "tracking.engine.exports.nwb",
        "tracking.engine.exports.mot", "tracking.engine.exports.parquet",
    ],
    "live tracking": [
        "tracking.live", "tracking.live.sources", "tracking.live.identity", "tracking.live.rules",
        "tracking.live.outputs", "tracking.live.recording", "tracking.live.session",
        "tracking.live.config",
    ],
    "behaviour measures": [
        "behavior.core.measures", "behavior.core.zones", "behavior.core.calibration",
        "behavior.core.heatmap", "behavior.core.experiment", "behavior.core.report",
        "behavior.core.freezing",
    ],
    "assisted labeling": ["assisted.bootstrap", "assisted.hardframes"],
}  # fmt: skip

BLOCKER = """
import importlib.abc, sys
BLOCKED = ("django", "rest_framework", "celery", "drf_spectacular", "kombu")
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: a pure module may not import it")
sys.meta_path.insert(0, Refuse())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
print("ok")
"""


@pytest.mark.parametrize("package", sorted(PURE))
def test_the_pure_core_imports_without_django_drf_or_celery(package):
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, *PURE[package]],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
