"""Frame-to-frame association: per-frame detections -> tracklets, with Ultralytics' trackers.

The engine's own detections are fed to ``ultralytics.trackers.byte_tracker.BYTETracker`` (or
``bot_sort.BOTSORT``), one frame at a time, instead of ``model.track`` (which loses ids in batch
mode, ultralytics#22483). A tracklet is what one tracker id covered; it may be wrong through an
overlap of two animals, which :mod:`tracking.engine.identity` repairs.

Ultralytics is imported lazily, inside :func:`associate`, and only once the caller has done the
app's offline set-up (``YOLO_OFFLINE=1``, no auto-install), so importing this module is cheap and
never reaches the network. The trackers' assignment needs ``lap``; it is checked first, because
Ultralytics would otherwise try to ``pip install`` it at import.

Boxes: ``x1, y1, x2, y2`` original-video pixels (as in :class:`FrameDetections`); the tracker
wants centre ``x, y, w, h`` and gets it from the adapter.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracking.engine.params import TrackerConfig
from tracking.engine.trajectory import FrameDetections


class RowSpan:
    """The first and last frame row of something that holds ``rows`` (int64, increasing):
    a tracklet, or a piece of one while identities are assigned."""

    rows: np.ndarray

    @property
    def start(self) -> int:
        return int(self.rows[0])

    @property
    def end(self) -> int:
        return int(self.rows[-1])


@dataclass(frozen=True)
class Tracklet(RowSpan):
    """One tracker id over time.

    rows: int64 (K,) increasing row indices into the detection sequence (not frame numbers);
    det_index: int64 (K,) index of the detection within its frame's ``FrameDetections``;
    boxes: float64 (K, 4) x1, y1, x2, y2 as detected (not Kalman-smoothed); scores: float64 (K,);
    appearance: float32 (K, D) the detections' descriptors (NaN rows where a frame had none),
    or ``None`` where no frame had any.
    """

    track_id: int
    rows: np.ndarray
    det_index: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    appearance: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.rows.shape[0])


class _Detections:
    """The part of Ultralytics' ``Boxes`` the trackers read: ``conf``, ``cls``, ``xywh``,
    ``xyxy``, ``len()`` and indexing by a boolean mask."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray):
        self.xyxy = xyxy
        self.conf = conf
        self.cls = np.zeros(len(conf), dtype=np.float32)

    @property
    def xywh(self) -> np.ndarray:
        b = self.xyxy
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w, h], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index) -> _Detections:
        return _Detections(self.xyxy[index], self.conf[index])


def make_tracker(config: TrackerConfig):
    """A fresh Ultralytics BYTETracker/BOTSORT for ``config`` (needs the offline set-up done).

    The tracker's memory of lost tracks is in frames (``config.track_buffer``), as in its YAML.
    """
    _require_offline_setup()
    from ultralytics.utils import IterableSimpleNamespace

    args = IterableSimpleNamespace(
        tracker_type=config.tracker_type,
        track_high_thresh=config.track_high_thresh,
        track_low_thresh=config.track_low_thresh,
        new_track_thresh=config.new_track_thresh,
        track_buffer=config.track_buffer,
        match_thresh=config.match_thresh,
        fuse_score=config.fuse_score,
        gmc_method="none",  # no frames here, and an arena's camera does not move
        proximity_thresh=config.proximity_thresh,
        appearance_thresh=config.appearance_thresh,
        with_reid=False,
        model="auto",
    )
    if config.tracker_type == "botsort":
        from ultralytics.trackers.bot_sort import BOTSORT

        return BOTSORT(args)
    from ultralytics.trackers.byte_tracker import BYTETracker

    return BYTETracker(args)


def associate(
    detections: Sequence[FrameDetections], config: TrackerConfig, *, min_score: float = 0.0
) -> list[Tracklet]:
    """Run the tracker over the whole sequence; return tracklets sorted by (start, track_id).

    Detections below ``min_score`` or with a non-positive width/height are never shown to the
    tracker. Ultralytics hides a new track until its second detection; that first detection is
    kept here (it is part of the tracklet). Deterministic: a fresh tracker per call, ids from 1.
    """
    tracker = make_tracker(config)
    rows: dict[int, list[tuple[int, int]]] = {}
    pending: dict[int, tuple[int, int]] = {}  # unconfirmed track id -> (row, det index)
    for row, fd in enumerate(detections):
        boxes = np.asarray(fd.boxes_xyxy, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(fd.scores, dtype=np.float32).reshape(-1)
        keep = np.flatnonzero(
            (scores >= min_score)
            & np.isfinite(boxes).all(axis=1)
            & (boxes[:, 2] > boxes[:, 0])
            & (boxes[:, 3] > boxes[:, 1])
        )
        out = tracker.update(_Detections(boxes[keep], scores[keep]))
        for line in np.asarray(out).reshape(-1, 8) if len(out) else ():
            track_id, det = int(line[4]), int(keep[int(line[7])])
            if track_id in pending:
                rows.setdefault(track_id, []).append(pending.pop(track_id))
            rows.setdefault(track_id, []).append((row, det))
        pending = {
            int(t.track_id): (row, int(keep[int(t.idx)]))
            for t in tracker.tracked_stracks
            if not t.is_activated and t.frame_id == tracker.frame_id
        }

    tracklets = []
    for track_id, pairs in rows.items():
        r = np.array([p[0] for p in pairs], dtype=np.int64)
        d = np.array([p[1] for p in pairs], dtype=np.int64)
        tracklets.append(
            Tracklet(
                track_id=track_id,
                rows=r,
                det_index=d,
                boxes=np.stack(
                    [
                        np.asarray(detections[i].boxes_xyxy, np.float64)[j]
                        for i, j in zip(r, d, strict=True)
                    ]
                ),
                scores=np.array(
                    [float(np.asarray(detections[i].scores)[j]) for i, j in zip(r, d, strict=True)]
                ),
                appearance=_appearance_of(detections, r, d),
            )
        )
    tracklets.sort(key=lambda t: (t.start, t.track_id))
    return tracklets


def _appearance_of(
    detections: Sequence[FrameDetections], rows: np.ndarray, det_index: np.ndarray
) -> np.ndarray | None:
    looks = [detections[i].appearance for i in rows]
    sizes = {a.shape[1] for a in looks if a is not None and a.ndim == 2}
    if len(sizes) != 1:
        return None  # none taken (or of mixed kinds, which cannot be compared)
    out = np.full((len(rows), sizes.pop()), np.nan, np.float32)
    for k, (a, j) in enumerate(zip(looks, det_index, strict=True)):
        if a is not None and a.ndim == 2 and j < len(a):
            out[k] = a[j]
    return out


def _require_offline_setup() -> None:
    """Refuse to import Ultralytics before the offline set-up, and check ``lap`` ourselves."""
    if os.environ.get("YOLO_OFFLINE") != "1" or os.environ.get("YOLO_AUTOINSTALL") != "0":
        raise RuntimeError(
            "Ultralytics' offline set-up must run before tracking (YOLO_OFFLINE=1, "
            "YOLO_AUTOINSTALL=0); the caller does it once per process"
        )
    try:
        import lap

        assert lap.__version__
    except (ImportError, AssertionError, AttributeError) as exc:
        # Ultralytics would pip-install it at import time; fail clearly instead.
        raise RuntimeError("the 'lap' package is required for tracking (requirements.txt)") from exc
