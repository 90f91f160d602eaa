"""Skeletons and keypoints (pose). Pure module: no Django import.

A project's skeleton names its keypoints in a fixed order (``["snout", "ear_left",
"ear_right", "tail_base"]``), the edges drawn between them (pairs of indices) and the
left/right pairs that a horizontal flip swaps (Ultralytics' ``flip_idx``).

An animal's keypoints belong to its box: a list in skeleton order of ``[x, y, v]``, x and y
in original-image pixels (origin at the image's top-left, x right, y down), ``v`` the
visibility as COCO defines it: 0 not labeled (x = y = 0), 1 labeled but occluded, 2 visible.
An empty list means the box has no keypoints labeled (a boxes-only label).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geometry import COORD_DECIMALS

#: COCO's visibility flags.
NOT_LABELED, OCCLUDED, VISIBLE = 0, 1, 2
VISIBILITIES = (NOT_LABELED, OCCLUDED, VISIBLE)
MAX_KEYPOINTS = 64
MAX_KEYPOINT_NAME_CHARS = 64
#: A point may sit this far outside the image (float noise of other tools); it is clipped.
EDGE_TOLERANCE_PX = 0.5


@dataclass(frozen=True)
class SkeletonSpec:
    """Keypoint names in order, drawing edges and left/right pairs (index pairs)."""

    keypoints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...] = ()
    flip_pairs: tuple[tuple[int, int], ...] = ()

    @property
    def flip_idx(self) -> list[int]:
        """Ultralytics' ``flip_idx``: the index each keypoint becomes after a left-right
        flip (itself when it has no pair)."""
        out = list(range(len(self.keypoints)))
        for a, b in self.flip_pairs:
            out[a], out[b] = b, a
        return out

    def to_dict(self) -> dict:
        return {
            "keypoints": list(self.keypoints),
            "edges": [list(e) for e in self.edges],
            "flip_pairs": [list(p) for p in self.flip_pairs],
        }


class SkeletonError(ValueError):
    """An invalid skeleton; ``errors`` maps a field (``"edges[2]"``) to the reason."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def _pairs(raw, *, field: str, count: int, names: list[str], errors: dict[str, str]) -> list:
    """Index pairs from ``[[i, j], ...]`` or ``[["snout", "tail_base"], ...]``."""
    if not isinstance(raw, list | tuple):
        errors[field] = "Must be a list of pairs."
        return []
    out: list[tuple[int, int]] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            errors[f"{field}[{i}]"] = "Must be a pair of two keypoints."
            continue
        ends = []
        for end in pair:
            if isinstance(end, str) and end in names:
                ends.append(names.index(end))
            elif isinstance(end, int) and not isinstance(end, bool) and 0 <= end < count:
                ends.append(end)
            else:
                errors[f"{field}[{i}]"] = f"{end!r} is not a keypoint of this skeleton."
                break
        else:
            if ends[0] == ends[1]:
                errors[f"{field}[{i}]"] = "A pair needs two different keypoints."
            else:
                out.append((ends[0], ends[1]))
    return out


def skeleton_from(*, keypoints, edges=(), flip_pairs=()) -> SkeletonSpec:
    """A validated :class:`SkeletonSpec`; edges and pairs may name keypoints or give their
    indices. Raises :class:`SkeletonError` naming every bad field."""
    errors: dict[str, str] = {}
    names: list[str] = []
    if not isinstance(keypoints, list | tuple) or not keypoints:
        raise SkeletonError({"keypoints": "Give at least one keypoint name."})
    if len(keypoints) > MAX_KEYPOINTS:
        raise SkeletonError({"keypoints": f"At most {MAX_KEYPOINTS} keypoints."})
    seen: set[str] = set()
    for i, name in enumerate(keypoints):
        if not isinstance(name, str) or not name.strip():
            errors[f"keypoints[{i}]"] = "A keypoint needs a name."
            continue
        name = name.strip()
        if len(name) > MAX_KEYPOINT_NAME_CHARS or any(c in name for c in ",\t\n\r"):
            errors[f"keypoints[{i}]"] = (
                f"1 to {MAX_KEYPOINT_NAME_CHARS} characters, no commas, tabs or line breaks "
                "(the names become CSV columns)."
            )
        if name.casefold() in seen:
            errors[f"keypoints[{i}]"] = f"{name!r} is listed twice."
        seen.add(name.casefold())
        names.append(name)
    if errors:
        raise SkeletonError(errors)
    edge_list = _pairs(edges, field="edges", count=len(names), names=names, errors=errors)
    pair_list = _pairs(flip_pairs, field="flip_pairs", count=len(names), names=names, errors=errors)
    used: dict[int, int] = {}
    for i, (a, b) in enumerate(pair_list):
        for end in (a, b):
            if end in used:
                errors[f"flip_pairs[{i}]"] = f"{names[end]!r} is already in pair {used[end]}."
            used[end] = i
    if errors:
        raise SkeletonError(errors)
    unique_edges = list(dict.fromkeys(tuple(sorted(e)) for e in edge_list))
    return SkeletonSpec(tuple(names), tuple(unique_edges), tuple(pair_list))


def skeleton_from_flip_idx(names: list[str], flip_idx: list[int]) -> list[tuple[int, int]]:
    """Left/right pairs from an Ultralytics ``flip_idx``; ValueError if it is no involution."""
    if len(flip_idx) != len(names):
        raise ValueError(f"flip_idx has {len(flip_idx)} entries for {len(names)} keypoints")
    pairs = []
    for i, j in enumerate(flip_idx):
        if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < len(names):
            raise ValueError(f"flip_idx[{i}] = {j!r} is not a keypoint index")
        if flip_idx[j] != i:
            raise ValueError(f"flip_idx swaps {i} -> {j} but {j} -> {flip_idx[j]}")
        if i < j:
            pairs.append((i, j))
    return pairs


