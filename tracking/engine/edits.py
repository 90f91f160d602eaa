"""User corrections of a trajectory, stored as data and applied on read (no Django import).

The list of edits is the truth: the stored trajectory is never rewritten, so removing an
edit restores exactly what was there before it. Animals are 1-based, as in every export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .trajectory import Trajectory


@dataclass(frozen=True)
class SwapEdit:
    """Swap identities ``animal_a`` and ``animal_b`` on frames ``from_frame`` ..
    ``to_frame`` (inclusive; ``None`` = to the end of the video)."""

    animal_a: int
    animal_b: int
    from_frame: int
    to_frame: int | None = None

    def rows(self, frames: np.ndarray) -> np.ndarray:
        mask = frames >= self.from_frame
        if self.to_frame is not None:
            mask &= frames <= self.to_frame
        return mask


def apply_edits(trajectory: Trajectory, edits: Iterable[SwapEdit]) -> Trajectory:
    """A new Trajectory with ``edits`` applied in order (the input is left unchanged)."""
    edits = list(edits)
    if not edits:
        return trajectory
    out = dataclasses.replace(
        trajectory,
        boxes=trajectory.boxes.copy(),
        confidence=trajectory.confidence.copy(),
        status=trajectory.status.copy(),
        flags={name: mask.copy() for name, mask in trajectory.flags.items()},
    )
    n = out.n_animals
    for edit in edits:
        a, b = edit.animal_a - 1, edit.animal_b - 1
        if not (0 <= a < n and 0 <= b < n) or a == b:
            raise ValueError(f"edit {edit}: animals must be two of 1..{n}")
        rows = edit.rows(out.frames)
        for array in (out.boxes, out.confidence, out.status, *out.flags.values()):
            array[rows, a], array[rows, b] = array[rows, b].copy(), array[rows, a].copy()
    return out
