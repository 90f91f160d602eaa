"""Reading COCO detection files for :mod:`evaluation.metrics` (pure: no Django import).

Ground truth is a COCO "instances" object::

    {"images": [{"id": 1, ...}], "categories": [{"id": 1, "name": "mouse"}],
     "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [x, y, w, h]}]}

Detections are a COCO results list::

    [{"image_id": 1, "category_id": 1, "bbox": [x, y, w, h], "score": 0.93}]

``bbox`` is (x, y) top-left corner and (w, h) size in original-image pixels, as everywhere in
this project. Categories become class indices 0..C-1 in ascending id order, and images are
kept in ascending id order, as pycocotools orders them (it matters for score ties).
Anything malformed raises :class:`CocoFormatError` naming the file part at fault.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.metrics import DetectionBox, GroundTruthBox, ImageId


class CocoFormatError(ValueError):
    """A COCO file that cannot be evaluated; the message says where and why."""


@dataclass(frozen=True)
class CocoGroundTruth:
    """Parsed ground truth: boxes per image (every image listed, even without boxes)."""

    boxes: dict[ImageId, list[GroundTruthBox]]
    category_ids: tuple[int, ...]  # class index -> COCO category id
    class_names: tuple[str, ...]  # class index -> category name


def read_json(path: str | Path, *, label: str) -> Any:
    """Load a JSON file; ``label`` ("ground truth", "detections") goes into error messages."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CocoFormatError(f"{label} file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CocoFormatError(f"cannot read {label} file {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CocoFormatError(
            f"{label} file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})"
        ) from None


def parse_ground_truth(data: Any) -> CocoGroundTruth:
    """Validate a COCO instances object and convert it; crowd annotations are rejected
    because the metrics do not implement COCO's crowd-region ignore rule."""
    if not isinstance(data, dict):
        raise CocoFormatError(f"ground truth: expected a JSON object, got {_kind(data)}")
    images = _list_field(data, "images", "ground truth")
    categories = _list_field(data, "categories", "ground truth")
    annotations = _list_field(data, "annotations", "ground truth")

    image_ids: set[ImageId] = set()
    for i, image in enumerate(images):
        where = f"ground truth images[{i}]"
        image_id = _id(_field(image, "id", where), f"{where}.id")
        if image_id in image_ids:
            raise CocoFormatError(f"{where}: duplicate image id {image_id!r}")
        image_ids.add(image_id)

    names: dict[int, str] = {}
    for i, category in enumerate(categories):
        where = f"ground truth categories[{i}]"
        category_id = _int_id(_field(category, "id", where), f"{where}.id")
        if category_id in names:
            raise CocoFormatError(f"{where}: duplicate category id {category_id}")
        name = category.get("name", str(category_id))
        names[category_id] = str(name)
    category_ids = tuple(sorted(names))

    boxes: dict[ImageId, list[GroundTruthBox]] = {
        image_id: [] for image_id in sorted(image_ids, key=_sort_key)
    }
    for i, ann in enumerate(annotations):
        where = f"ground truth annotations[{i}]"
        image_id = _known_image(_field(ann, "image_id", where), image_ids, where)
        class_index = _known_category(_field(ann, "category_id", where), category_ids, where)
        if ann.get("iscrowd", 0):
            raise CocoFormatError(f"{where}: crowd annotations (iscrowd=1) are not supported")
        x, y, w, h = _bbox(_field(ann, "bbox", where), where)
        boxes[image_id].append(GroundTruthBox(class_index, x, y, w, h))
    return CocoGroundTruth(
        boxes=boxes,
        category_ids=category_ids,
        class_names=tuple(names[c] for c in category_ids),
    )


def parse_detections(data: Any, ground_truth: CocoGroundTruth) -> dict[ImageId, list[DetectionBox]]:
    """Validate a COCO results list against the ground truth and group it by image.

    Within an image, detections keep their order in the file (pycocotools breaks score ties
    that way).
    """
    if not isinstance(data, list):
        raise CocoFormatError(f"detections: expected a JSON list of results, got {_kind(data)}")
    image_ids = set(ground_truth.boxes)
    out: dict[ImageId, list[DetectionBox]] = {}
    for i, det in enumerate(data):
        where = f"detections[{i}]"
        image_id = _known_image(_field(det, "image_id", where), image_ids, where)
        class_index = _known_category(
            _field(det, "category_id", where), ground_truth.category_ids, where
        )
        x, y, w, h = _bbox(_field(det, "bbox", where), where)
        score = _number(_field(det, "score", where), f"{where}.score")
        out.setdefault(image_id, []).append(DetectionBox(class_index, x, y, w, h, score))
    return out


def load_coco_pair(
    ground_truth_path: str | Path, detections_path: str | Path
) -> tuple[CocoGroundTruth, dict[ImageId, list[DetectionBox]]]:
    """Read and parse a ground-truth file and a results file."""
    ground_truth = parse_ground_truth(read_json(ground_truth_path, label="ground truth"))
    detections = parse_detections(read_json(detections_path, label="detections"), ground_truth)
    return ground_truth, detections


# --- validation helpers ------------------------------------------------------------------
def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _list_field(data: dict, key: str, where: str) -> list:
    if key not in data:
        raise CocoFormatError(f"{where}: missing '{key}' list")
    value = data[key]
    if not isinstance(value, list):
        raise CocoFormatError(f"{where}: '{key}' must be a list, got {_kind(value)}")
    return value


def _field(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise CocoFormatError(f"{where}: expected an object, got {_kind(obj)}")
    if key not in obj:
        raise CocoFormatError(f"{where}: missing '{key}'")
    return obj[key]


def _id(value: Any, where: str) -> ImageId:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise CocoFormatError(f"{where}: expected an integer or string id, got {value!r}")
    return value


def _int_id(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CocoFormatError(f"{where}: expected an integer id, got {value!r}")
    return value


def _index_of(category_ids: tuple[int, ...], category_id: Any) -> int | None:
    if isinstance(category_id, bool) or not isinstance(category_id, int):
        return None
    try:
        return category_ids.index(category_id)
    except ValueError:
        return None


def _known_image(value: Any, image_ids: set[ImageId], where: str) -> ImageId:
    image_id = _id(value, f"{where}.image_id")
    if image_id not in image_ids:
        raise CocoFormatError(f"{where}: image_id {image_id!r} is not in the ground truth")
    return image_id


def _known_category(value: Any, category_ids: tuple[int, ...], where: str) -> int:
    index = _index_of(category_ids, _int_id(value, f"{where}.category_id"))
    if index is None:
        raise CocoFormatError(
            f"{where}: category_id {value!r} is not in the ground truth categories"
        )
    return index


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CocoFormatError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _bbox(value: Any, where: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list) or len(value) != 4:
        raise CocoFormatError(f"{where}.bbox: expected [x, y, w, h], got {value!r}")
    x, y, w, h = (_number(v, f"{where}.bbox") for v in value)
    if w < 0 or h < 0:
        raise CocoFormatError(f"{where}.bbox: negative width or height in {value!r}")
    return x, y, w, h


def _sort_key(image_id: ImageId) -> tuple[int, Any]:
    # Integer ids sort numerically (pycocotools' order); string ids after them.
    return (0, image_id) if isinstance(image_id, int) else (1, str(image_id))
