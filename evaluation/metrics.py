"""Object-detection metrics: IoU, matching, AP (VOC and COCO), P/R/F1, average IoU, curves.

Pure Python + NumPy (no Django), dataclasses in and out.

Boxes: every box given to or returned by this module's public API is in original-image
pixels as ``(x, y, w, h)`` floats: ``(x, y)`` the top-left corner, ``w``/``h`` the size.
Array inputs are ``(N, 4)`` in that order. ``xywh_to_xyxy``/``xyxy_to_xywh`` convert to and
from corner form ``(x1, y1, x2, y2)``.

Two matching rules are implemented because the two reference implementations differ:

* ``"voc"`` (PASCAL VOC ``voc_eval``, darknet ``detector map`` as used by Peixoto et al.):
  detections of one image and class are taken by descending score; each goes to the ground
  truth box with the highest IoU among *all* boxes of that class; it is a true positive when
  that IoU is strictly greater than the threshold and that box is not matched yet, otherwise
  a false positive. Used for the VOC APs, precision/recall/F1, average IoU and the curves.
* ``"coco"`` (pycocotools ``COCOeval.evaluateImg``): each detection goes to the *unmatched*
  box with the highest IoU >= the threshold (ties: the later box), at most 100 detections per
  image and class. Used for ``coco_ap50`` and ``coco_ap50_95`` so they equal pycocotools'.

Both are greedy and match each ground-truth box at most once. IoU has no "+1 pixel" term:
boxes are continuous coordinates, as in pycocotools, darknet and Ultralytics.

A ratio whose denominator is zero (precision with no detections, recall with no ground truth)
is reported as 0.0; an AP or mean IoU that is undefined (no ground truth, no true positive)
is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

ImageId = Hashable
MatchRule = Literal["voc", "coco"]

# Built exactly as pycocotools builds them, so the float thresholds compare identically.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, int(np.round(1.0 / 0.01)) + 1)
COCO_MAX_DETECTIONS = 100
# VOC2007 11-point recall levels; np.arange like voc_eval (0.30000000000000004 etc. included).
VOC07_RECALL_POINTS = np.arange(0.0, 1.1, 0.1)
CURVE_POINTS = 101


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
class MatchResult:
    """Per detection (input order): index of its ground-truth box (-1: false positive), IoU.

    ``iou`` is the IoU with the matched box (0.0 for false positives).
    """

    gt_index: np.ndarray  # (N,) int
    iou: np.ndarray  # (N,) float


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
            return {"recall": _rounded(levels), "precision": [0.0] * n}
        envelope = np.maximum.accumulate(self.precision[::-1])[::-1]
        idx = np.searchsorted(self.recall, levels, side="left")
        precision = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0)
        return {"recall": _rounded(levels), "precision": _rounded(precision)}

    def threshold_points(self, grid: np.ndarray) -> dict[str, list[float]]:
        """Precision, recall and F1 when keeping detections with score >= each grid value."""
        # thresholds are descending; count points whose threshold is >= t.
        k = np.searchsorted(-self.thresholds, -grid, side="right")
        has = k > 0
        pick = np.maximum(k - 1, 0)

        def at(values: np.ndarray) -> list[float]:
            if len(values) == 0:
                return [0.0] * len(grid)
            return _rounded(np.where(has, values[pick], 0.0))

        return {
            "threshold": _rounded(grid),
            "precision": at(self.precision),
            "recall": at(self.recall),
            "f1": at(self.f1),
        }


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
        grid = _threshold_grid(self.curve.thresholds)
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


# --- boxes and IoU -----------------------------------------------------------------------
def xywh_to_xyxy(boxes: ArrayLike) -> np.ndarray:
    """(x, y, w, h) top-left + size -> (x1, y1, x2, y2) corners; shape (4,) or (N, 4)."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:4]], axis=-1)


def xyxy_to_xywh(boxes: ArrayLike) -> np.ndarray:
    """(x1, y1, x2, y2) corners -> (x, y, w, h) top-left + size; shape (4,) or (N, 4)."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([b[..., :2], b[..., 2:4] - b[..., :2]], axis=-1)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two (x, y, w, h) pixel boxes; 0.0 when they do not overlap."""
    return float(iou_matrix([a], [b])[0, 0])


def iou_matrix(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) (x, y, w, h) pixel boxes -> (N, M) array."""
    a = _as_boxes(a, "a")
    b = _as_boxes(b, "b")
    return _iou_xywh(a[:, None, :], b[None, :, :])


def _iou_xywh(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Broadcast IoU of (..., 4) xywh boxes, computed like pycocotools' bbIou (bit-exact)."""
    w = np.minimum(d[..., 0] + d[..., 2], g[..., 0] + g[..., 2]) - np.maximum(d[..., 0], g[..., 0])
    h = np.minimum(d[..., 1] + d[..., 3], g[..., 1] + g[..., 3]) - np.maximum(d[..., 1], g[..., 1])
    overlap = (w > 0) & (h > 0)
    inter = np.where(overlap, w * h, 0.0)
    union = d[..., 2] * d[..., 3] + g[..., 2] * g[..., 3] - inter
    return np.divide(inter, union, out=np.zeros(inter.shape), where=overlap)


