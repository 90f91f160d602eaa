"""Keypoints in the dataset formats (pose). Pure module: no Django import.

A pose dataset has a :class:`~labeling.annotations.keypoints.SkeletonSpec`
(``Dataset.skeleton``) and each box's keypoints (``DatasetBox.keypoints``): ``[[x, y, v],
...]`` in skeleton order, original-image pixels, ``v`` as COCO (0 not labeled with x = y =
0, 1 occluded, 2 visible); ``[]`` when none is labeled. Points are snapped to 0.01 px as box
edges are, so every format's round trip gives them back exactly.

The helpers here encode and decode them for COCO (``categories[].keypoints``/``skeleton``,
1-based edges as COCO writes them; ``annotations[].keypoints`` flat x, y, v and
``num_keypoints``) and Ultralytics YOLO pose (``kpt_shape``, ``flip_idx``, ``kpt_names`` in
data.yaml; label rows ``cls cx cy w h x y v ...`` normalised to the image size).
"""

from __future__ import annotations

import math
import re

from labeling.annotations.keypoints import (
    EDGE_TOLERANCE_PX,
    VISIBILITIES,
    SkeletonError,
    SkeletonSpec,
    skeleton_from,
    skeleton_from_flip_idx,
)

from .base import COORD_DECIMALS, Dataset


def snapped(points: list, width: int, height: int) -> list:
    """Points clipped into the image (within the tolerance) and snapped; ``[]`` when none
    is labeled. Call after :func:`point_problems` found nothing."""
    out = []
    for x, y, v in points:
        if v == 0:
            out.append([0.0, 0.0, 0])
            continue
        x = round(min(max(float(x), 0.0), float(width)), COORD_DECIMALS)
        y = round(min(max(float(y), 0.0), float(height)), COORD_DECIMALS)
        out.append([x, y, int(v)])
    return out if any(p[2] for p in out) else []


def point_problems(points: list, count: int, width: int, height: int, where: str) -> list[str]:
    """Why ``points`` are not ``count`` valid keypoints inside a ``width`` x ``height`` image."""
    if not points:
        return []
    if len(points) != count:
        return [f"{where}: {len(points)} keypoints, the skeleton has {count}"]
    problems = []
    tol = EDGE_TOLERANCE_PX
    for i, point in enumerate(points):
        at = f"{where}: keypoint {i + 1}"
        if not isinstance(point, list | tuple) or len(point) != 3:
            problems.append(f"{at}: not [x, y, v]")
            continue
        x, y, v = point
        if isinstance(v, bool) or v not in VISIBILITIES or int(v) != v:
            problems.append(f"{at}: visibility {v!r} is not 0, 1 or 2")
            continue
        if v == 0:
            continue
        if not all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in (x, y)
        ):
            problems.append(f"{at}: coordinates are not finite numbers")
        elif not (-tol <= x <= width + tol and -tol <= y <= height + tol):
            problems.append(f"{at}: ({x:g}, {y:g}) is outside the {width}x{height} image")
    return problems


def pose_problems(dataset: Dataset) -> list[str]:
    """Keypoint problems of a whole dataset (none when it holds no keypoints)."""
    problems: list[str] = []
    skeleton = dataset.skeleton
    for image in dataset.images:
        for i, box in enumerate(image.boxes):
            if not box.keypoints:
                continue
            where = f"{image.file_name}: box {i + 1}"
            if skeleton is None:
                problems.append(f"{where}: keypoints without a skeleton")
                continue
            problems += point_problems(
                box.keypoints, len(skeleton.keypoints), image.width, image.height, where
            )
    return problems


_SIDES = (("left", "right"), ("Left", "Right"), ("L", "R"), ("l", "r"))


def guess_flip_pairs(names: list[str]) -> list[tuple[int, int]]:
    """Left/right pairs told by the names (``ear_left``/``ear_right``, ``earL``/``earR``,
    ``left_ear``/``right_ear``): COCO and SLEAP files carry no flip information, and a
    horizontal-flip augmentation that does not swap them teaches the model wrong sides."""
    index = {name: i for i, name in enumerate(names)}
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for i, name in enumerate(names):
        for left, right in _SIDES:
            # The side as a whole word (separated by _ - space) or a one-letter suffix.
            pattern = (
                rf"(?:(?<=^)|(?<=[_\- ])){left}(?=$|[_\- ])"
                if len(left) > 1
                else rf"(?<=[a-z0-9_]){left}$"
            )
            if not re.search(pattern, name):
                continue
            other = re.sub(pattern, right, name, count=1)
            j = index.get(other)
            if j is not None and j != i and i not in used and j not in used:
                pairs.append((i, j))
                used |= {i, j}
    return pairs


# --- COCO ----------------------------------------------------------------------------------
def coco_category_fields(skeleton: SkeletonSpec) -> dict:
    """``keypoints`` and ``skeleton`` (1-based, as COCO's person category) of a category."""
    return {
        "keypoints": list(skeleton.keypoints),
        "skeleton": [[a + 1, b + 1] for a, b in skeleton.edges],
    }


def coco_annotation_fields(points: list, count: int) -> dict:
    """``keypoints`` (flat x, y, v) and ``num_keypoints`` of an annotation; a box without
    keypoints writes ``count`` not-labeled points, as COCO does."""
    points = points or [[0.0, 0.0, 0]] * count
    flat: list[float | int] = []
    for x, y, v in points:
        flat += [x, y, int(v)]
    return {"keypoints": flat, "num_keypoints": sum(1 for p in points if p[2])}


