"""Average precision: PASCAL VOC 11-point and all-point, COCO 101-point (pure NumPy).

Inputs are cumulative recall/precision (or true-positive flags) over detections sorted by
descending score; the formulas are those of ``voc_eval`` and pycocotools' ``accumulate``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

# Built exactly as pycocotools builds them, so the float thresholds compare identically.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, int(np.round(1.0 / 0.01)) + 1)
COCO_MAX_DETECTIONS = 100
# VOC2007 11-point recall levels; np.arange like voc_eval (0.30000000000000004 etc. included).
VOC07_RECALL_POINTS = np.arange(0.0, 1.1, 0.1)


def ap_voc11(recall: ArrayLike, precision: ArrayLike) -> float:
    """PASCAL VOC2007 11-point AP (``voc_ap(rec, prec, use_07_metric=True)``), the seed
    paper's metric: mean over r in {0, 0.1, ..., 1} of the max precision at recall >= r."""
    rec = np.asarray(recall, dtype=np.float64)
    prec = np.asarray(precision, dtype=np.float64)
    points = [
        float(np.max(prec[rec >= t])) if (rec >= t).any() else 0.0 for t in VOC07_RECALL_POINTS
    ]
    # sum / 11 rather than voc_ap's running sum of p / 11, so a perfect curve gives 1.0, not
    # 1.0000000000000002 (differences are at the last bit only).
    return sum(points) / 11.0


def ap_voc_all(recall: ArrayLike, precision: ArrayLike) -> float:
    """VOC2010+ all-point AP: area under the monotone (right-to-left max) PR envelope."""
    mrec = np.concatenate(([0.0], np.asarray(recall, dtype=np.float64), [1.0]))
    mpre = np.concatenate(([0.0], np.asarray(precision, dtype=np.float64), [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def ap_coco101(recall: ArrayLike, precision: ArrayLike) -> float:
    """COCO 101-point AP as pycocotools ``accumulate`` computes it for one IoU threshold.

    ``recall``/``precision`` are cumulative over detections sorted by descending score.
    """
    return float(np.mean(_coco_precision_at_points(np.asarray(recall), np.asarray(precision))))


def _coco_precision_at_points(rc: np.ndarray, pr: np.ndarray) -> np.ndarray:
    if len(pr) == 0:
        return np.zeros(len(COCO_RECALL_POINTS))
    envelope = np.maximum.accumulate(pr[::-1])[::-1]
    idx = np.searchsorted(rc, COCO_RECALL_POINTS, side="left")
    return np.where(idx < len(pr), envelope[np.minimum(idx, len(pr) - 1)], 0.0)


def voc_aps(tp: np.ndarray, n_gt: int) -> tuple[float, float]:
    """(11-point, all-point) AP from TP flags in descending-score order (voc_eval's formulas)."""
    ctp = np.cumsum(tp, dtype=np.float64)
    cfp = np.cumsum(~tp, dtype=np.float64)
    rec = ctp / n_gt
    prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    return ap_voc11(rec, prec), ap_voc_all(rec, prec)


def coco_aps(tp: np.ndarray, n_gt: int) -> tuple[float, float]:
    """(AP50, AP50:95) from (T, D) TP flags in descending-score order (pycocotools' formulas)."""
    tps = np.cumsum(tp, axis=1).astype(float)
    fps = np.cumsum(~tp, axis=1).astype(float)
    rc = tps / n_gt
    pr = tps / (fps + tps + np.spacing(1))
    q = np.stack([_coco_precision_at_points(rc[t], pr[t]) for t in range(len(tp))])
    return float(np.mean(q[0])), float(np.mean(q))
