"""Tiny trained detectors and the database rows around them, for the evaluation tests.

Synthetic frames: dark ellipses ("mice") on a noisy light floor, 128x96 pixels. The same
images are written once as an Ultralytics dataset (to train on) and stored as Frames with
Boxes plus a DatasetVersion manifest (to evaluate on), so nothing depends on the training
jobs' services.

Training is cached per process: the evaluation tests and the dashboard e2e test share the
models whatever order they run in (a session fixture defined in two conftests would train
twice).
"""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 128, 96
IMGSZ = 64
SPLITS = {"train": 8, "val": 3, "test": 4}
# Figures every stored evaluation (``EvaluationRun.metrics``, ``evaluate --json``) carries.
METRIC_KEYS = frozenset(
    {
        "map50_voc11",
        "map50_voc_all",
        "coco_ap50",
        "coco_ap50_95",
        "precision",
        "recall",
        "f1",
        "average_iou",
        "average_iou_darknet",
        "tp",
        "fp",
        "fn",
        "pr_curve",
        "f1_curve",
        "per_class",
    }
)


@dataclass(frozen=True)
class SyntheticImage:
    name: str
    split: str
    png: bytes
    boxes: tuple[tuple[float, float, float, float], ...]  # (x, y, w, h) pixels, top-left


@dataclass(frozen=True)
class TinyModel:
    """A trained checkpoint on local disk and what training reported."""

    model_yaml: str
    weights: Path
    class_names: tuple[str, ...]
    training_time_s: float
    epochs: tuple[dict, ...]  # EpochReport fields per epoch


@functools.cache
def synthetic_images(seed: int = 0) -> tuple[SyntheticImage, ...]:
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for split, count in SPLITS.items():
        for i in range(count):
            img = np.full((HEIGHT, WIDTH, 3), 215, np.uint8)
            img += rng.integers(0, 20, (HEIGHT, WIDTH, 1), np.uint8)
            ax, ay = int(rng.integers(14, 22)), int(rng.integers(8, 12))
            cx = int(rng.integers(ax + 2, WIDTH - ax - 2))
            cy = int(rng.integers(ay + 2, HEIGHT - ay - 2))
            cv2.ellipse(img, (cx, cy), (ax, ay), 0, 0, 360, (35, 35, 35), -1)
            ok, png = cv2.imencode(".png", img)
            assert ok
            box = (float(cx - ax), float(cy - ay), float(2 * ax), float(2 * ay))
            out.append(SyntheticImage(f"{split}-{i}", split, png.tobytes(), (box,)))
    return tuple(out)


def _write_yolo_dataset(root: Path) -> Path:
    for image in synthetic_images():
        split = "val" if image.split == "test" else image.split  # Ultralytics needs train+val
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        (root / "images" / split / f"{image.name}.png").write_bytes(image.png)
        lines = [
            f"0 {(x + w / 2) / WIDTH:.6f} {(y + h / 2) / HEIGHT:.6f} "
            f"{w / WIDTH:.6f} {h / HEIGHT:.6f}"
            for x, y, w, h in image.boxes
        ]
        (root / "labels" / split / f"{image.name}.txt").write_text("\n".join(lines) + "\n")
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n  0: mouse\n")
    return data


@functools.cache
def tiny_model(model_yaml: str = "yolo11n.yaml") -> TinyModel:
    """Train ``model_yaml`` from scratch for 2 epochs at 64 px on CPU (seconds)."""
    from django.conf import settings

    from training import trainer
    from training.presets import Hyperparameters
    from training.ultralytics_setup import configure_offline

    configure_offline(settings.VAR_DIR)
    root = Path(tempfile.mkdtemp(prefix=f"tiny-{Path(model_yaml).stem}-", dir=settings.VAR_DIR))
    data = _write_yolo_dataset(root / "data")
    epochs: list[dict] = []
    result = trainer.train(
        data_yaml=data,
        preset_or_model=model_yaml,
        hyperparameters=Hyperparameters(
            epochs=2, imgsz=IMGSZ, batch=4, workers=0, device="cpu", augment=False, patience=0
        ),
        project_dir=root / "run",
        on_epoch_end=lambda r: epochs.append(
            {
                k: getattr(r, k)
                for k in (
                    "epoch",
                    "box_loss",
                    "cls_loss",
                    "dfl_loss",
                    "precision",
                    "recall",
                    "map50",
                    "map50_95",
                    "epoch_time_s",
                )
            }
        ),
    )
    return TinyModel(
        model_yaml=model_yaml,
        weights=result.best,
        class_names=tuple(result.class_names),
        training_time_s=result.training_time_s,
        epochs=tuple(epochs),
    )


