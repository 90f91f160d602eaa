"""CLEAR-MOT and identity scores of a tracking result against ground truth, via ``motmetrics``.

A frame's objects and hypotheses are ``(ids, boxes)``: ids int (K,), boxes float (K, 4) x1, y1,
x2, y2 pixels. A pair matches when IoU >= ``iou_threshold`` (distance 1 - IoU, as MOT
benchmarks). The IoU matrix is computed here (motmetrics 1.4's ``iou_matrix`` needs NumPy < 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from tracking.engine.association import Tracklet
from tracking.engine.trajectory import Status, Trajectory

FrameBoxes = tuple[np.ndarray, np.ndarray]  # ids (K,), boxes (K, 4) xyxy


@dataclass(frozen=True)
class Scores:
    mota: float
    motp: float  # mean 1 - IoU of matches (lower is better), as motmetrics reports it
    idf1: float
    id_switches: int
    precision: float
    recall: float
    false_positives: int
    misses: int
    frames: int
    objects: int  # ground-truth boxes

    def to_dict(self) -> dict:
        return asdict(self)


def score_frames(
    truth: Sequence[FrameBoxes], hypotheses: Sequence[FrameBoxes], *, iou_threshold: float = 0.5
) -> Scores:
    """Score aligned per-frame lists (same length, same frames)."""
    import motmetrics as mm

    if len(truth) != len(hypotheses):
        raise ValueError("truth and hypotheses must cover the same frames")
    acc = mm.MOTAccumulator(auto_id=False)
    for frame, ((gt_ids, gt_boxes), (hyp_ids, hyp_boxes)) in enumerate(
        zip(truth, hypotheses, strict=True)
    ):
        distance = 1.0 - iou_matrix(gt_boxes, hyp_boxes)
        distance[distance > 1.0 - iou_threshold] = np.nan
        acc.update(list(np.asarray(gt_ids)), list(np.asarray(hyp_ids)), distance, frameid=frame)
    names = [
        "mota",
        "motp",
        "idf1",
        "num_switches",
        "precision",
        "recall",
        "num_false_positives",
        "num_misses",
        "num_frames",
        "num_objects",
    ]
    row = mm.metrics.create().compute(acc, metrics=names, name="run").iloc[0]
    return Scores(
        mota=float(row["mota"]),
        motp=float(row["motp"]),
        idf1=float(row["idf1"]),
        id_switches=int(row["num_switches"]),
        precision=float(row["precision"]),
        recall=float(row["recall"]),
        false_positives=int(row["num_false_positives"]),
        misses=int(row["num_misses"]),
        frames=int(row["num_frames"]),
        objects=int(row["num_objects"]),
    )


def score_trajectory(
    trajectory: Trajectory,
    truth_boxes: np.ndarray,
    *,
    iou_threshold: float = 0.5,
    include_interpolated: bool = True,
) -> Scores:
    """``truth_boxes``: float (F, M, 4) xyxy per trajectory frame and true animal, NaN where the
    animal is not visible (ids 1..M)."""
    return score_frames(
        boxes_as_frames(truth_boxes),
        trajectory_as_frames(trajectory, include_interpolated=include_interpolated),
        iou_threshold=iou_threshold,
    )


def boxes_as_frames(boxes: np.ndarray) -> list[FrameBoxes]:
    """(F, M, 4) with NaN rows for absent -> per-frame (ids 1..M, boxes)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    out = []
    for frame_boxes in boxes:
        present = np.flatnonzero(~np.isnan(frame_boxes).any(axis=1))
        out.append((present + 1, frame_boxes[present]))
    return out


def trajectory_as_frames(
    trajectory: Trajectory, *, include_interpolated: bool = True
) -> list[FrameBoxes]:
    keep = trajectory.status == Status.DETECTED
    if include_interpolated:
        keep |= trajectory.status == Status.INTERPOLATED
    boxes = np.where(keep[..., None], trajectory.boxes.astype(np.float64), np.nan)
    return boxes_as_frames(boxes)


def tracklets_as_frames(tracklets: Sequence[Tracklet], n_frames: int) -> list[FrameBoxes]:
    """A tracker's own output (one id per tracklet) as per-frame hypotheses."""
    ids: list[list[int]] = [[] for _ in range(n_frames)]
    boxes: list[list[np.ndarray]] = [[] for _ in range(n_frames)]
    for t in tracklets:
        for row, box in zip(t.rows, t.boxes, strict=True):
            ids[row].append(t.track_id)
            boxes[row].append(box)
    return [
        (np.array(i, dtype=np.int64), np.array(b, dtype=np.float64).reshape(-1, 4))
        for i, b in zip(ids, boxes, strict=True)
    ]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (len(a), len(b)) of xyxy boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    w = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )
    h = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None
    )
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
