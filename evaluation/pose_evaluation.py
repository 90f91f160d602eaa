"""Keypoint evaluation of a pose model on a split of its dataset version (the Django side
of :mod:`evaluation.keypoints`).

Runs inline (``manage.py evaluate_pose``), not as an evaluation run: the evaluation runs'
worker infers through ``training.runtime.Detector``, which serves detection models only.
Ground truth is the version's manifest (its skeleton and each box's keypoints; a box
without keypoints counts as an animal with none labeled, which OKS AP ignores as COCO does).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from labeling.datasets.versions import dataset_version_manifest
from training.models import TrainedModel
from training.presets import PRESETS
from webapp.storage import local_copy

from .keypoints import DEFAULT_PCK_PX, DEFAULT_PCK_REL, PoseAnimal, PoseImage, pose_metrics


def pose_model_evaluate(
    *,
    model: TrainedModel,
    split: str = "test",
    device: str = "cpu",
    sigmas: Sequence[float] | None = None,
    pck_px: float = DEFAULT_PCK_PX,
    pck_rel: float = DEFAULT_PCK_REL,
) -> dict:
    """``{"split", "images", "keypoints": PoseMetrics.to_dict()}``; ValidationError when the
    model is no pose model, its version has no skeleton or the split no frame."""
    from training import runtime  # Ultralytics: only when a model runs
    from training.ultralytics_setup import configure_offline

    configure_offline(Path(settings.VAR_DIR))
    preset = PRESETS.get(model.preset)
    if preset is None or preset.task != "pose":
        raise ValidationError({"model": f"Model #{model.pk} is not a pose model."})
    if model.dataset_version is None:
        raise ValidationError({"model": "The model's dataset version is gone."})
    manifest = dataset_version_manifest(version=model.dataset_version)
    skeleton = manifest.get("skeleton")
    if not skeleton:
        raise ValidationError({"model": "The model's dataset version has no skeleton."})
    names = skeleton["keypoints"]
    frames = [f for f in manifest["frames"] if f["split"] == split]
    if not frames:
        raise ValidationError({"split": f"The dataset version has no {split} frame."})
    empty = [[0.0, 0.0, 0]] * len(names)
    images = []
    with local_copy(model.weights.name) as weights:
        for frame in frames:
            with local_copy(frame["image"]) as path:
                (found,) = runtime.pose_predict(weights, [path], imgsz=model.imgsz, device=device)
            truths = [
                PoseAnimal((b["x"], b["y"], b["w"], b["h"]), b.get("keypoints") or empty)
                for b in frame["boxes"]
            ]
            predictions = [PoseAnimal(box, points, score) for box, points, score in found]
            images.append(PoseImage(truths, predictions, name=str(frame["frame_id"])))
    metrics = pose_metrics(images, names=names, sigmas=sigmas, pck_px=pck_px, pck_rel=pck_rel)
    return {"split": split, "images": len(images), "keypoints": metrics.to_dict()}