@dataclass
class EvalSetup:
    project: object
    dataset_version: object
    frames: dict  # name -> Frame
    models: dict  # model_yaml -> TrainedModel


def store_dataset(*, project, user, name: str = "v1", test_split: bool = True):
    """Frames + Boxes of ``synthetic_images()`` in ``project`` and a DatasetVersion manifest.

    ``test_split=False`` moves the test frames to train (to exercise the val fallback).
    Returns (dataset_version, {image name: Frame}).
    """
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from labeling.datasets.formats.manifest import manifest_canonical_json, manifest_hash
    from labeling.models import Box, DatasetVersion, Frame, Video

    label_class = project.classes.get(index=0)
    video = Video.objects.create(
        project=project,
        kind=Video.Kind.IMAGE_SET,
        original_name="synthetic.zip",
        width=WIDTH,
        height=HEIGHT,
        frame_count=len(synthetic_images()),
    )
    frames, manifest_frames = {}, []
    for index, image in enumerate(synthetic_images()):
        split = image.split if (test_split or image.split != "test") else "train"
        stored = default_storage.save(
            f"frames/{project.pk}/{video.pk}/{index:07d}.png", ContentFile(image.png)
        )
        frame = Frame.objects.create(
            project=project,
            video=video,
            frame_index=index,
            image=stored,
            width=WIDTH,
            height=HEIGHT,
            status=Frame.Status.LABELED,
            split=split,
        )
        for x, y, w, h in image.boxes:
            Box.objects.create(frame=frame, label_class=label_class, x=x, y=y, w=w, h=h)
        frames[image.name] = frame
        manifest_frames.append(
            {
                "frame_id": frame.pk,
                "image": stored,
                "width": WIDTH,
                "height": HEIGHT,
                "split": split,
                "video_id": video.pk,
                "boxes": [
                    {"class_index": 0, "x": x, "y": y, "w": w, "h": h} for x, y, w, h in image.boxes
                ],
            }
        )
    manifest = {"classes": ["mouse"], "frames": manifest_frames}
    manifest_name = default_storage.save(
        f"datasets/{project.pk}/{name}.json",
        ContentFile(manifest_canonical_json(manifest).encode()),
    )
    counts = {
        s: sum(1 for f in manifest_frames if f["split"] == s) for s in ("train", "val", "test")
    }
    version = DatasetVersion.objects.create(
        project=project,
        name=name,
        manifest=manifest_name,
        content_hash=manifest_hash(manifest),
        classes=["mouse"],
        frame_counts=counts,
        box_count=sum(len(f["boxes"]) for f in manifest_frames),
        created_by=user,
    )
    return version, frames


def register_model(
    *, project, dataset_version, tiny: TinyModel, name: str | None = None, preset: str = ""
):
    """A TrainedModel row (and a finished TrainingJob with its EpochMetrics) for ``tiny``."""
    from training.models import EpochMetric, TrainedModel, TrainingJob
    from webapp.models import JobStatus
    from webapp.storage import sha256_of_file, store_file

    job = TrainingJob.objects.create(
        project=project,
        dataset_version=dataset_version,
        preset=preset or Path(tiny.model_yaml).stem,
        status=JobStatus.SUCCEEDED,
        epochs_total=len(tiny.epochs),
        epochs_done=len(tiny.epochs),
        device="cpu",
        hyperparameters={"epochs": len(tiny.epochs), "imgsz": IMGSZ},
    )
    for report in tiny.epochs:
        EpochMetric.objects.create(job=job, **report)
    stored = store_file(local_path=tiny.weights, name=f"models/{project.pk}/{job.pk}/best.pt")
    return TrainedModel.objects.create(
        project=project,
        job=job,
        name=name or Path(tiny.model_yaml).stem,
        preset=job.preset,
        dataset_version=dataset_version,
        weights=stored,
        weights_sha256=sha256_of_file(tiny.weights),
        weights_size=tiny.weights.stat().st_size,
        imgsz=IMGSZ,
        class_names=list(tiny.class_names),
        training_time_s=tiny.training_time_s,
        card=json.loads(json.dumps({"model_yaml": tiny.model_yaml})),
    )
