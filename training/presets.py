"""Model presets and training hyperparameters (pure: no Django, no Ultralytics import).

A preset names an Ultralytics model YAML (the architecture, trained from scratch) and the
hyperparameters a job starts from. ``TrainingJob.preset`` stores a key of ``PRESETS`` and
``TrainingJob.hyperparameters`` stores ``Hyperparameters.to_dict()``.

The two YOLOv3 presets reproduce the seed paper (Peixoto et al., YOLOv3 Full and Tiny). They
use Ultralytics' anchor-free "u" variants of the Darknet architectures (``yolov3u``,
``yolov3-tinyu``): Ultralytics cannot train the original anchor-based heads. Their SGD momentum
and weight decay are the paper's Darknet values (0.9, 5e-4) and their input size is Darknet's
YOLOv3 416x416.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

# 'auto' = first GPU if there is one, else CPU. Only one device: multi-GPU (DDP) training runs
# in child processes, where the epoch callbacks and cancellation of training.trainer can't reach.
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|\d{1,2})$")


class HyperparameterError(ValueError):
    """Invalid hyperparameters; ``errors`` maps each bad field name to the reason."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in self.errors.items()))


@dataclass(frozen=True)
class Hyperparameters:
    """What a user may set for one training run.

    ``augment`` switches Ultralytics' training augmentations (mosaic, HSV jitter, translate,
    scale, horizontal flip) on or off as a whole; ``training.trainer`` maps it to Ultralytics
    arguments. The optimizer is always SGD: Ultralytics' ``optimizer=auto`` would silently
    replace ``lr0`` and ``momentum``.
    """

    epochs: int = 100
    imgsz: int = 640  # square network input in pixels, a multiple of 32
    batch: int = 16
    lr0: float = 0.01  # initial SGD learning rate (Ultralytics' SGD default)
    momentum: float = 0.9  # seed paper (Darknet)
    weight_decay: float = 5e-4  # seed paper (Darknet)
    patience: int = 50  # epochs without validation improvement before stopping; 0 = never
    seed: int = 0
    augment: bool = True
    # Decoded training images kept in RAM across epochs when they fit (Ultralytics measures
    # the need against free memory and reads from disk otherwise): on a CPU worker every
    # epoch otherwise decodes each JPEG again.
    cache_images: bool = True
    device: str = "auto"  # 'auto' | 'cpu' | 'mps' | a CUDA index such as '0'
    workers: int = 4  # dataloader processes; Ultralytics uses 0 on CPU anyway

    def validate(self) -> Hyperparameters:
        """Return ``self`` if every field is valid, else raise ``HyperparameterError``.

        The error names every bad field, e.g. ``"epochs: must be an integer from 1 to 10000"``.
        """
        errors: dict[str, str] = {}

        def check_int(name: str, low: int, high: int) -> None:
            value = getattr(self, name)
            # bool is an int subclass: reject it, True epochs is a caller bug.
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = f"must be an integer from {low} to {high}"

        def check_float(name: str, low: float, high: float, *, low_open: bool) -> None:
            value = getattr(self, name)
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
                and (low < value if low_open else low <= value)
                and value < high
            )
            if not ok:
                interval = f"{'(' if low_open else '['}{low}, {high})"
                errors[name] = f"must be a number in {interval}"

        check_int("epochs", 1, 10_000)
        check_int("imgsz", 32, 2048)
        if "imgsz" not in errors and self.imgsz % 32:
            errors["imgsz"] = "must be a multiple of 32 (the largest network stride)"
        check_int("batch", 1, 1024)
        check_float("lr0", 0.0, 1.0, low_open=True)
        check_float("momentum", 0.0, 1.0, low_open=False)
        check_float("weight_decay", 0.0, 1.0, low_open=False)
        check_int("patience", 0, 10_000)
        check_int("seed", 0, 2**31 - 1)
        if not isinstance(self.augment, bool):
            errors["augment"] = "must be true or false"
        if not isinstance(self.cache_images, bool):
            errors["cache_images"] = "must be true or false"
        if not isinstance(self.device, str) or not _DEVICE_RE.match(self.device):
            errors["device"] = (
                "must be 'auto', 'cpu', 'mps' or one GPU index such as '0' "
                "(multi-GPU training is not supported)"
            )
        check_int("workers", 0, 32)
        if errors:
            raise HyperparameterError(errors)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (for ``TrainingJob.hyperparameters``)."""
        return asdict(self)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, base: Hyperparameters | None = None
    ) -> Hyperparameters:
        """Build and validate from user input; missing keys come from ``base`` (or the defaults).

        Unknown keys raise ``HyperparameterError`` rather than being dropped, so a typo such as
        ``"epoch"`` is reported instead of silently training with the default.
        """
        if not isinstance(data, dict):
            raise HyperparameterError({"hyperparameters": "must be an object"})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise HyperparameterError({name: "unknown hyperparameter" for name in unknown})
        return replace(base or cls(), **data).validate()


#: What a user may set for a run (the fields of :class:`Hyperparameters`, in order).
HYPERPARAMETER_FIELDS = tuple(f.name for f in fields(Hyperparameters))


@dataclass(frozen=True)
class Preset:
    """One choice in the "new training" form.

    ``model_yaml`` is an Ultralytics model YAML name (resolved inside the installed package); the
    scale letter in it (``yolo11n``, ``yolo11s``) picks the width/depth of the family's YAML.
    """

    key: str
    label: str
    model_yaml: str
    description: str  # one line: speed versus accuracy
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    paper: bool = False  # one of the seed paper's two models
    min_stride: int = 8  # the finest detection level's stride in network pixels (P3/8)
    task: str = "detect"  # "detect" (boxes) or "pose" (boxes + keypoints: needs a skeleton)


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset(
            key="yolov3-tiny",
            label="YOLOv3 Tiny (paper)",
            model_yaml="yolov3-tinyu.yaml",
            description="Fastest of the paper's two models, about 12M parameters; slightly less "
            "accurate on small or partly hidden animals.",
            hyperparameters=Hyperparameters(imgsz=416, batch=16),
            paper=True,
            min_stride=16,  # YOLOv3-tiny detects on P4/16 and P5/32 only
        ),
        Preset(
            key="yolov3",
            label="YOLOv3 Full (paper)",
            model_yaml="yolov3u.yaml",
            description="The paper's full model, about 100M parameters: accurate but several "
            "times slower to train and run than the others; wants a GPU.",
            hyperparameters=Hyperparameters(imgsz=416, batch=8),
            paper=True,
        ),
        Preset(
            key="yolo11n",
            label="YOLO11 nano",
            model_yaml="yolo11n.yaml",
            description="Very fast, about 2.6M parameters; good accuracy for one clearly visible "
            "animal, usable on a CPU.",
        ),
        Preset(
            key="yolo11s",
            label="YOLO11 small",
            model_yaml="yolo11s.yaml",
            description="Fast, about 9.5M parameters; more accurate than nano for several or "
            "occluded animals.",
        ),
        Preset(
            key="yolo26n",
            label="YOLO26 nano",
            model_yaml="yolo26n.yaml",
            description="Newest family, about 2.6M parameters, NMS-free; as fast as YOLO11 nano "
            "and a little more accurate.",
        ),
        # Pose: the same machinery, Ultralytics' Pose head (boxes + keypoints), from YAML.
        Preset(
            key="yolo11n-pose",
            label="YOLO11 nano pose",
            model_yaml="yolo11n-pose.yaml",
            description="Boxes and keypoints, about 2.9M parameters; usable on a CPU.",
            task="pose",
        ),
        Preset(
            key="yolov8n-pose",
            label="YOLOv8 nano pose",
            model_yaml="yolov8n-pose.yaml",
            description="Boxes and keypoints, about 3.3M parameters; the model most pose "
            "tutorials use.",
            task="pose",
        ),
        Preset(
            key="yolov3-tiny-pose",
            label="YOLOv3 Tiny pose",
            # Ours (Ultralytics ships no tiny pose YAML): the Tiny preset with a Pose head,
            # in training/model_yamls/ (see MODEL_YAML_DIR).
            model_yaml="yolov3-tinyu-pose.yaml",
            description="The paper's fast model with a keypoint head; coarser points (its "
            "finest grid is 16 px).",
            hyperparameters=Hyperparameters(imgsz=416, batch=16),
            min_stride=16,
            task="pose",
        ),
    )
}
# The form starts on the paper's fast model (Tiny), the one its results are compared with.
DEFAULT_PRESET = "yolov3-tiny"
#: Model YAMLs of ours (looked up before Ultralytics' own by checkpoints.resolve_model_yaml).
MODEL_YAML_DIR = Path(__file__).with_name("model_yamls")
#: ``manage.py train --task pose`` without ``--preset``.
DEFAULT_POSE_PRESET = "yolo11n-pose"
TASKS = ("detect", "pose")


# Why a preset cannot learn at some image sizes (Ultralytics' TaskAlignedAssigner, measured
# with Ultralytics 8.4): a new head predicts every box about 15 strides wide (DFL's 16 bins
# start uniform, so each side is ~7.5 strides). The assigner weights an object's box and
# DFL losses by target = align * max_IoU / (max_align + 1e-9), with align = score^0.5 *
# CIoU^6 and CIoU clamped at 0. An object much smaller than the finest stride overlaps
# those huge boxes so little that CIoU (with its centre and aspect penalties) is <= 0, or
# CIoU^6 sits far below the 1e-9: the target is ~0, so box and DFL losses stay ~0.000 and
# the boxes never start shrinking (all of a mouse dataset's objects are the same size, so
# no larger object pulls the shared head along). Tiny at 160 px: a 60x30 px mouse of a
# 640x480 frame becomes 15x7.5 px (~11 px across) against a finest stride of 16 and never
# trained; YOLO11n (stride 8) at 160 and Tiny at 320 (~21 px) did. Hence: the median box,
# at the network's scale, must be at least as wide as the preset's finest stride.
MIN_OBJECT_TO_STRIDE = 1.0


def imgsz_problem(
    *, preset: Preset, imgsz: int, boxes: list[tuple[float, float, int, int]]
) -> str | None:
    """Why ``preset`` cannot learn ``boxes`` at ``imgsz``, or None.

    ``boxes``: (box w, box h, image width, image height) in original-image pixels. Ultralytics
    letterboxes the long side of each image to ``imgsz``.
    """
    sides = sorted(
        math.sqrt(max(w, 0.0) * max(h, 0.0)) * imgsz / max(iw, ih, 1) for w, h, iw, ih in boxes
    )
    if not sides:
        return None
    median = sides[len(sides) // 2]
    needed = preset.min_stride * MIN_OBJECT_TO_STRIDE
    if median >= needed:
        return None
    fit = min(2048, 32 * math.ceil(imgsz * needed / max(median, 1e-6) / 32))
    return (
        f"At {imgsz} px the boxes of this dataset are about {median:.0f} px across (median), "
        f"smaller than {preset.label}'s finest detection grid of {preset.min_stride} px: it "
        f"cannot learn their boxes (box and DFL losses stay at 0). Use an image size of at "
        f"least {fit} px, or a preset with a finer grid (YOLO11 nano)."
    )


def preset_get(key: str) -> Preset:
    """Return the preset or raise ``KeyError`` with the valid keys in the message."""
    try:
        return PRESETS[key]
    except KeyError:
        raise KeyError(f"Unknown preset {key!r}; choose one of {', '.join(PRESETS)}") from None
