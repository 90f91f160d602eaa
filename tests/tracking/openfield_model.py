"""A small detector that really finds the mouse of the shared open-field video.

Trained once per test session (about two minutes on 2 cores): 40 frames sampled uniformly,
labeled automatically the way ``bench/train_tiny_openfield.py`` does (per-pixel median
background, dark blob without the tail), YOLO11n from scratch at 160 px. The tracking
tests need real boxes on real frames; quality only has to be good enough to follow one
mouse on a white floor.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

from tests.conftest import OPENFIELD_VIDEO, REPO_ROOT

IMGSZ = 160
EPOCHS = 60  # 30 gave a model at the edge (median score 0.27 on the first 90 frames)


def _bench_module():
    spec = importlib.util.spec_from_file_location(
        "bench_train_tiny_openfield", REPO_ROOT / "bench" / "train_tiny_openfield.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_openfield_detector(var_dir: Path) -> Path:
    """Weights (.pt) of a detector trained on auto-labeled frames of the shared video."""
    from training import trainer
    from training.presets import Hyperparameters
    from training.ultralytics_setup import configure_offline

    bench = _bench_module()
    configure_offline(var_dir)
    root = Path(tempfile.mkdtemp(prefix="openfield-detector-", dir=var_dir))
    frames = bench.sample_frames(OPENFIELD_VIDEO, 40)
    data_yaml, _ = bench.build_dataset(frames, root)
    result = trainer.train(
        data_yaml=data_yaml,
        preset_or_model="yolo11n.yaml",
        hyperparameters=Hyperparameters(
            epochs=EPOCHS, imgsz=IMGSZ, batch=4, workers=0, device="cpu", patience=0
        ),
        project_dir=root / "run",
    )
    return Path(result.best)


def register_openfield_model(*, project, weights: Path):
    """A TrainedModel row of ``project`` for ``weights``."""
    from training.models import TrainedModel
    from webapp.storage import sha256_of_file, store_file

    stored = store_file(local_path=weights, name=f"models/{project.pk}/openfield/best.pt")
    return TrainedModel.objects.create(
        project=project,
        name="openfield yolo11n",
        preset="yolo11n",
        weights=stored,
        weights_sha256=sha256_of_file(weights),
        weights_size=weights.stat().st_size,
        imgsz=IMGSZ,
        class_names=["mouse"],
        hyperparameters={"imgsz": IMGSZ, "epochs": EPOCHS},
    )
