"""Zero-label bootstrap: candidate animal boxes from a background model. No Django import.

A video's animals move; the empty arena does not. So:

1. background = the per-pixel median of frames sampled over the video (:func:`background_model`):
   at any pixel the animal is present in a minority of the frames, so the median is the arena,
   with its vignetted border, drawn lines and shadows;
2. difference of each (lightly blurred) frame to the background. Whether the animals are darker
   or brighter than the arena is decided once per video (:func:`background_model`), by which
   signed difference has the stronger extreme across the sampled frames (a black mouse on a
   white floor: strongly negative; a white mouse on a dark floor: strongly positive);
3. foreground = pixels that differ by at least the model's ``threshold`` in that direction (an
   automatic threshold: half the typical peak difference, never below a noise floor);
4. a morphological opening with an elliptical kernel (``open_px``, default about 1/50 of the
   shorter image side, 9 px at 640x480) removes the thin tail, cables and noise while keeping the
   body, which is many times wider;
5. connected components; too small (less than ``min_area_frac`` of the image) or too large
   ones dropped; the ``expected`` largest are kept (the number of animals the project expects).

Every box is in original-image pixels: ``(x, y)`` top-left corner, width, height (floats). A
proposal's ``score`` in [0, 1] is how clearly the blob stands out: its mean difference to the
background over twice the threshold, capped at 1 (a faint, barely-above-threshold blob scores
about 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: The blur applied to frames and background before differencing (JPEG/H.264 block noise).
BLUR_PX = 5
#: The differences below this (grey levels) are sensor and codec noise, whatever the video.
NOISE_FLOOR = 18.0
#: The threshold is this fraction of the typical peak difference: half of it puts the mask's
#: edge where the (optically and motion-blurred) animal edge is half-way between the animal's
#: and the floor's grey, the usual definition of an edge; 0.4 took in the soft halo around
#: the body (boxes about 3 px too big on each side at 640x480, IoU 0.80 against hand boxes).
PEAK_FRACTION = 0.5
#: The percentile that stands for a frame's "peak" difference: an animal covers well over
#: 0.05% of the image, so this lands inside it whenever one is visible.
PEAK_PERCENTILE = 99.95
MAX_BACKGROUND_FRAMES = 64


@dataclass(frozen=True)
class BackgroundModel:
    """The empty arena and how animals differ from it.

    background: float32 (H, W) grey levels, blurred. polarity: -1 (animals darker) or +1
    (brighter). threshold: grey levels of difference that count as foreground.
    """

    background: np.ndarray
    polarity: int
    threshold: float

    @property
    def dark_animals(self) -> bool:
        return self.polarity < 0


@dataclass(frozen=True)
class ProposedBox:
    """A candidate box in original-image pixels, (x, y) top-left corner, plus its score."""

    x: float
    y: float
    w: float
    h: float
    score: float
    area_px: int  # foreground pixels of the blob after the opening


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) from an HxW grey or HxWx3 BGR uint8 image."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    raise ValueError(f"expected an HxW or HxWx3 image, got shape {image.shape}")


def _blurred(gray: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(gray, (BLUR_PX, BLUR_PX), 0).astype(np.float32)


def background_model(frames: Sequence[np.ndarray]) -> BackgroundModel:
    """The background and polarity from frames sampled over one video (grey or BGR).

    At least 3 frames of one size are needed (the median of two is their mean, which keeps
    half an animal); up to :data:`MAX_BACKGROUND_FRAMES`, evenly chosen, are used.
    """
    if len(frames) < 3:
        raise ValueError("the background needs at least 3 frames spread over the video")
    step = max(1, len(frames) // MAX_BACKGROUND_FRAMES)
    chosen = [to_gray(f) for f in list(frames)[::step][:MAX_BACKGROUND_FRAMES]]
    if len({g.shape for g in chosen}) != 1:
        raise ValueError("the frames of one background must all have the same size")
    stack = np.stack([_blurred(g) for g in chosen])
    background = np.median(stack, axis=0).astype(np.float32)
    diffs = stack - background  # (N, H, W): negative where darker than the arena
    flat = diffs.reshape(len(chosen), -1)
    dark_peak = float(np.median(np.percentile(-flat, PEAK_PERCENTILE, axis=1)))
    bright_peak = float(np.median(np.percentile(flat, PEAK_PERCENTILE, axis=1)))
    polarity = -1 if dark_peak >= bright_peak else 1
    peak = max(dark_peak, bright_peak)
    threshold = max(NOISE_FLOOR, PEAK_FRACTION * peak)
    return BackgroundModel(background=background, polarity=polarity, threshold=threshold)


def default_open_px(height: int, width: int) -> int:
    """An odd kernel size about 1/50 of the shorter side (9 px at 640x480), at least 3."""
    size = max(3, int(round(min(height, width) / 53)))
    return size if size % 2 else size + 1


def foreground_mask(
    image: np.ndarray, model: BackgroundModel, *, open_px: int | None = None
) -> np.ndarray:
    """uint8 (H, W) 0/1: pixels of animals, after the opening that removes thin parts."""
    gray = to_gray(image)
    if gray.shape != model.background.shape:
        raise ValueError(
            f"frame is {gray.shape[1]}x{gray.shape[0]}, the background "
            f"{model.background.shape[1]}x{model.background.shape[0]}"
        )
    signed = (_blurred(gray) - model.background) * model.polarity
    mask = (signed >= model.threshold).astype(np.uint8)
    size = open_px or default_open_px(*gray.shape)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)


def propose_boxes(
    image: np.ndarray,
    model: BackgroundModel,
    *,
    expected: int = 1,
    open_px: int | None = None,
    min_area_frac: float = 0.0005,
    max_area_frac: float = 0.25,
) -> list[ProposedBox]:
    """At most ``expected`` boxes, the largest blobs first, for one frame.

    ``min_area_frac``/``max_area_frac``: blob area bounds as a share of the image (a mouse
    seen from above at 640x480 is about 1,000-6,000 px, 0.3-2%).
    """
    if expected < 1:
        raise ValueError("expected must be at least 1")
    gray = to_gray(image)
    mask = foreground_mask(gray, model, open_px=open_px)
    total = gray.shape[0] * gray.shape[1]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    signed = (_blurred(gray) - model.background) * model.polarity
    blobs = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if not min_area_frac * total <= area <= max_area_frac * total:
            continue
        contrast = float(signed[labels == label].mean())
        score = min(1.0, contrast / (2.0 * model.threshold))
        blobs.append(ProposedBox(float(x), float(y), float(w), float(h), round(score, 4), area))
    blobs.sort(key=lambda b: b.area_px, reverse=True)
    return blobs[:expected]


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two (x, y, w, h) boxes (top-left corner, size)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
