"""A fake detector over constructed ground truth: paths in, per-frame detections out.

Ground truth is float (F, M, 4) x1, y1, x2, y2 pixels per frame and true animal (NaN where the
animal is out of sight). The detector sees every visible animal, with optional jitter, misses,
extra (spurious) boxes and one merged box where two animals overlap, as a YOLO model does.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tracking.engine.trajectory import FrameDetections

FPS = 30.0
BOX_W, BOX_H = 60.0, 30.0  # a mouse seen from above, body only


def boxes_around(centres: np.ndarray, w: float = BOX_W, h: float = BOX_H) -> np.ndarray:
    """(F, M, 2) centres -> (F, M, 4) boxes (NaN centres stay NaN)."""
    c = np.asarray(centres, dtype=np.float64)
    return np.concatenate([c - [w / 2, h / 2], c + [w / 2, h / 2]], axis=-1)


def crossing_paths(n_frames: int = 150) -> np.ndarray:
    """Two animals on an X at constant speed: both go right at 3 px/frame, one down and one up
    at 2 px/frame; 60x30 boxes overlap for 15 frames around frame 75."""
    t = np.arange(n_frames, dtype=np.float64)
    x = 100.0 + 3.0 * t
    down = np.stack([x, 90.0 + 2.0 * t], axis=1)
    up = np.stack([x, 390.0 - 2.0 * t], axis=1)
    return np.stack([down, up], axis=1)


def wandering_path(n_frames: int, *, seed: int, arena=(40.0, 40.0, 600.0, 440.0)) -> np.ndarray:
    """A mouse-like path (F, 2): bouts of running (4 px/frame) and pausing, smooth turns,
    reflected off the arena's walls."""
    rng = np.random.default_rng(seed)
    low, high = np.array(arena[:2]), np.array(arena[2:])
    pos = (low + high) / 2
    heading, speed, goal = rng.uniform(0, 2 * np.pi), 0.0, 0.0
    out = np.empty((n_frames, 2))
    for i in range(n_frames):
        if i % 45 == 0:
            goal = rng.choice([0.0, 4.0], p=[0.3, 0.7])
        speed += 0.15 * (goal - speed)
        heading += rng.normal(0, 0.08)
        step = speed * np.array([np.cos(heading), np.sin(heading)])
        if not low[0] < pos[0] + step[0] < high[0]:
            heading = np.pi - heading
        if not low[1] < pos[1] + step[1] < high[1]:
            heading = -heading
        pos = np.clip(pos + speed * np.array([np.cos(heading), np.sin(heading)]), low, high)
        out[i] = pos
    return out


def detect(
    truth: np.ndarray,
    *,
    fps: float = FPS,
    seed: int = 0,
    jitter_px: float = 0.0,
    score: float = 0.9,
    miss: np.ndarray | None = None,
    extra: Iterable[tuple[int, tuple[float, float, float, float], float]] = (),
    merge_iou: float | None = None,
) -> list[FrameDetections]:
    """Per-frame detections of ``truth`` (F, M, 4).

    ``miss``: bool (F, M), True where the detector misses a visible animal. ``extra``: spurious
    ``(frame, box, score)``. ``merge_iou``: where two animals' true boxes overlap by more, the
    detector reports one box around both (the later animal's box is dropped).
    """
    rng = np.random.default_rng(seed)
    n_frames, n_animals = truth.shape[:2]
    extras: dict[int, list] = {}
    for frame, box, s in extra:
        extras.setdefault(frame, []).append((box, s))
    out = []
    for f in range(n_frames):
        boxes = []
        present = [
            a
            for a in range(n_animals)
            if not np.isnan(truth[f, a]).any() and not (miss is not None and miss[f, a])
        ]
        merged: set[int] = set()
        if merge_iou is not None:
            for i, a in enumerate(present):
                for b in present[i + 1 :]:
                    if a in merged or b in merged:
                        continue
                    if _iou(truth[f, a], truth[f, b]) > merge_iou:
                        merged.add(b)
                        boxes.append(_union(truth[f, a], truth[f, b]))
                        merged.add(a)
        for a in present:
            if a not in merged:
                boxes.append(truth[f, a].copy())
        boxes = [b + rng.normal(0, jitter_px, 4) if jitter_px else b for b in boxes]
        scores = [score] * len(boxes)
        for box, s in extras.get(f, []):
            boxes.append(np.asarray(box, dtype=np.float64))
            scores.append(s)
        out.append(
            FrameDetections(
                frame=f,
                time_s=f / fps,
                boxes_xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
                scores=np.array(scores, dtype=np.float32),
            )
        )
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])