def _as_boxes(boxes: ArrayLike, name: str) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{name}: expected an (N, 4) array of (x, y, w, h), got {b.shape}")
    return b


# --- matching ----------------------------------------------------------------------------
def match_detections(
    ground_truth: ArrayLike,
    detections: ArrayLike,
    scores: ArrayLike,
    *,
    iou_threshold: float = 0.5,
    rule: MatchRule = "voc",
) -> MatchResult:
    """Greedy matching of one image's detections of one class to its ground truth.

    ``ground_truth`` (M, 4) and ``detections`` (N, 4) are (x, y, w, h) pixel boxes; detections
    are visited by descending ``scores`` (stable). See the module docstring for the rules.
    No detection cap is applied here.
    """
    gt = _as_boxes(ground_truth, "ground_truth")
    dt = _as_boxes(detections, "detections")
    sc = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(sc) != len(dt):
        raise ValueError(f"{len(dt)} detections but {len(sc)} scores")
    _check_iou_threshold(iou_threshold)
    order = np.argsort(-sc, kind="stable")
    n = len(dt)
    gt_index, match_iou = _match_sorted(
        d_group=np.zeros(n, np.int64),
        d_rank=np.arange(n),
        d_box=dt[order],
        g_start=np.zeros(n, np.int64),
        g_count=np.full(n, len(gt), np.int64),
        g_box=gt,
        jobs=[_MatchJob(rule, np.array([iou_threshold], dtype=np.float64))],
    )[0]
    out_index = np.empty(n, np.int64)
    out_iou = np.empty(n, np.float64)
    out_index[order] = gt_index[:, 0]
    out_iou[order] = match_iou[:, 0]
    return MatchResult(gt_index=out_index, iou=out_iou)


@dataclass(frozen=True)
class _MatchJob:
    """One matching pass: a rule, its IoU thresholds, and COCO's per-group detection cap."""

    rule: MatchRule
    thresholds: np.ndarray
    max_rank: int | None = None  # detections ranked lower in their group stay unmatched


