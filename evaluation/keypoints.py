"""Keypoint (pose) metrics: pixel error, PCK and COCO's OKS-based AP. Pure: no Django.

Inputs are per image: ground-truth animals (a box ``(x, y, w, h)`` in original-image pixels,
top-left corner, and keypoints ``[[x, y, v], ...]`` in skeleton order, ``v`` as COCO: 0 not
labeled, 1 occluded, 2 visible) and predicted animals (box, keypoints ``[[x, y, conf],
...]`` and the animal's score).

- **Pixel error** (as DeepLabCut reports it): predictions are matched to ground-truth
  animals by box IoU (>= ``iou_threshold``, greedily by descending score, as COCO matches
  boxes); for each matched pair and each keypoint labeled in the ground truth (v > 0), the
  Euclidean distance in pixels. ``mean_error_px`` averages all of them, ``per_keypoint``
  each keypoint's.
- **PCK** over the same labeled keypoints of matched animals: the fraction within
  ``pck_px`` pixels (``pck``), and within ``pck_rel`` times the ground-truth box's longer
  side (``pck_rel``; size-independent, so frames of a zoomed camera compare). Animals
  without a matched prediction are counted in ``unmatched``, not in the error or PCK.
- **OKS AP** exactly as pycocotools' ``COCOeval(iouType="keypoints")`` computes it (its
  ``computeOks``, ``evaluateImg`` and ``accumulate``; one category, area range "all", 20
  detections per image): OKS = mean over labeled keypoints of
  ``exp(-d^2 / (2 * area * (2 * sigma)^2))`` with ``area`` the ground-truth box area (our
  COCO export writes that area too), averaged over OKS thresholds 0.50:0.05:0.95 with
  101-point interpolated precision; ``oks_ap50``/``oks_ap75`` at one threshold.
  A ground-truth animal with no labeled keypoint is ignored, as COCO ignores it.

Default sigma, :data:`DEFAULT_SIGMA` = 0.025 for every keypoint: COCO's values are per-part
annotator spreads measured on people (nose 0.026, eyes 0.025, ears 0.035, hips 0.107); the
points labs label on a mouse (snout, ears, tail base) are small well-defined landmarks like
COCO's face points, so the tightest COCO value is the default; labs with their own
inter-annotator spread pass ``sigmas``. With sigma 0.025 a 60x30 px mouse box gives an
error of 2.1 px an OKS of 0.61.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .average_precision import ap_coco101
from .matching import match_detections

DEFAULT_SIGMA = 0.025
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
MAX_DETECTIONS = 20  # COCOeval's maxDets for keypoints
DEFAULT_PCK_PX = 5.0
DEFAULT_PCK_REL = 0.1


@dataclass(frozen=True)
class PoseAnimal:
    """One animal: ``box`` (x, y, w, h) pixels, ``keypoints`` [[x, y, v or conf], ...],
    ``score`` (predictions; 1 for ground truth)."""

    box: tuple[float, float, float, float]
    keypoints: Sequence[Sequence[float]]
    score: float = 1.0


@dataclass(frozen=True)
class PoseImage:
    truths: Sequence[PoseAnimal]
    predictions: Sequence[PoseAnimal]
    name: str = ""


@dataclass(frozen=True)
class PoseMetrics:
    mean_error_px: float | None
    per_keypoint: dict[str, float | None]
    pck: float | None
    pck_rel: float | None
    oks_ap: float | None  # None when no ground-truth animal has a labeled keypoint
    oks_ap50: float | None
    oks_ap75: float | None
    matched: int  # ground-truth animals with a matched prediction
    unmatched: int
    points: int  # labeled keypoints of matched animals (the error's and PCK's count)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "mean_error_px": self.mean_error_px,
            "per_keypoint": dict(self.per_keypoint),
            "pck": self.pck,
            "pck_rel": self.pck_rel,
            "oks_ap": self.oks_ap,
            "oks_ap50": self.oks_ap50,
            "oks_ap75": self.oks_ap75,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "points": self.points,
            "settings": dict(self.settings),
        }


def pose_metrics(
    images: Sequence[PoseImage],
    *,
    names: Sequence[str],
    sigmas: Sequence[float] | None = None,
    iou_threshold: float = 0.5,
    pck_px: float = DEFAULT_PCK_PX,
    pck_rel: float = DEFAULT_PCK_REL,
) -> PoseMetrics:
    """All keypoint metrics of ``images`` (see the module docstring)."""
    k = len(names)
    sig = np.full(k, DEFAULT_SIGMA) if sigmas is None else np.asarray(sigmas, dtype=float)
    if sig.shape != (k,) or not np.all(sig > 0):
        raise ValueError(f"sigmas must be {k} positive numbers, one per keypoint")
    errors: list[list[float]] = [[] for _ in range(k)]
    within_px = within_rel = 0
    matched = unmatched = 0
    for image in images:
        for truth, prediction in _box_matches(image, iou_threshold):
            if prediction is None:
                unmatched += 1
                continue
            matched += 1
            longer = max(truth.box[2], truth.box[3])
            for i, ((gx, gy, gv), (px, py, *_)) in enumerate(
                zip(truth.keypoints, prediction.keypoints, strict=True)
            ):
                if gv <= 0:
                    continue
                d = math.hypot(px - gx, py - gy)
                errors[i].append(d)
                within_px += d <= pck_px
                within_rel += d <= pck_rel * longer
    points = sum(len(e) for e in errors)
    ap, ap50, ap75 = oks_average_precision(images, sigmas=sig)
    return PoseMetrics(
        mean_error_px=float(np.mean(np.concatenate(errors))) if points else None,
        per_keypoint={
            n: (float(np.mean(e)) if e else None) for n, e in zip(names, errors, strict=True)
        },
        pck=within_px / points if points else None,
        pck_rel=within_rel / points if points else None,
        oks_ap=ap,
        oks_ap50=ap50,
        oks_ap75=ap75,
        matched=matched,
        unmatched=unmatched,
        points=points,
        settings={
            "sigmas": [float(s) for s in sig],
            "iou_threshold": iou_threshold,
            "pck_px": pck_px,
            "pck_rel": pck_rel,
        },
    )


def _box_matches(image: PoseImage, iou_threshold: float):
    """(truth, matched prediction or None) for each ground-truth animal."""
    truths, predictions = list(image.truths), list(image.predictions)
    if not truths:
        return []
    if not predictions:
        return [(t, None) for t in truths]
    result = match_detections(
        [t.box for t in truths],
        [p.box for p in predictions],
        [p.score for p in predictions],
        iou_threshold=iou_threshold,
        rule="coco",
    )
    partner: dict[int, PoseAnimal] = {}
    for p_index, t_index in enumerate(result.gt_index):
        if t_index >= 0:
            partner[int(t_index)] = predictions[p_index]
    return [(t, partner.get(i)) for i, t in enumerate(truths)]


def oks_matrix(
    truths: Sequence[PoseAnimal], predictions: Sequence[PoseAnimal], sigmas: np.ndarray
) -> np.ndarray:
    """(predictions x truths) OKS, as pycocotools' ``computeOks`` (a truth without labeled
    keypoints measures how far the points fall outside its box, doubled in size)."""
    variances = (sigmas * 2) ** 2
    out = np.zeros((len(predictions), len(truths)))
    for j, truth in enumerate(truths):
        g = np.asarray(truth.keypoints, dtype=float).reshape(-1, 3)
        xg, yg, vg = g[:, 0], g[:, 1], g[:, 2]
        labeled = vg > 0
        bx, by, bw, bh = truth.box
        x0, x1, y0, y1 = bx - bw, bx + bw * 2, by - bh, by + bh * 2
        area = bw * bh
        for i, prediction in enumerate(predictions):
            d = np.asarray(prediction.keypoints, dtype=float).reshape(-1, 3)
            xd, yd = d[:, 0], d[:, 1]
            if labeled.any():
                dx, dy = xd - xg, yd - yg
            else:
                zero = np.zeros(len(sigmas))
                dx = np.max((zero, x0 - xd), axis=0) + np.max((zero, xd - x1), axis=0)
                dy = np.max((zero, y0 - yd), axis=0) + np.max((zero, yd - y1), axis=0)
            e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
            if labeled.any():
                e = e[labeled]
            out[i, j] = np.sum(np.exp(-e)) / e.shape[0]
    return out


def oks_average_precision(
    images: Sequence[PoseImage], *, sigmas: np.ndarray
) -> tuple[float | None, float | None, float | None]:
    """(AP over OKS 0.50:0.95, AP at 0.50, AP at 0.75) as COCOeval computes them."""
    scores: list[float] = []
    matched: list[np.ndarray] = []  # per detection, per threshold: matched a truth
    ignored: list[np.ndarray] = []  # per detection, per threshold: matched an ignored truth
    positives = 0
    t_count = len(OKS_THRESHOLDS)
    for image in images:
        # Ignored truths (no labeled keypoint) go last, as evaluateImg sorts them.
        truths = sorted(image.truths, key=lambda t: _ignored(t))
        gt_ignore = np.array([_ignored(t) for t in truths], dtype=bool)
        positives += int(np.count_nonzero(~gt_ignore))
        order = np.argsort([-p.score for p in image.predictions], kind="mergesort")
        dets = [image.predictions[i] for i in order][:MAX_DETECTIONS]
        ious = oks_matrix(truths, dets, sigmas) if truths and dets else None
        dt_m = np.zeros((t_count, len(dets)), dtype=bool)
        dt_ig = np.zeros((t_count, len(dets)), dtype=bool)
        for t_index, threshold in enumerate(OKS_THRESHOLDS):
            taken = np.zeros(len(truths), dtype=bool)
            for d_index in range(len(dets)):
                best, m = min(threshold, 1 - 1e-10), -1
                for g_index in range(len(truths)):
                    if taken[g_index]:
                        continue
                    if m > -1 and not gt_ignore[m] and gt_ignore[g_index]:
                        break
                    if ious[d_index, g_index] < best:
                        continue
                    best, m = ious[d_index, g_index], g_index
                if m == -1:
                    continue
                dt_ig[t_index, d_index] = gt_ignore[m]
                dt_m[t_index, d_index] = True
                taken[m] = True
        scores += [p.score for p in dets]
        matched.append(dt_m)
        ignored.append(dt_ig)
    if positives == 0:
        return None, None, None
    if not scores:
        return 0.0, 0.0, 0.0
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    dt_m = np.concatenate(matched, axis=1)[:, order]
    dt_ig = np.concatenate(ignored, axis=1)[:, order]
    aps = []
    for t_index in range(t_count):
        tps = np.cumsum(dt_m[t_index] & ~dt_ig[t_index]).astype(float)
        fps = np.cumsum(~dt_m[t_index] & ~dt_ig[t_index]).astype(float)
        recall = tps / positives
        precision = tps / (fps + tps + np.spacing(1))
        aps.append(ap_coco101(recall, precision))
    return float(np.mean(aps)), aps[0], aps[5]


def _ignored(truth: PoseAnimal) -> bool:
    return not any(p[2] > 0 for p in truth.keypoints)
