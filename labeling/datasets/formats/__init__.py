"""Annotation formats: YOLO, COCO, Pascal VOC and CVAT for images, plus the dataset-version
manifest. Pure modules (no Django import); see :mod:`labeling.datasets.formats.base` for the shared
:class:`Dataset` model, the box convention and the read/write contract.

Each format module has ``write(dataset, out, image_source, *, link=False)`` (``out``: a folder
or an :class:`.outputs.ZipOutput`) and
``read(path, *, classes=None) -> (Dataset, resolver)``; :data:`FORMATS` maps a format name to
its module; :func:`detect_layout` (and :func:`detect_format`) guess the format and layout of
a folder, :data:`ACCEPTED_LAYOUTS` lists every layout the readers accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from . import coco, cvat, dlc, voc, yolo
from .base import SPLITS, Dataset, DatasetBox, DatasetImage, FormatError
from .files import path_problem

FORMATS: dict[str, ModuleType] = {"yolo": yolo, "coco": coco, "voc": voc, "cvat": cvat}
#: Formats written but not read (a pose export for DeepLabCut users).
EXPORT_ONLY_FORMATS: dict[str, ModuleType] = {"dlc": dlc}

#: The layouts each reader accepts, in words (an unknown layout's error lists them).
LAYOUTS_BY_FORMAT: dict[str, tuple[str, ...]] = {
    "yolo": (yolo.LAYOUT_YAML, yolo.LAYOUT_DARKNET, yolo.LAYOUT_FOLDERS),
    "coco": (coco.LAYOUT_COCO, coco.LAYOUT_MMDET, coco.LAYOUT_ROBOFLOW),
    "voc": (voc.LAYOUT,),
    "cvat": (cvat.LAYOUT_TASK, cvat.LAYOUT_PROJECT, cvat.LAYOUT_VIDEO),
}
ACCEPTED_LAYOUTS: tuple[str, ...] = tuple(n for names in LAYOUTS_BY_FORMAT.values() for n in names)


@dataclass(frozen=True)
class Layout:
    """What :func:`detect_layout` found: the format name and the layout in words. The reader
    names the exact layout it read in :attr:`Dataset.layout`."""

    fmt: str
    name: str


def detect_layout(path: Path) -> Layout | None:
    """The format and layout of the dataset folder ``path`` from its marker files, or None."""
    path = Path(path)
    if not path.is_dir():
        return None
    for fmt in ("cvat", "coco", "voc", "yolo"):
        name = FORMATS[fmt].detect(path)
        if name:
            return Layout(fmt, name)
    return None


def detect_format(path: Path) -> str | None:
    """The format name of the dataset folder ``path`` from its marker files, or None."""
    layout = detect_layout(path)
    return layout.fmt if layout else None


__all__ = [
    "ACCEPTED_LAYOUTS",
    "EXPORT_ONLY_FORMATS",
    "FORMATS",
    "LAYOUTS_BY_FORMAT",
    "Layout",
    "SPLITS",
    "Dataset",
    "DatasetBox",
    "DatasetImage",
    "FormatError",
    "detect_format",
    "detect_layout",
    "path_problem",
]
