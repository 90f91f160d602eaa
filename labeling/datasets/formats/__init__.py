"""Annotation formats: YOLO, COCO, Pascal VOC and CVAT for images, plus the dataset-version
manifest. Pure modules (no Django import); see :mod:`labeling.datasets.formats.base` for the shared
:class:`Dataset` model, the box convention and the read/write contract.

Each format module has ``write(dataset, out_dir, image_source, *, link=False)`` and
``read(path, *, classes=None) -> (Dataset, resolver)``; :data:`FORMATS` maps a format name to
its module and :func:`detect_format` guesses the format of a folder.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from . import coco, cvat, voc, yolo
from .base import SPLITS, Dataset, DatasetBox, DatasetImage, FormatError
from .files import path_problem

FORMATS: dict[str, ModuleType] = {"yolo": yolo, "coco": coco, "voc": voc, "cvat": cvat}


def detect_format(path: Path) -> str | None:
    """The format name of the dataset folder ``path`` from its marker files, or None."""
    path = Path(path)
    if not path.is_dir():
        return None
    if (path / cvat.XML_NAME).is_file():
        return "cvat"
    if (path / coco.ANNOTATIONS_DIR).is_dir() and any(
        (path / coco.ANNOTATIONS_DIR).glob("instances_*.json")
    ):
        return "coco"
    if (path / voc.ANNOTATIONS_DIR).is_dir():
        return "voc"
    if (path / yolo.YAML_NAME).is_file() or any(path.glob("*.yaml")) or any(path.glob("*.yml")):
        return "yolo"
    return None


__all__ = [
    "FORMATS",
    "SPLITS",
    "Dataset",
    "DatasetBox",
    "DatasetImage",
    "FormatError",
    "detect_format",
    "path_problem",
]
