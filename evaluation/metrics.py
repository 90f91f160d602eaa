"""Object-detection metrics: AP (VOC and COCO), P/R/F1, average IoU, per-image errors.

Pure Python + NumPy (no Django), dataclasses in and out. :func:`evaluate_detections` is the
entry point; it builds on :mod:`evaluation.matching` (IoU, the VOC and COCO matching rules),
:mod:`evaluation.average_precision` (the AP formulas) and :mod:`evaluation.curves`.

Boxes: every box given to or returned by this module's public API is in original-image
pixels as ``(x, y, w, h)`` floats: ``(x, y)`` the top-left corner, ``w``/``h`` the size.

VOC matching (see :mod:`evaluation.matching`) gives the VOC APs, precision/recall/F1,
average IoU and the curves; COCO matching gives ``coco_ap50`` and ``coco_ap50_95`` so they
equal pycocotools'.

A ratio whose denominator is zero (precision with no detections, recall with no ground truth)
is reported as 0.0; an AP or mean IoU that is undefined (no ground truth, no true positive)
is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .average_precision import COCO_IOU_THRESHOLDS, COCO_MAX_DETECTIONS, coco_aps, voc_aps
from .curves import Curve, curve_of, threshold_grid
from .matching import MatchJob, check_iou_threshold, match_sorted

ImageId = Hashable


# --- data in / out -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GroundTruthBox:
    """A labelled box: top-left (x, y) and size (w, h) in original-image pixels."""

    class_index: int
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class DetectionBox:
    """A predicted box: top-left (x, y) and size (w, h) in original-image pixels, and score."""

    class_index: int
    x: float
    y: float
    w: float
    h: float
    score: float


@dataclass(frozen=True, slots=True)
class Match:
    """One true positive: positions in the image's detection and ground-truth lists."""

    detection_index: int
    ground_truth_index: int
    iou: float


@dataclass(frozen=True, slots=True)
class ImageSummary:
    """What went wrong on one image at the confidence and IoU thresholds (VOC matching).

    Indices are positions in the sequences given for this image. ``num_detections`` counts
    only detections with score >= the confidence threshold.
    """

    image_id: ImageId
    num_ground_truth: int
    num_detections: int
    true_positives: int
    false_positives: int
    misses: int
    min_iou: float | None  # lowest IoU among matched pairs; None without matches
    matches: tuple[Match, ...]
    false_positive_indices: tuple[int, ...]
    missed_indices: tuple[int, ...]


@dataclass(frozen=True)
class ClassMetrics:
    """Metrics of one class. APs are None when the class has no ground truth.

    ``ap50_*`` use IoU 0.5; ``ap_voc*``, P/R/F1, IoU figures and the curve use the run's
    ``iou_threshold``; P/R/F1 and IoU figures use detections with score >= ``conf_threshold``.
    """

    class_index: int
    name: str
    num_ground_truth: int
    num_detections: int
    ap50_voc11: float | None
    ap50_voc_all: float | None
    ap_voc11: float | None
    ap_voc_all: float | None
    coco_ap50: float | None
    coco_ap50_95: float | None
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    average_iou: float | None  # mean IoU of the true positives (the paper's "average IoU")
    average_iou_darknet: float | None  # sum IoU(TP) / (TP + FP), as darknet prints it
    best_f1: float
    best_f1_threshold: float | None
    curve: Curve = field(repr=False)