def coco_skeleton(categories: list, problems: list[str]) -> SkeletonSpec | None:
    """The skeleton of the categories that declare ``keypoints`` (all must agree), or None."""
    found = [c for c in categories if isinstance(c, dict) and "keypoints" in c]
    if not found:
        return None
    first = found[0]
    for other in found[1:]:
        if other.get("keypoints") != first.get("keypoints"):
            problems.append("categories: categories declare different keypoints")
            return None
    names = first.get("keypoints")
    raw_edges = first.get("skeleton") or []
    if not isinstance(names, list) or not isinstance(raw_edges, list):
        problems.append("categories: keypoints and skeleton must be lists")
        return None
    edges = []
    for k, edge in enumerate(raw_edges):
        ok = isinstance(edge, list) and len(edge) == 2
        ok = ok and all(isinstance(e, int) and not isinstance(e, bool) for e in edge)
        if not ok or not all(1 <= e <= len(names) for e in edge):
            problems.append(
                f"categories: skeleton edge {k + 1} {edge!r} is not a pair of keypoint numbers "
                f"1..{len(names)}"
            )
            return None
        edges.append([edge[0] - 1, edge[1] - 1])
    return _skeleton(names, edges, None, "categories", problems)


def coco_points(annotation: dict, count: int, where: str, problems: list[str]) -> list:
    """An annotation's ``keypoints`` as ``[[x, y, v], ...]`` (unchecked values)."""
    flat = annotation.get("keypoints")
    if flat is None:
        return []
    if not isinstance(flat, list) or len(flat) != 3 * count:
        size = len(flat) if isinstance(flat, list) else "no list"
        problems.append(f"{where}: keypoints must be {3 * count} numbers (x, y, v), got {size}")
        return []
    return [list(flat[i : i + 3]) for i in range(0, len(flat), 3)]


# --- Ultralytics YOLO pose -----------------------------------------------------------------
def yolo_yaml_fields(skeleton: SkeletonSpec, class_count: int) -> dict:
    """data.yaml keys of a pose dataset. ``skeleton`` (edges) is ours: Ultralytics has no
    such key and ignores it; without it the drawing edges would not survive a round trip."""
    return {
        "kpt_shape": [len(skeleton.keypoints), 3],
        "flip_idx": skeleton.flip_idx,
        "kpt_names": {i: list(skeleton.keypoints) for i in range(max(class_count, 1))},
        "skeleton": [list(e) for e in skeleton.edges],
    }


def yolo_row_values(points: list, count: int, width: int, height: int, fmt) -> list[str]:
    """The ``x y v`` values appended to a label row (normalised; v = 0 -> ``0 0 0``)."""
    values: list[str] = []
    for x, y, v in points or [[0.0, 0.0, 0]] * count:
        if v:
            values += [fmt(x / width), fmt(y / height), str(int(v))]
        else:
            values += ["0", "0", "0"]
    return values


def yolo_skeleton(data: dict, problems: list[str]) -> SkeletonSpec | None:
    """The skeleton a data.yaml declares with ``kpt_shape``, or None (a detection set)."""
    shape = data.get("kpt_shape")
    if shape is None:
        return None
    ok = isinstance(shape, list) and len(shape) == 2
    ok = ok and all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
    if not ok or shape[0] < 1 or shape[1] not in (2, 3):
        problems.append(f"kpt_shape: {shape!r} is not [number of keypoints, 2 or 3]")
        return None
    count = shape[0]
    names = data.get("kpt_names")
    if isinstance(names, dict) and names:
        names = names.get(0, next(iter(names.values())))
    if names is None:
        names = [f"kp{i}" for i in range(count)]
    if not isinstance(names, list) or len(names) != count:
        problems.append(f"kpt_names: must list the {count} keypoints of kpt_shape")
        return None
    pairs = None
    flip_idx = data.get("flip_idx")
    if flip_idx is not None:
        try:
            pairs = skeleton_from_flip_idx(names, flip_idx if isinstance(flip_idx, list) else [])
        except ValueError as exc:
            problems.append(f"flip_idx: {exc}")
            return None
    return _skeleton(names, data.get("skeleton") or [], pairs, "data.yaml", problems)


def yolo_points(values: list[float], dims: int, width: int, height: int) -> list[list[float | int]]:
    """Keypoints of a label row's tail (normalised ``x y [v]`` per keypoint) in pixels;
    with 2 dims a point at (0, 0) is not labeled and any other visible, as Ultralytics
    reads them."""
    points = []
    for i in range(0, len(values), dims):
        x, y = values[i], values[i + 1]
        v = values[i + 2] if dims == 3 else (0 if x == 0 and y == 0 else 2)
        points.append([x * width, y * height, int(v) if float(v).is_integer() else v])
    return points


def _skeleton(names, edges, pairs, where: str, problems: list[str]) -> SkeletonSpec | None:
    try:
        spec = skeleton_from(keypoints=names, edges=edges, flip_pairs=pairs or [])
    except SkeletonError as exc:
        problems += [f"{where}: {field}: {reason}" for field, reason in exc.errors.items()]
        return None
    if pairs is None:
        spec = SkeletonSpec(spec.keypoints, spec.edges, tuple(guess_flip_pairs(spec.keypoints)))
    return spec
