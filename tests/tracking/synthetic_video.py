"""Videos with known boxes for the tracking tests and benches (written as H.264 MP4).

- :func:`make_tiny_video`: dark ellipses moving over a light, slightly noisy floor. A few
  dozen small frames, made in well under a second: for fast tests of the run loop.
- :func:`make_two_mouse_video`: the shared open-field recording (one black mouse) with the
  same mouse from another moment pasted into every frame, so two real-looking, identical
  mice move about and cross. The pasted mouse is cut out of its own frame by its difference
  to the per-pixel median background, with a soft mask (its tail too), and laid over the
  current frame at the place it had then (the camera is still, so the arena around it
  matches). Which other moment: a fixed delay, chosen among candidates as the one whose
  two paths overlap on the most frames while the mice are rarely on top of each other
  (two identical mice exactly superposed are one blob to any detector).

Ground truth: ``boxes`` float32 (F, N, 4) ``x1, y1, x2, y2`` in the written video's pixels,
NaN where the animal is not visible (the recording's auto-labelling found no mouse). For
the recording the boxes come from the same heuristic that labels the Tiny model's training
frames (``bench/train_tiny_openfield.py``: background difference, tail removed by an
opening), on the original frame for the original mouse and on the donor frame for the
pasted one; a mouse partly hidden under the other keeps its whole box (as MOT ground truth
does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tracking.engine.render import Mp4Writer


@dataclass(frozen=True)
class GroundTruth:
    path: Path
    boxes: np.ndarray  # float32 (F, N, 4) x1, y1, x2, y2, NaN where not visible
    time_s: np.ndarray  # float64 (F,), index / fps (the writer's constant frame rate)
    fps: float
    size: tuple[int, int]  # width, height

    @property
    def n_frames(self) -> int:
        return int(self.boxes.shape[0])

    def save(self, path: Path) -> None:
        np.savez(path, boxes=self.boxes, time_s=self.time_s, fps=self.fps, size=self.size)

    @classmethod
    def load(cls, video: Path, path: Path) -> GroundTruth:
        data = np.load(path)
        return cls(video, data["boxes"], data["time_s"], float(data["fps"]), tuple(data["size"]))


# --------------------------------------------------------------------------------------------
# Fully synthetic


def ellipse_box(cx: float, cy: float, a: float, b: float, angle_deg: float) -> np.ndarray:
    """The axis-aligned bounding box (x1, y1, x2, y2) of a rotated ellipse."""
    t = np.deg2rad(angle_deg)
    half_w = np.hypot(a * np.cos(t), b * np.sin(t))
    half_h = np.hypot(a * np.sin(t), b * np.cos(t))
    return np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h], np.float32)


def tiny_frames(
    *, n_frames: int = 40, size: tuple[int, int] = (160, 120), n_animals: int = 2, seed: int = 0
):
    """Yield (image, boxes (N, 4)) of dark ellipses moving in separate lanes.

    Animal i moves left and right along its own horizontal lane (they never touch), turning
    slowly; frame sizes, counts and speeds are small so that tests run fast.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    floor = np.full((height, width, 3), 205, np.uint8)
    floor += rng.integers(0, 25, (height, width, 1), dtype=np.uint8)
    a, b = width / 16, width / 28
    lanes = (np.arange(n_animals) + 0.5) * height / n_animals
    phase = rng.uniform(0, 2 * np.pi, n_animals)
    for t in range(n_frames):
        image = floor.copy()
        boxes = []
        for i in range(n_animals):
            cx = width / 2 + (width / 2 - 2 * a) * np.sin(phase[i] + 0.15 * t * (1 + 0.3 * i))
            cy = lanes[i] + 0.15 * (height / n_animals - 2 * a) * np.cos(phase[i] + 0.1 * t)
            angle = 20 * np.sin(0.1 * t + i)
            cv2.ellipse(
                image,
                (round(cx * 16), round(cy * 16)),
                (round(a * 16), round(b * 16)),
                angle,
                0,
                360,
                (30, 30, 30),
                -1,
                cv2.LINE_AA,
                4,  # shift: sub-pixel centre and axes
            )
            boxes.append(ellipse_box(cx, cy, a, b, angle))
        yield image, np.stack(boxes)


