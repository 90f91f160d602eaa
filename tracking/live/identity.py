"""Online identities for N animals, one frame at a time (no Django import).

The offline pipeline links whole tracklets after the fact (it sees the future); live, each
frame must be labelled at once. The frame's ``n_animals`` best *distinct* boxes (the same
rule the engine's cropping uses, :func:`tracking.engine.cropping.best`) are matched to the
identities' last known centres by the Hungarian algorithm on centre distance. An identity
whose animal was not found keeps its last position for matching and reports NaN (missing
stays missing: rules then see "no data" for it). Identities are 0-based here, 1-based in
what the user reads (as in exports).

Boxes: ``x1, y1, x2, y2`` original-video pixels.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracking.engine.cropping import best


class OnlineIdentity:
    """Assigns each frame's boxes to ``n_animals`` identities."""

    def __init__(self, n_animals: int):
        if n_animals < 1:
            raise ValueError("n_animals must be at least 1")
        self.n = n_animals
        self.last = np.full((n_animals, 2), np.nan)  # last known centre per identity

    def assign(self, boxes_xyxy: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """float64 (N, 4): identity i's box this frame, NaN rows where it was not found."""
        out = np.full((self.n, 4), np.nan)
        boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
        scores = np.asarray(scores, np.float32).reshape(-1)
        if not len(boxes):
            return out
        top, _ = best(boxes, scores, self.n)
        top = np.asarray(top, np.float64).reshape(-1, 4)
        centres = np.stack([(top[:, 0] + top[:, 2]) / 2, (top[:, 1] + top[:, 3]) / 2], axis=1)
        known = np.isfinite(self.last).all(axis=1)
        taken: set[int] = set()
        if known.any():
            ids = np.flatnonzero(known)
            cost = np.linalg.norm(self.last[ids][:, None, :] - centres[None, :, :], axis=2)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                out[ids[r]] = top[c]
                taken.add(int(c))
        free = [i for i in range(self.n) if not np.isfinite(out[i]).all()]
        unknown_first = sorted(free, key=lambda i: bool(known[i]))  # new animals: unseen ids
        rest = [c for c in range(len(top)) if c not in taken]
        for i, c in zip(unknown_first, rest, strict=False):
            out[i] = top[c]
        found = np.isfinite(out).all(axis=1)
        self.last[found] = np.stack(
            [(out[found, 0] + out[found, 2]) / 2, (out[found, 1] + out[found, 3]) / 2], axis=1
        )
        return out