@dataclass(frozen=True)
class EvaluationResult:
    """Output of :func:`evaluate_detections`. mAPs average the classes that have ground
    truth (as pycocotools does); P/R/F1 and the curve pool every class (micro average).
    """

    iou_threshold: float
    conf_threshold: float
    num_images: int
    num_ground_truth: int
    num_detections: int
    map50_voc11: float | None
    map50_voc_all: float | None
    map_voc11: float | None
    map_voc_all: float | None
    coco_ap50: float | None
    coco_ap50_95: float | None
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    average_iou: float | None
    average_iou_darknet: float | None
    best_f1: float
    best_f1_threshold: float | None
    curve: Curve = field(repr=False)
    per_class: tuple[ClassMetrics, ...] = ()
    per_image: Mapping[ImageId, ImageSummary] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no per-image data); curves have at most 101 points."""
        grid = threshold_grid(self.curve.thresholds)
        out: dict[str, Any] = {
            "iou_threshold": float(self.iou_threshold),
            "conf_threshold": float(self.conf_threshold),
            "num_images": self.num_images,
        }
        out.update(_summary_dict(self, grid, prefix="map"))
        out["per_class"] = [
            {
                "class_index": c.class_index,
                "name": c.name,
                **_summary_dict(c, grid, prefix="ap"),
            }
            for c in self.per_class
        ]
        return out


# --- evaluation --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Flat:
    """All boxes as arrays. Detections sorted by (image, class, rank); GT by (image, class)."""

    image_ids: list[ImageId]
    classes: np.ndarray  # evaluated class indices, sorted; ordinals index this
    g_img: np.ndarray
    g_cls: np.ndarray  # ordinal
    g_pos: np.ndarray  # position in the image's ground-truth sequence
    g_box: np.ndarray  # xywh
    d_img: np.ndarray
    d_cls: np.ndarray
    d_pos: np.ndarray
    d_box: np.ndarray
    d_score: np.ndarray
    d_group: np.ndarray
    d_rank: np.ndarray
    d_g_start: np.ndarray  # ground-truth rows of the detection's (image, class)
    d_g_count: np.ndarray


def _flatten(
    ground_truth: Mapping[ImageId, Sequence[GroundTruthBox]],
    detections: Mapping[ImageId, Sequence[DetectionBox]],
    class_names: Sequence[str] | Mapping[int, str] | None,
) -> _Flat:
    image_ids = list(ground_truth)
    ordinal = {image_id: i for i, image_id in enumerate(image_ids)}
    unknown = [image_id for image_id in detections if image_id not in ordinal]
    if unknown:
        raise ValueError(f"detections for images absent from ground_truth: {unknown[:5]!r}")
    g = np.array(
        [
            (i, k, b.class_index, b.x, b.y, b.w, b.h)
            for i, image_id in enumerate(image_ids)
            for k, b in enumerate(ground_truth[image_id])
        ],
        dtype=np.float64,
    ).reshape(-1, 7)
    d = np.array(
        [
            (ordinal[image_id], k, b.class_index, b.x, b.y, b.w, b.h, b.score)
            for image_id, boxes in detections.items()
            for k, b in enumerate(boxes)
        ],
        dtype=np.float64,
    ).reshape(-1, 8)
    for name, arr in (("ground truth", g), ("detection", d)):
        if not np.isfinite(arr).all():
            raise ValueError(f"a {name} box has a non-finite coordinate or score")
        if (arr[:, 5:7] < 0).any():
            raise ValueError(f"a {name} box has a negative width or height")
    named: set[int] = set()
    if class_names is not None:
        named = (
            set(class_names) if isinstance(class_names, Mapping) else set(range(len(class_names)))
        )
        stray = (set(g[:, 2].astype(int)) | set(d[:, 2].astype(int))) - named
        if stray:
            raise ValueError(f"class indices without a name: {sorted(stray)}")
    classes = np.unique(np.concatenate([g[:, 2], d[:, 2], list(named)])).astype(np.int64)
    n_cls = max(len(classes), 1)

    g_cls = np.searchsorted(classes, g[:, 2].astype(np.int64))
    g_group = g[:, 0].astype(np.int64) * n_cls + g_cls
    g_order = np.lexsort((g[:, 1], g_group))
    g, g_cls, g_group = g[g_order], g_cls[g_order], g_group[g_order]

    d_cls = np.searchsorted(classes, d[:, 2].astype(np.int64))
    d_group = d[:, 0].astype(np.int64) * n_cls + d_cls
    # Ties in score keep input order (stable), as pycocotools' mergesort does.
    d_order = np.lexsort((d[:, 1], -d[:, 7], d_group))
    d, d_cls, d_group = d[d_order], d_cls[d_order], d_group[d_order]
    first = np.r_[True, d_group[1:] != d_group[:-1]] if len(d) else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    d_rank = np.arange(len(d)) - starts[np.cumsum(first) - 1] if len(d) else np.zeros(0, int)
    g_lo = np.searchsorted(g_group, d_group, side="left")
    g_hi = np.searchsorted(g_group, d_group, side="right")
    return _Flat(
        image_ids=image_ids,
        classes=classes,
        g_img=g[:, 0].astype(np.int64),
        g_cls=g_cls,
        g_pos=g[:, 1].astype(np.int64),
        g_box=g[:, 3:7],
        d_img=d[:, 0].astype(np.int64),
        d_cls=d_cls,
        d_pos=d[:, 1].astype(np.int64),
        d_box=d[:, 3:7],
        d_score=d[:, 7],
        d_group=d_group,
        d_rank=d_rank,
        d_g_start=g_lo,
        d_g_count=g_hi - g_lo,
    )


def _match_flat(f: _Flat, jobs: Sequence[MatchJob]) -> list[tuple[np.ndarray, np.ndarray]]:
    return match_sorted(
        d_group=f.d_group,
        d_rank=f.d_rank,
        d_box=f.d_box,
        g_start=f.d_g_start,
        g_count=f.d_g_count,
        g_box=f.g_box,
        jobs=jobs,
    )


def evaluate_detections(
    ground_truth: Mapping[ImageId, Sequence[GroundTruthBox]],
    detections: Mapping[ImageId, Sequence[DetectionBox]],
    *,
    iou_threshold: float = 0.5,
    conf_threshold: float = 0.25,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
) -> EvaluationResult:
    """Evaluate detections against ground truth (boxes: (x, y, w, h) original-image pixels).

    ``ground_truth`` names every evaluated image (an empty sequence: an image without
    objects); ``detections`` may leave images out but may not name others (ValueError).
    Detections should come from a low confidence threshold (e.g. 0.001) so the APs see the
    whole PR curve; ``conf_threshold`` (score >= it) only selects the operating point for
    P/R/F1, the IoU figures and the per-image summaries. ``class_names`` (a list indexed by
    class, or a mapping) names the classes and lists classes that must be reported even
    without any box; a box of an unnamed class is then a ValueError.
    """
    _check_thresholds(iou_threshold, conf_threshold)
    f = _flatten(ground_truth, detections, class_names)
    voc_thresholds = sorted({float(iou_threshold), 0.5})
    at_thr = voc_thresholds.index(float(iou_threshold))
    at_50 = voc_thresholds.index(0.5)
    (voc_gt, voc_iou), (coco_gt, _) = _match_flat(
        f,
        [
            MatchJob("voc", np.array(voc_thresholds)),
            MatchJob("coco", COCO_IOU_THRESHOLDS, max_rank=COCO_MAX_DETECTIONS),
        ],
    )
    # COCO's maxDets: only the 100 best detections of each image and class count at all.
    coco_keep = f.d_rank < COCO_MAX_DETECTIONS
    coco_gt = coco_gt[coco_keep]

    tp_all = voc_gt[:, at_thr] >= 0
    iou_all = voc_iou[:, at_thr]
    kept = f.d_score >= conf_threshold
    # Ties keep (image, class, rank) order: pycocotools concatenates images in order.
    by_score = np.argsort(-f.d_score, kind="stable")
    coco_by_score = np.argsort(-f.d_score[coco_keep], kind="stable")
    coco_cls = f.d_cls[coco_keep]
    g_per_cls = np.bincount(f.g_cls, minlength=len(f.classes))

    per_class = []
    for c, class_index in enumerate(f.classes):
        order = by_score[f.d_cls[by_score] == c]
        n_gt = int(g_per_cls[c])
        aps: dict[str, float | None] = dict.fromkeys(
            ("ap50_voc11", "ap50_voc_all", "ap_voc11", "ap_voc_all", "coco_ap50", "coco_ap50_95")
        )
        if n_gt:
            aps["ap50_voc11"], aps["ap50_voc_all"] = voc_aps(voc_gt[order, at_50] >= 0, n_gt)
            aps["ap_voc11"], aps["ap_voc_all"] = voc_aps(voc_gt[order, at_thr] >= 0, n_gt)
            c_order = coco_by_score[coco_cls[coco_by_score] == c]
            aps["coco_ap50"], aps["coco_ap50_95"] = coco_aps(coco_gt[c_order].T >= 0, n_gt)
        per_class.append(
            ClassMetrics(
                class_index=int(class_index),
                name=_class_name(class_names, int(class_index)),
                **aps,
                **_operating_point(order, tp_all, iou_all, kept, f.d_score, n_gt),
            )
        )

    def mean_ap(key: str) -> float | None:
        values = [getattr(c, key) for c in per_class if c.num_ground_truth]
        return float(np.mean(values)) if values else None

    return EvaluationResult(
        iou_threshold=float(iou_threshold),
        conf_threshold=float(conf_threshold),
        num_images=len(f.image_ids),
        map50_voc11=mean_ap("ap50_voc11"),
        map50_voc_all=mean_ap("ap50_voc_all"),
        map_voc11=mean_ap("ap_voc11"),
        map_voc_all=mean_ap("ap_voc_all"),
        coco_ap50=mean_ap("coco_ap50"),
        coco_ap50_95=mean_ap("coco_ap50_95"),
        **_operating_point(by_score, tp_all, iou_all, kept, f.d_score, len(f.g_img)),
        per_class=tuple(per_class),
        per_image=_image_summaries(f, voc_gt[:, at_thr], iou_all, kept),
    )


def summarize_images(
    ground_truth: Mapping[ImageId, Sequence[GroundTruthBox]],
    detections: Mapping[ImageId, Sequence[DetectionBox]],
    *,
    iou_threshold: float = 0.5,
    conf_threshold: float = 0.25,
) -> dict[ImageId, ImageSummary]:
    """Per-image false positives, misses and min IoU (VOC matching, score >= conf_threshold).

    Same as ``evaluate_detections(...).per_image`` without the rest of the work.
    Boxes: (x, y, w, h) original-image pixels.
    """
    _check_thresholds(iou_threshold, conf_threshold)
    f = _flatten(ground_truth, detections, None)
    ((gt, match_iou),) = _match_flat(f, [MatchJob("voc", np.array([float(iou_threshold)]))])
    return _image_summaries(f, gt[:, 0], match_iou[:, 0], f.d_score >= conf_threshold)


def _operating_point(
    order: np.ndarray,
    tp_all: np.ndarray,
    iou_all: np.ndarray,
    kept: np.ndarray,
    score: np.ndarray,
    n_gt: int,
) -> dict[str, Any]:
    """Counts, P/R/F1, IoU figures and curve for detections ``order`` (descending score)."""
    tp_flags = tp_all[order]
    kept_o = kept[order]
    tp = int(np.count_nonzero(tp_flags & kept_o))
    fp = int(np.count_nonzero(~tp_flags & kept_o))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, n_gt)
    tp_iou = iou_all[order][tp_flags & kept_o]
    curve = curve_of(score[order], tp_flags, n_gt)
    best = int(np.argmax(curve.f1)) if len(curve.f1) else -1
    best_f1 = float(curve.f1[best]) if best >= 0 else 0.0
    return {
        "num_ground_truth": int(n_gt),
        "num_detections": len(order),
        "tp": tp,
        "fp": fp,
        "fn": int(n_gt) - tp,
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "average_iou": float(np.mean(tp_iou)) if tp else None,
        "average_iou_darknet": float(np.sum(tp_iou) / (tp + fp)) if tp + fp else None,
        "best_f1": best_f1,
        "best_f1_threshold": float(curve.thresholds[best]) if best_f1 > 0 else None,
        "curve": curve,
    }


def _image_summaries(
    f: _Flat, gt_row: np.ndarray, match_iou: np.ndarray, kept: np.ndarray
) -> dict[ImageId, ImageSummary]:
    n_img = len(f.image_ids)
    tp = kept & (gt_row >= 0)
    fp = kept & (gt_row < 0)
    n_gt = np.bincount(f.g_img, minlength=n_img)
    n_det = np.bincount(f.d_img[kept], minlength=n_img)
    n_tp = np.bincount(f.d_img[tp], minlength=n_img)
    n_fp = np.bincount(f.d_img[fp], minlength=n_img)
    min_iou = np.full(n_img, np.inf)
    np.minimum.at(min_iou, f.d_img[tp], match_iou[tp])
    g_hit = np.zeros(len(f.g_img), dtype=bool)
    g_hit[gt_row[tp]] = True

    def split(mask: np.ndarray, img: np.ndarray, *columns: np.ndarray) -> list[list[tuple]]:
        idx = np.flatnonzero(mask)
        idx = idx[np.lexsort((columns[0][idx], img[idx]))]
        cuts = np.searchsorted(img[idx], np.arange(1, n_img))
        rows = list(zip(*(col[idx].tolist() for col in columns), strict=True))
        bounds = [0, *cuts.tolist(), len(rows)]
        return [rows[bounds[i] : bounds[i + 1]] for i in range(n_img)]

    matched_pos = np.full(len(gt_row), -1)
    matched_pos[tp] = f.g_pos[gt_row[tp]]
    matches = split(tp, f.d_img, f.d_pos, matched_pos, match_iou)
    false_pos = split(fp, f.d_img, f.d_pos)
    missed = split(~g_hit, f.g_img, f.g_pos)
    out = {}
    for i, image_id in enumerate(f.image_ids):
        out[image_id] = ImageSummary(
            image_id=image_id,
            num_ground_truth=int(n_gt[i]),
            num_detections=int(n_det[i]),
            true_positives=int(n_tp[i]),
            false_positives=int(n_fp[i]),
            misses=int(n_gt[i] - n_tp[i]),
            min_iou=float(min_iou[i]) if n_tp[i] else None,
            matches=tuple(Match(int(d), int(g), float(v)) for d, g, v in matches[i]),
            false_positive_indices=tuple(int(r[0]) for r in false_pos[i]),
            missed_indices=tuple(int(r[0]) for r in missed[i]),
        )
    return out


# --- helpers -----------------------------------------------------------------------------
def _check_thresholds(iou_threshold: float, conf_threshold: float) -> None:
    check_iou_threshold(iou_threshold)
    if not math.isfinite(conf_threshold):
        raise ValueError(f"conf_threshold must be finite, got {conf_threshold!r}")


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _class_name(class_names: Sequence[str] | Mapping[int, str] | None, index: int) -> str:
    if class_names is None:
        return str(index)
    return str(class_names[index])


def _summary_dict(m: ClassMetrics | EvaluationResult, grid: np.ndarray, prefix: str) -> dict:
    out: dict[str, Any] = {
        "num_ground_truth": m.num_ground_truth,
        "num_detections": m.num_detections,
    }
    for key in ("50_voc11", "50_voc_all", "_voc11", "_voc_all"):
        out[prefix + key] = _opt(getattr(m, prefix + key))
    out["coco_ap50"] = _opt(m.coco_ap50)
    out["coco_ap50_95"] = _opt(m.coco_ap50_95)
    for key in ("precision", "recall", "f1", "average_iou", "average_iou_darknet", "best_f1"):
        out[key] = _opt(getattr(m, key))
    out["best_f1_threshold"] = _opt(m.best_f1_threshold)
    out.update(tp=m.tp, fp=m.fp, fn=m.fn)
    out["pr_curve"] = m.curve.pr_points()
    out["f1_curve"] = m.curve.threshold_points(grid)
    return out


def _opt(value: float | None) -> float | None:
    return None if value is None else float(value)
