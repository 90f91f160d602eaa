"""The dataset-version manifest: the frozen list of frames, boxes and splits training uses.

::

    {"classes": ["mouse", ...],                      # class names; list index = class_index
     "frames": [{"frame_id": 12,                     # int or str, unique
                 "image": "frames/3/000120.jpg",      # relative posix path (media storage)
                 "width": 640, "height": 480,        # original image pixels
                 "split": "train",                   # "train" | "val" | "test" | ""
                 "video_id": 3,                      # frame source; int, str or null
                 "boxes": [{"class_index": 0, "x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0}]}]}

A pose project's manifest also holds ``"skeleton": {"keypoints": [...], "edges": [[i, j]],
"flip_pairs": [[i, j]]}`` and, on each box that has them, ``"keypoints": [[x, y, v], ...]``
(see :mod:`.pose`); a boxes-only manifest has neither, so its hash is what it was.

Boxes are in original-image pixels, (x, y) the top-left corner; a frame without boxes is a
labeled negative. Extra keys are allowed and hashed.

:func:`manifest_hash` is the sha256 of :func:`manifest_canonical_json`: keys sorted, no
whitespace, UTF-8, integral floats written as integers (``10.0`` and ``10`` hash alike), and
frames and each frame's boxes in a canonical order, since a manifest is a set of frames: the
same content hashes the same however it was assembled.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from labeling.annotations.keypoints import SkeletonError, SkeletonSpec, skeleton_from

from .base import SPLIT_VALUES, Dataset, DatasetBox, DatasetImage, FormatError, Problems
from .checks import check_classes, dataset_problems, is_number, is_positive_int
from .files import path_problem
from .pose import point_problems


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("manifest contains a non-finite number")
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("manifest keys must be strings")
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    raise ValueError(f"manifest contains a {type(value).__name__}, not JSON data")


def _dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def manifest_canonical_json(manifest: dict) -> str:
    """Canonical JSON text of ``manifest`` (see the module docstring); ValueError if not JSON."""
    data = _canonical(manifest)
    frames = data.get("frames") if isinstance(data, dict) else None
    if isinstance(frames, list):
        for frame in frames:
            if isinstance(frame, dict) and isinstance(frame.get("boxes"), list):
                frame["boxes"] = sorted(frame["boxes"], key=_dumps)
        data["frames"] = sorted(frames, key=_dumps)
    return _dumps(data)


def manifest_hash(manifest: dict) -> str:
    """sha256 hex digest of the canonical JSON of ``manifest``."""
    return hashlib.sha256(manifest_canonical_json(manifest).encode("utf-8")).hexdigest()


def _is_id(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def manifest_to_dataset(manifest: dict) -> Dataset:
    """The :class:`Dataset` of a manifest, for any format writer; FormatError if invalid.

    Each image's ``file_name`` is the frame's ``image`` path, so a writer's ``image_source``
    is ``lambda image: media_root / image.file_name``.
    """
    problems = Problems()
    if not isinstance(manifest, dict):
        raise FormatError(["manifest: not an object"])
    classes = check_classes(manifest.get("classes"), problems)
    skeleton = _manifest_skeleton(manifest.get("skeleton"), problems)
    count = len(skeleton.keypoints) if skeleton else 0
    frames = manifest.get("frames")
    if not isinstance(frames, list):
        problems.add("frames: not a list")
        problems.raise_if_any()
    images: list[DatasetImage] = []
    ids: set[object] = set()
    for n, frame in enumerate(frames):
        where = f"frames[{n}]"
        if not isinstance(frame, dict):
            problems.add(f"{where}: not an object")
            continue
        frame_id = frame.get("frame_id")
        if not _is_id(frame_id):
            problems.add(f"{where}: frame_id must be an integer or a string")
        elif frame_id in ids:
            problems.add(f"{where}: duplicate frame_id {frame_id!r}")
        ids.add(frame_id if _is_id(frame_id) else None)
        video_id = frame.get("video_id")
        if video_id is not None and not _is_id(video_id):
            problems.add(f"{where}: video_id must be an integer, a string or null")
        image_name = frame.get("image")
        reason = path_problem(image_name)
        if reason:
            problems.add(f"{where}: image {reason}")
            continue
        width, height = frame.get("width"), frame.get("height")
        if not (is_positive_int(width) and is_positive_int(height)):
            problems.add(f"{where}: width and height must be positive integers")
            continue
        split = frame.get("split", "")
        if split not in SPLIT_VALUES:
            problems.add(f"{where}: split {split!r} is not one of train, val, test or ''")
            continue
        boxes = frame.get("boxes", [])
        if not isinstance(boxes, list):
            problems.add(f"{where}: boxes is not a list")
            continue
        image = DatasetImage(image_name, width, height, split)
        for i, box in enumerate(boxes):
            at = f"{where}: boxes[{i}]"
            if not isinstance(box, dict):
                problems.add(f"{at}: not an object")
                continue
            index = box.get("class_index")
            if not (isinstance(index, int) and not isinstance(index, bool)) or not (
                0 <= index < len(classes)
            ):
                problems.add(f"{at}: class_index {index!r} is not an index into classes")
                continue
            coords = [box.get(k) for k in ("x", "y", "w", "h")]
            if not all(is_number(v) for v in coords):
                problems.add(f"{at}: x, y, w and h must be finite numbers")
                continue
            points = box.get("keypoints", [])
            found = point_problems(points, count, width, height, at) if skeleton else []
            if points and not skeleton:
                found = [f"{at}: keypoints without a skeleton"]
            if found:
                problems.extend(found)
                continue
            image.boxes.append(
                DatasetBox(classes[index], *(float(v) for v in coords), [list(p) for p in points])
            )
        image.is_negative = not image.boxes
        images.append(image)
    problems.raise_if_any()
    dataset = Dataset(classes=list(classes), images=images, skeleton=skeleton)
    # Geometry and duplicate image paths: the same checks every writer applies.
    dataset_problems(dataset).raise_if_any()
    return dataset


def _manifest_skeleton(raw: object, problems: Problems) -> SkeletonSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add("skeleton: not an object")
        return None
    try:
        return skeleton_from(
            keypoints=raw.get("keypoints"),
            edges=raw.get("edges", []),
            flip_pairs=raw.get("flip_pairs", []),
        )
    except SkeletonError as exc:
        problems.extend(f"skeleton: {field}: {reason}" for field, reason in exc.errors.items())
        return None