def make_tiny_video(
    path: Path,
    *,
    n_frames: int = 40,
    size: tuple[int, int] = (160, 120),
    n_animals: int = 2,
    fps: float = 30.0,
    seed: int = 0,
) -> GroundTruth:
    """Write the ellipses of :func:`tiny_frames` as a (visually lossless) H.264 MP4."""
    boxes = []
    with Mp4Writer(path, size=size, fps=fps, crf=10, preset="ultrafast") as writer:
        for image, frame_boxes in tiny_frames(
            n_frames=n_frames, size=size, n_animals=n_animals, seed=seed
        ):
            writer.write(image)
            boxes.append(frame_boxes)
    return GroundTruth(
        Path(path), np.stack(boxes), np.arange(n_frames) / fps, fps, (int(size[0]), int(size[1]))
    )


# --------------------------------------------------------------------------------------------
# Two mice from the real recording

BACKGROUND_SAMPLES = 60
SOFT_FROM, SOFT_TO = 20, 60  # grey levels darker than the floor: alpha 0 -> 1


def _mouse_box_fn():
    from bench.train_tiny_openfield import mouse_box  # the Tiny model's auto-labelling

    return mouse_box


def _read_gray(cap: cv2.VideoCapture) -> tuple[np.ndarray, np.ndarray] | None:
    ok, frame = cap.read()
    if not ok:
        return None
    return frame, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def median_background(video: Path, *, start: int, n_frames: int) -> np.ndarray:
    """The per-pixel median of ``BACKGROUND_SAMPLES`` grey frames spread over the stretch,
    blurred as the auto-labelling blurs it: the empty arena (the mouse moves)."""
    wanted = set(np.linspace(start, start + n_frames - 1, BACKGROUND_SAMPLES).astype(int))
    cap = cv2.VideoCapture(str(video))
    grays = []
    for index in range(start + n_frames):
        if index not in wanted:
            if not cap.grab():
                break
            continue
        got = _read_gray(cap)
        if got is None:
            break
        grays.append(got[1])
    cap.release()
    return cv2.GaussianBlur(np.median(np.stack(grays), axis=0).astype(np.uint8), (5, 5), 0)


def mouse_boxes(video: Path, background: np.ndarray, *, start: int, n_frames: int) -> np.ndarray:
    """float32 (F, 4) x1, y1, x2, y2 of the mouse in each frame (original pixels), NaN where
    none is found."""
    mouse_box = _mouse_box_fn()
    cap = cv2.VideoCapture(str(video))
    for _ in range(start):
        cap.grab()
    out = np.full((n_frames, 4), np.nan, np.float32)
    for t in range(n_frames):
        got = _read_gray(cap)
        if got is None:
            out = out[:t]
            break
        box = mouse_box(got[1], background)
        if box is not None:
            x, y, w, h = box
            out[t] = (x, y, x + w, y + h)
    cap.release()
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of (F, 4) xyxy boxes; NaN rows give 0."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.nan_to_num(inter / np.where(union > 0, union, np.nan))


