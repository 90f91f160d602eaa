"""Checks of dataset contents: numbers, boxes, class names and whole datasets, and the end
of every read (:func:`finish_read`). Pure module: no Django import.

Boxes are in original-image pixels: ``(x, y)`` top-left corner, ``w``/``h`` > 0 (see
:mod:`.base` for the snapping and clipping conventions).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import replace
from pathlib import Path

from labeling.annotations.keypoints import SkeletonSpec

from .base import (
    COORD_DECIMALS,
    EDGE_TOLERANCE_PX,
    SPLIT_VALUES,
    Dataset,
    DatasetBox,
    DatasetImage,
    ImageResolver,
    Problems,
)
from .files import path_problem
from .pose import pose_problems, snapped

# ---------------------------------------------------------------------------------------------
# Numbers and boxes


def is_number(value: object) -> bool:
    """A finite int or float (bools are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def parse_number(text: str | None) -> float | None:
    """A finite float from text, or None."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_int(text: str | None) -> int | None:
    """A positive-or-zero integer from text such as ``"640"`` or ``"640.0"``, or None."""
    value = parse_number(text)
    if value is None or value != int(value) or value < 0:
        return None
    return int(value)


def snap(value: float) -> float:
    return round(value, COORD_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def box_from_edges(
    class_name: str,
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    width: int,
    height: int,
    where: str,
    problems: Problems,
    tolerance: float = EDGE_TOLERANCE_PX,
) -> DatasetBox | None:
    """A checked, clipped and snapped box from its edges in pixels, or None with a problem."""
    values = (x1, y1, x2, y2)
    if not all(is_number(v) for v in values):
        problems.add(f"{where}: coordinates are not finite numbers")
        return None
    if x2 <= x1 or y2 <= y1:
        problems.add(f"{where}: zero or negative size")
        return None
    if x1 < -tolerance or y1 < -tolerance or x2 > width + tolerance or y2 > height + tolerance:
        problems.add(
            f"{where}: outside the {width}x{height} image (x {x1:g}..{x2:g}, y {y1:g}..{y2:g})"
        )
        return None
    x1, y1 = snap(min(max(x1, 0.0), width)), snap(min(max(y1, 0.0), height))
    x2, y2 = snap(min(max(x2, 0.0), width)), snap(min(max(y2, 0.0), height))
    if x2 <= x1 or y2 <= y1:
        problems.add(f"{where}: zero size after clipping to the image")
        return None
    return DatasetBox(class_name, x1, y1, snap(x2 - x1), snap(y2 - y1))


# ---------------------------------------------------------------------------------------------
# Dataset validation


def class_name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return "is not a string"
    if not name.strip():
        return "is empty"
    if len(name) > 200:
        return "is too long"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        return "contains a control or invisible character"
    return None


def check_classes(classes: object, problems: Problems, label: str = "classes") -> list[str]:
    """Valid, unique class names (problems for the others)."""
    if not isinstance(classes, list):
        problems.add(f"{label}: not a list")
        return []
    seen: set[str] = set()
    for i, name in enumerate(classes):
        reason = class_name_problem(name)
        if reason:
            problems.add(f"{label}[{i}]: class name {reason}")
        elif name in seen:
            problems.add(f"{label}[{i}]: duplicate class name {name!r}")
        else:
            seen.add(name)
    return [c for c in classes if isinstance(c, str)]


def dataset_problems(dataset: Dataset, tolerance: float = EDGE_TOLERANCE_PX) -> Problems:
    """Everything wrong with ``dataset``: classes, names, sizes, splits and boxes."""
    problems = Problems()
    classes = set(check_classes(dataset.classes, problems))
    seen: set[str] = set()
    for image in dataset.images:
        name = image.file_name
        reason = path_problem(name)
        if reason:
            problems.add(f"image {name!r}: file name {reason}")
            continue
        if name in seen:
            problems.add(f"{name}: duplicate file name")
        seen.add(name)
        if not (is_positive_int(image.width) and is_positive_int(image.height)):
            problems.add(f"{name}: width and height must be positive integers")
            continue
        if image.split not in SPLIT_VALUES:
            problems.add(f"{name}: split {image.split!r} is not one of train, val, test or ''")
        if image.is_negative and image.boxes:
            problems.add(f"{name}: marked negative but has boxes")
        for i, box in enumerate(image.boxes):
            where = f"{name}: box {i + 1}"
            if box.class_name not in classes:
                problems.add(f"{where}: unknown class {box.class_name!r}")
            if not all(is_number(v) for v in (box.x, box.y, box.w, box.h)):
                problems.add(f"{where}: coordinates are not finite numbers")
                continue
            box_from_edges(
                box.class_name,
                box.x,
                box.y,
                box.x + box.w,
                box.y + box.h,
                image.width,
                image.height,
                where,
                problems,
                tolerance,
            )
    problems.extend(pose_problems(dataset))
    return problems


def validated(dataset: Dataset) -> Dataset:
    """A copy of ``dataset`` with boxes clipped to their images; FormatError if invalid."""
    dataset_problems(dataset).raise_if_any()
    images = []
    for image in dataset.images:
        boxes = []
        for box in image.boxes:
            x1, y1 = max(box.x, 0.0), max(box.y, 0.0)
            x2 = min(box.x + box.w, float(image.width))
            y2 = min(box.y + box.h, float(image.height))
            points = snapped(box.keypoints, image.width, image.height)
            boxes.append(DatasetBox(box.class_name, x1, y1, x2 - x1, y2 - y1, points))
        images.append(replace(image, boxes=boxes, is_negative=not boxes))
    return Dataset(classes=list(dataset.classes), images=images, skeleton=dataset.skeleton)


def finish_read(
    file_classes: list[str],
    images: list[DatasetImage],
    imposed: list[str] | None,
    problems: Problems,
    skeleton: SkeletonSpec | None = None,
) -> Dataset:
    """Apply an imposed class list, check duplicates, sort, raise if anything was wrong.
    With a ``skeleton`` (pose), the boxes' keypoints are checked and snapped too."""
    classes = list(file_classes)
    if imposed is not None:
        classes = check_classes(list(imposed), problems, "imposed classes")
        allowed = set(classes)
        for image in images:
            for i, box in enumerate(image.boxes):
                if box.class_name not in allowed:
                    problems.add(
                        f"{image.file_name}: box {i + 1}: class {box.class_name!r} "
                        "is not one of the project's classes"
                    )
    seen: set[str] = set()
    for image in images:
        if image.file_name in seen:
            problems.add(f"{image.file_name}: listed more than once")
        seen.add(image.file_name)
        image.is_negative = not image.boxes and not image.unlabeled
    dataset = Dataset(classes=classes, images=images, skeleton=skeleton)
    problems.extend(pose_problems(dataset))
    problems.raise_if_any()
    for image in images:
        for box in image.boxes:
            box.keypoints = snapped(box.keypoints, image.width, image.height)
    images.sort(key=lambda im: im.file_name)
    return dataset


def make_resolver(paths: dict[str, Path]) -> ImageResolver:
    """A resolver for the images read: ``resolver(image) -> Path`` (KeyError if unknown)."""
    table = dict(paths)

    def resolve(image: DatasetImage) -> Path:
        return table[image.file_name]

    return resolve
