"""Boxes, IoU and greedy matching of detections to ground truth (pure NumPy, no Django).

Boxes: ``(x, y, w, h)`` floats in original-image pixels, ``(x, y)`` the top-left corner;
arrays are ``(N, 4)`` in that order. ``xywh_to_xyxy``/``xyxy_to_xywh`` convert to and from
corner form ``(x1, y1, x2, y2)``.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

MatchRule = Literal["voc", "coco"]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Per detection (input order): index of its ground-truth box (-1: false positive), IoU.

    ``iou`` is the IoU with the matched box (0.0 for false positives).
    """

    gt_index: np.ndarray  # (N,) int
    iou: np.ndarray  # (N,) float


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
    check_iou_threshold(iou_threshold)
    order = np.argsort(-sc, kind="stable")
    n = len(dt)
    gt_index, match_iou = match_sorted(
        d_group=np.zeros(n, np.int64),
        d_rank=np.arange(n),
        d_box=dt[order],
        g_start=np.zeros(n, np.int64),
        g_count=np.full(n, len(gt), np.int64),
        g_box=gt,
        jobs=[MatchJob(rule, np.array([iou_threshold], dtype=np.float64))],
    )[0]
    out_index = np.empty(n, np.int64)
    out_iou = np.empty(n, np.float64)
    out_index[order] = gt_index[:, 0]
    out_iou[order] = match_iou[:, 0]
    return MatchResult(gt_index=out_index, iou=out_iou)


@dataclass(frozen=True)
class MatchJob:
    """One matching pass: a rule, its IoU thresholds, and COCO's per-group detection cap."""

    rule: MatchRule
    thresholds: np.ndarray
    max_rank: int | None = None  # detections ranked lower in their group stay unmatched


def match_sorted(
    *,
    d_group: np.ndarray,
    d_rank: np.ndarray,
    d_box: np.ndarray,
    g_start: np.ndarray,
    g_count: np.ndarray,
    g_box: np.ndarray,
    jobs: Sequence[MatchJob],
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
    ious: np.ndarray, local_group: np.ndarray, rank_rows: list[np.ndarray], job: MatchJob
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


def check_iou_threshold(value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"iou_threshold must be within [0, 1], got {value!r}")