def choose_delay(boxes: np.ndarray, *, max_superposed: float = 0.03) -> int:
    """The donor delay (frames) whose two paths overlap (IoU > 0) on the most frames, among
    those where the mice are superposed (IoU > 0.5) on at most ``max_superposed`` of them."""
    n = len(boxes)
    best, best_overlap = n // 2, -1
    for delay in range(max(1, n // 20), n - max(1, n // 20), max(1, n // 200)):
        donor = boxes[(np.arange(n) + delay) % n]
        iou = _iou(boxes, donor)
        if np.mean(iou > 0.5) > max_superposed:
            continue
        overlap = int(np.sum(iou > 0))
        if overlap > best_overlap:
            best, best_overlap = delay, overlap
    return best


def _soft_mask(gray: np.ndarray, background: np.ndarray, box: np.ndarray) -> np.ndarray:
    """float32 alpha (H, W) of the mouse whose body box is ``box`` (its tail included)."""
    darker = cv2.subtract(background, cv2.GaussianBlur(gray, (3, 3), 0)).astype(np.float32)
    alpha = np.clip((darker - SOFT_FROM) / (SOFT_TO - SOFT_FROM), 0, 1)
    # Only the blob touching the body: the dark arena border and drawn lines stay out.
    count, labels = cv2.connectedComponents((darker >= SOFT_FROM).astype(np.uint8))
    x1, y1, x2, y2 = (int(v) for v in box)
    body = labels[max(0, y1) : y2 + 1, max(0, x1) : x2 + 1]
    ids = np.unique(body[body > 0])
    keep = np.isin(labels, ids).astype(np.uint8)
    keep = cv2.dilate(keep, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    return cv2.GaussianBlur(alpha * keep, (5, 5), 0)


def make_two_mouse_video(
    source: Path,
    output: Path,
    *,
    start: int = 0,
    n_frames: int | None = None,
    scale: float = 1.0,
    delay: int | None = None,
    crf: int = 18,
) -> GroundTruth:
    """Write ``output``: frames ``start .. start + n_frames`` of ``source`` (all by default),
    resized by ``scale``, with a second mouse pasted in (the source's mouse ``delay`` frames
    later, wrapping round the stretch; chosen by :func:`choose_delay` when ``None``)."""
    probe = cv2.VideoCapture(str(source))
    count = int(probe.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = float(probe.get(cv2.CAP_PROP_FPS)) or 30.0
    width, height = (
        int(probe.get(cv2.CAP_PROP_FRAME_WIDTH)),
        int(probe.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    probe.release()
    n_frames = min(n_frames or count - start, count - start)
    background = median_background(source, start=start, n_frames=n_frames)
    original = mouse_boxes(source, background, start=start, n_frames=n_frames)
    n_frames = len(original)
    delay = choose_delay(original) if delay is None else int(delay) % n_frames
    donor_rows = (np.arange(n_frames) + delay) % n_frames
    out_size = (round(width * scale) // 2 * 2, round(height * scale) // 2 * 2)
    sx, sy = out_size[0] / width, out_size[1] / height

    cap = cv2.VideoCapture(str(source))
    donor_cap = cv2.VideoCapture(str(source))
    for _ in range(start):
        cap.grab()
    for _ in range(start + delay):
        donor_cap.grab()
    with Mp4Writer(output, size=out_size, fps=fps, crf=crf) as writer:
        for t in range(n_frames):
            frame = _read_gray(cap)
            if donor_rows[t] == 0 and t > 0:  # the donor wraps round to the stretch's start
                donor_cap.release()
                donor_cap = cv2.VideoCapture(str(source))
                for _ in range(start):
                    donor_cap.grab()
            donor = _read_gray(donor_cap)
            assert frame is not None and donor is not None
            image = frame[0]
            donor_box = original[donor_rows[t]]
            if not np.isnan(donor_box).any():
                alpha = _soft_mask(donor[1], background, donor_box)[..., None]
                image = (alpha * donor[0] + (1 - alpha) * image + 0.5).astype(np.uint8)
            if scale != 1.0:
                image = cv2.resize(image, out_size, interpolation=cv2.INTER_AREA)
            writer.write(image)
    cap.release()
    donor_cap.release()
    boxes = np.stack([original, original[donor_rows]], axis=1) * np.array(
        [sx, sy, sx, sy], np.float32
    )
    return GroundTruth(
        Path(output), boxes.astype(np.float32), np.arange(n_frames) / fps, fps, out_size
    )
