"""A user's corrections, stored as data and applied on top of the computed trajectory.

The list of edits is the truth: the trajectory the pipeline computed is never changed, and
``apply_edits(original, edits)`` gives what every export shows. Removing an edit from the list
and applying the rest restores exactly what the trajectory was without it.

Edits are JSON objects (``edit_to_dict`` / ``edit_from_dict``), so the Django layer can keep the
list in a JSON field and validate user input through ``edit_from_dict`` (``ValueError`` naming
the field). Animal ids are 1..N; frames are video frame numbers (``Trajectory.frames``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracking.engine.trajectory import Trajectory


@dataclass(frozen=True)
class SwapIdentities:
    """Swap animals ``a`` and ``b`` from ``from_frame`` on, up to ``until_frame`` inclusive
    (``None``: to the end). Everything per frame and animal moves: box, confidence, status and
    every flag."""

    a: int
    b: int
    from_frame: int
    until_frame: int | None = None

    kind = "swap"


Edit = SwapIdentities  # the one kind so far; a union as kinds are added


def apply_edits(trajectory: Trajectory, edits: Iterable[Edit]) -> Trajectory:
    """The trajectory with ``edits`` applied in order (a new object; the input is unchanged)."""
    out = Trajectory(
        frames=trajectory.frames.copy(),
        time_s=trajectory.time_s.copy(),
        boxes=trajectory.boxes.copy(),
        confidence=trajectory.confidence.copy(),
        status=trajectory.status.copy(),
        flags={name: mask.copy() for name, mask in trajectory.flags.items()},
    )
    for edit in edits:
        validate_edit(edit, trajectory)
        rows = _rows(out.frames, edit.from_frame, edit.until_frame)
        cols = [edit.a - 1, edit.b - 1]
        swapped = cols[::-1]
        for array in (out.boxes, out.confidence, out.status, *out.flags.values()):
            array[rows[:, None], cols] = array[rows[:, None], swapped]
    return out


def validate_edit(edit: Edit, trajectory: Trajectory) -> None:
    """``ValueError`` naming the field when ``edit`` does not fit ``trajectory``."""
    if not isinstance(edit, SwapIdentities):
        raise ValueError(f"kind: unknown edit {type(edit).__name__}")
    n = trajectory.n_animals
    for name in ("a", "b"):
        value = getattr(edit, name)
        if not _is_int(value) or not 1 <= value <= n:
            raise ValueError(f"{name}: animal ids are 1..{n}")
    if edit.a == edit.b:
        raise ValueError("b: an animal cannot swap with itself")
    if not _is_int(edit.from_frame):
        raise ValueError("from_frame: must be a frame number")
    if edit.until_frame is not None:
        if not _is_int(edit.until_frame):
            raise ValueError("until_frame: must be a frame number or null")
        if edit.until_frame < edit.from_frame:
            raise ValueError("until_frame: must not be before from_frame")


def edit_to_dict(edit: Edit) -> dict[str, Any]:
    return {
        "kind": edit.kind,
        "a": edit.a,
        "b": edit.b,
        "from_frame": edit.from_frame,
        "until_frame": edit.until_frame,
    }


def edit_from_dict(data: dict[str, Any]) -> Edit:
    """Parse one stored/user edit; ``ValueError`` naming the field on anything else."""
    if not isinstance(data, dict):
        raise ValueError("edit: must be an object")
    if data.get("kind") != SwapIdentities.kind:
        raise ValueError(f"kind: must be {SwapIdentities.kind!r}")
    unknown = sorted(set(data) - {"kind", "a", "b", "from_frame", "until_frame"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field")
    for name in ("a", "b", "from_frame"):
        if name not in data:
            raise ValueError(f"{name}: required")
        if not _is_int(data[name]):
            raise ValueError(f"{name}: must be an integer")
    until = data.get("until_frame")
    if until is not None and not _is_int(until):
        raise ValueError("until_frame: must be an integer or null")
    return SwapIdentities(
        a=int(data["a"]),
        b=int(data["b"]),
        from_frame=int(data["from_frame"]),
        until_frame=None if until is None else int(until),
    )


def edits_from_list(items: Sequence[dict[str, Any]]) -> list[Edit]:
    return [edit_from_dict(item) for item in items]


def _rows(frames: np.ndarray, first: int, last: int | None) -> np.ndarray:
    keep = frames >= first
    if last is not None:
        keep &= frames <= last
    return np.flatnonzero(keep)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)