def skeleton_change_problems(
    *, old: SkeletonSpec | None, new: SkeletonSpec | None, labeled: set[int]
) -> dict[str, str]:
    """Why replacing ``old`` by ``new`` would lose or misplace labels, by field.

    Keypoints are stored by position, so a keypoint that has labels (an index in
    ``labeled``) must stay at its position: it may be renamed (a typo fixed) but not
    removed or moved; keypoints without labels may change freely and new ones are added at
    the end. ``new`` None removes the skeleton (only when nothing is labeled).
    """
    if not labeled or old is None:
        return {}
    if new is None:
        names = ", ".join(old.keypoints[i] for i in sorted(labeled))
        return {"keypoints": f"Keypoints are labeled ({names}): the skeleton cannot be removed."}
    errors: dict[str, str] = {}
    for i in sorted(labeled):
        name = old.keypoints[i]
        if i >= len(new.keypoints):
            errors["keypoints"] = (
                f"{name!r} (position {i + 1}) has labels and cannot be removed; remove its "
                "labels first, or add new keypoints at the end."
            )
            break
        moved_to = [j for j, n in enumerate(new.keypoints) if n.casefold() == name.casefold()]
        if moved_to and moved_to[0] != i:
            errors["keypoints"] = (
                f"{name!r} has labels and cannot move from position {i + 1} to "
                f"{moved_to[0] + 1}: keypoints with labels keep their order."
            )
            break
    return errors


def keypoints_clean(points, *, count: int, width: int, height: int) -> list[list[float | int]]:
    """``points`` (``[[x, y, v], ...]`` in skeleton order, or ``[]``) checked and snapped.

    Raises ValueError naming the point: wrong count, a visibility not in 0/1/2, a non-finite
    coordinate, or a point outside the ``width`` x ``height`` image (more than
    :data:`EDGE_TOLERANCE_PX`; closer ones are clipped). A not-labeled point (v = 0) is
    stored as ``[0, 0, 0]`` whatever coordinates it came with, as COCO writes it.
    """
    if not points:
        return []
    if len(points) != count:
        raise ValueError(f"Give {count} keypoints (the skeleton's), not {len(points)}.")
    out: list[list[float | int]] = []
    for i, point in enumerate(points):
        if not isinstance(point, list | tuple) or len(point) != 3:
            raise ValueError(f"Keypoint {i + 1} must be [x, y, visibility].")
        x, y, v = point
        if isinstance(v, bool) or not isinstance(v, int) or v not in VISIBILITIES:
            raise ValueError(f"Keypoint {i + 1}: visibility must be 0, 1 or 2.")
        if v == NOT_LABELED:
            out.append([0.0, 0.0, 0])
            continue
        for value in (x, y):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"Keypoint {i + 1}: coordinates must be numbers.")
            if not math.isfinite(value):
                raise ValueError(f"Keypoint {i + 1}: coordinates must be finite.")
        tol = EDGE_TOLERANCE_PX
        if not (-tol <= x <= width + tol and -tol <= y <= height + tol):
            raise ValueError(
                f"Keypoint {i + 1} at ({x:g}, {y:g}) is outside the {width}x{height} image."
            )
        x = round(min(max(float(x), 0.0), float(width)), COORD_DECIMALS)
        y = round(min(max(float(y), 0.0), float(height)), COORD_DECIMALS)
        out.append([x, y, v])
    if all(p[2] == NOT_LABELED for p in out):
        return []  # nothing labeled: the same as no keypoints
    return out


def keypoints_resized(points: list, count: int) -> list:
    """``points`` padded with not-labeled points or cut to ``count`` (after a skeleton
    change that added or removed unlabeled keypoints); ``[]`` stays ``[]``."""
    if not points:
        return []
    padded = [list(p) for p in points[:count]]
    padded += [[0.0, 0.0, 0] for _ in range(count - len(padded))]
    return padded if any(p[2] for p in padded) else []


def labeled_indices(points: list) -> set[int]:
    """Positions of ``points`` that are labeled (v > 0)."""
    return {i for i, p in enumerate(points or ()) if p[2] != NOT_LABELED}


#: A box sent without keypoints keeps those of the stored box it overlaps this much.
CARRY_MIN_IOU = 0.5


def _iou(a: tuple, b: tuple) -> float:
    """IoU of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def carried_keypoints(
    sent: list[tuple[int, tuple, list | None]], stored: list[tuple[int, tuple, list]]
) -> list[list]:
    """Each sent box's keypoints: its own when given (a list, maybe ``[]``), else those of
    the stored box of the same class it overlaps most (IoU >= :data:`CARRY_MIN_IOU`, each
    stored box used once), else ``[]``.

    ``sent``: (class id, (x, y, w, h), keypoints or None); ``stored``: (class id, box,
    keypoints). Why: a client that knows only boxes (the box editor, scripts written
    before pose) sends none, and must not erase the points of a box it merely moved.
    """
    out: list[list] = [kp if kp is not None else [] for _, _, kp in sent]
    candidates = sorted(
        (
            (_iou(box, sbox), i, j)
            for i, (cls, box, kp) in enumerate(sent)
            if kp is None
            for j, (scls, sbox, skp) in enumerate(stored)
            if scls == cls and skp
        ),
        reverse=True,
    )
    used_sent: set[int] = set()
    used_stored: set[int] = set()
    for iou, i, j in candidates:
        if iou < CARRY_MIN_IOU or i in used_sent or j in used_stored:
            continue
        out[i] = [list(p) for p in stored[j][2]]
        used_sent.add(i)
        used_stored.add(j)
    return out
