"""Precision-recall and confidence-F1 curves of ranked detections (pure NumPy).

A :class:`Curve` has one operating point per distinct detection score; ``pr_points`` and
``threshold_points`` resample it to at most :data:`CURVE_POINTS` points for storage and plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

CURVE_POINTS = 101


@dataclass(frozen=True)
class Curve:
    """Operating points, one per distinct detection score, highest score first.

    Point i keeps the detections with score >= ``thresholds[i]``. Empty without detections.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray

    def pr_points(self, n: int = CURVE_POINTS) -> dict[str, list[float]]:
        """Interpolated precision (max precision at recall >= r; 0 past the last point) on
        ``n`` recall levels from 0 to 1, the form VOC and COCO integrate."""
        levels = np.linspace(0.0, 1.0, n)
        if len(self.recall) == 0:
            return {"recall": rounded(levels), "precision": [0.0] * n}
        envelope = np.maximum.accumulate(self.precision[::-1])[::-1]
        idx = np.searchsorted(self.recall, levels, side="left")
        precision = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0)
        return {"recall": rounded(levels), "precision": rounded(precision)}

    def threshold_points(self, grid: np.ndarray) -> dict[str, list[float]]:
        """Precision, recall and F1 when keeping detections with score >= each grid value."""
        # thresholds are descending; count points whose threshold is >= t.
        k = np.searchsorted(-self.thresholds, -grid, side="right")
        has = k > 0
        pick = np.maximum(k - 1, 0)

        def at(values: np.ndarray) -> list[float]:
            if len(values) == 0:
                return [0.0] * len(grid)
            return rounded(np.where(has, values[pick], 0.0))

        return {
            "threshold": rounded(grid),
            "precision": at(self.precision),
            "recall": at(self.recall),
            "f1": at(self.f1),
        }


def curve_of(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> Curve:
    ctp = np.cumsum(tp, dtype=np.float64)
    cfp = np.cumsum(~tp, dtype=np.float64)
    # Only the last detection of a run of equal scores is a reachable operating point.
    last = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True]) if len(scores) else []
    ctp, cfp = ctp[last], cfp[last]
    precision = ctp / np.maximum(ctp + cfp, 1.0)
    recall = ctp / n_gt if n_gt else np.zeros_like(ctp)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return Curve(thresholds=scores[last], precision=precision, recall=recall, f1=f1)


def rounded(values: ArrayLike) -> list[float]:
    return [round(float(v), 6) for v in np.asarray(values).reshape(-1)]


def threshold_grid(thresholds: np.ndarray) -> np.ndarray:
    """101 score thresholds: 0..1 for probability-like scores, else the observed range."""
    lo, hi = 0.0, 1.0
    if len(thresholds) and (thresholds.min() < 0 or thresholds.max() > 1):
        lo, hi = float(min(thresholds.min(), 0.0)), float(thresholds.max())
    return np.linspace(lo, hi, CURVE_POINTS)