def _match_sorted(
    *,
    d_group: np.ndarray,
    d_rank: np.ndarray,
    d_box: np.ndarray,
    g_start: np.ndarray,
    g_count: np.ndarray,
    g_box: np.ndarray,
    jobs: Sequence[_MatchJob],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Greedy matching of many (image, class) groups at several IoU thresholds at once.

    Detections are ordered by (group, rank), rank 0 being the highest score of its group.
    Detection i may match ground-truth rows ``g_start[i] : g_start[i] + g_count[i]`` of
    ``g_box`` (xywh). Per job returns (N, T) matched row of ``g_box`` (-1: none) and (N, T)
    IoU with it (0.0 when unmatched).

    Greedy matching is sequential within a group, so this loops over ranks and handles every
    group at that rank in one vectorised step; groups are bucketed by ground-truth count
    (next power of two) to keep the padding small, and the IoUs of a bucket are computed
    once for all jobs.
    """
    n = len(d_group)
    outs = [
        (np.full((n, len(job.thresholds)), -1, np.int64), np.zeros((n, len(job.thresholds))))
        for job in jobs
    ]
    for job in jobs:
        if job.rule not in ("voc", "coco"):
            raise ValueError(f"rule must be 'voc' or 'coco', got {job.rule!r}")
    has_gt = np.flatnonzero(g_count > 0)
    if len(has_gt) == 0:
        return outs
    width = 1 << np.ceil(np.log2(g_count[has_gt])).astype(np.int64)
    for m in np.unique(width):
        sel = has_gt[width == m]
        cols = np.arange(m)
        valid = cols[None, :] < g_count[sel, None]
        rows_g = np.where(valid, g_start[sel, None] + cols[None, :], 0)
        ious = _iou_xywh(d_box[sel][:, None, :], g_box[rows_g])
        ious[~valid] = -np.inf
        _, local_group = np.unique(d_group[sel], return_inverse=True)
        ranks = d_rank[sel]
        by_rank = np.argsort(ranks, kind="stable")
        bounds = np.flatnonzero(np.diff(ranks[by_rank])) + 1
        for job, (out_gt, out_iou) in zip(jobs, outs, strict=True):
            stop = len(by_rank)
            if job.max_rank is not None:
                stop = int(np.searchsorted(ranks[by_rank], job.max_rank, side="left"))
            j, best, ok = _greedy_by_rank(
                ious, local_group, np.split(by_rank[:stop], bounds[bounds < stop]), job
            )
            det = sel[by_rank[:stop]]
            out_gt[det] = np.where(ok, g_start[det, None] + j, -1)
            out_iou[det] = np.where(ok, best, 0.0)
    return outs


def _greedy_by_rank(
    ious: np.ndarray, local_group: np.ndarray, rank_rows: list[np.ndarray], job: _MatchJob
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run one rule over a bucket; ``ious`` (a, m) with -inf padding, ``rank_rows`` the rows
    of each rank in turn (one row per group). Returns column, IoU, matched flag, each
    (rows in rank order, T)."""
    m = ious.shape[1]
    t_count = len(job.thresholds)
    # pycocotools caps the threshold below 1 so that IoU == 1 still matches at t=1.
    thr = np.minimum(job.thresholds, 1 - 1e-10) if job.rule == "coco" else job.thresholds
    matched = np.zeros((local_group.max() + 1, t_count, m), dtype=bool)
    j_all, best_all, ok_all = [], [], []
    for rows in rank_rows:
        grp = local_group[rows]
        iou_r = ious[rows]  # (a, m)
        if job.rule == "coco":
            cand = np.where(matched[grp], -1.0, iou_r[:, None, :])
            cand = np.where(cand >= thr[None, :, None], cand, -1.0)
            # pycocotools keeps the last of equal best IoUs: argmax on reversed columns.
            j = m - 1 - np.argmax(cand[:, :, ::-1], axis=2)
            best = np.take_along_axis(cand, j[:, :, None], axis=2)[:, :, 0]
            ok = best >= 0
        else:
            jmax = np.argmax(iou_r, axis=1)  # first of equal best IoUs, like voc_eval
            ovmax = iou_r[np.arange(len(rows)), jmax]
            j = np.broadcast_to(jmax[:, None], (len(rows), t_count))
            best = np.broadcast_to(ovmax[:, None], j.shape)
            taken = matched[grp[:, None], np.arange(t_count)[None, :], j]
            ok = (best > thr[None, :]) & ~taken
        a_idx, t_idx = np.nonzero(ok)
        matched[grp[a_idx], t_idx, j[a_idx, t_idx]] = True
        j_all.append(j)
        best_all.append(best)
        ok_all.append(ok)
    if not j_all:
        empty = np.zeros((0, t_count))
        return empty.astype(np.int64), empty, empty.astype(bool)
    return np.concatenate(j_all), np.concatenate(best_all), np.concatenate(ok_all)


# --- AP ----------------------------------------------------------------------------------
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


def _voc_aps(tp: np.ndarray, n_gt: int) -> tuple[float, float]:
    """(11-point, all-point) AP from TP flags in descending-score order (voc_eval's formulas)."""
    ctp = np.cumsum(tp, dtype=np.float64)
    cfp = np.cumsum(~tp, dtype=np.float64)
    rec = ctp / n_gt
    prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    return ap_voc11(rec, prec), ap_voc_all(rec, prec)


def _coco_aps(tp: np.ndarray, n_gt: int) -> tuple[float, float]:
    """(AP50, AP50:95) from (T, D) TP flags in descending-score order (pycocotools' formulas)."""
    tps = np.cumsum(tp, axis=1).astype(float)
    fps = np.cumsum(~tp, axis=1).astype(float)
    rc = tps / n_gt
    pr = tps / (fps + tps + np.spacing(1))
    q = np.stack([_coco_precision_at_points(rc[t], pr[t]) for t in range(len(tp))])
    return float(np.mean(q[0])), float(np.mean(q))


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


def _match_flat(f: _Flat, jobs: Sequence[_MatchJob]) -> list[tuple[np.ndarray, np.ndarray]]:
    return _match_sorted(
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
            _MatchJob("voc", np.array(voc_thresholds)),
            _MatchJob("coco", COCO_IOU_THRESHOLDS, max_rank=COCO_MAX_DETECTIONS),
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
            aps["ap50_voc11"], aps["ap50_voc_all"] = _voc_aps(voc_gt[order, at_50] >= 0, n_gt)
            aps["ap_voc11"], aps["ap_voc_all"] = _voc_aps(voc_gt[order, at_thr] >= 0, n_gt)
            c_order = coco_by_score[coco_cls[coco_by_score] == c]
            aps["coco_ap50"], aps["coco_ap50_95"] = _coco_aps(coco_gt[c_order].T >= 0, n_gt)
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
    ((gt, match_iou),) = _match_flat(f, [_MatchJob("voc", np.array([float(iou_threshold)]))])
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
    curve = _curve(score[order], tp_flags, n_gt)
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


def _curve(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> Curve:
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
def _check_iou_threshold(value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"iou_threshold must be within [0, 1], got {value!r}")


def _check_thresholds(iou_threshold: float, conf_threshold: float) -> None:
    _check_iou_threshold(iou_threshold)
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


def _rounded(values: ArrayLike) -> list[float]:
    return [round(float(v), 6) for v in np.asarray(values).reshape(-1)]


def _threshold_grid(thresholds: np.ndarray) -> np.ndarray:
    """101 score thresholds: 0..1 for probability-like scores, else the observed range."""
    lo, hi = 0.0, 1.0
    if len(thresholds) and (thresholds.min() < 0 or thresholds.max() > 1):
        lo, hi = float(min(thresholds.min(), 0.0)), float(thresholds.max())
    return np.linspace(lo, hi, CURVE_POINTS)


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
