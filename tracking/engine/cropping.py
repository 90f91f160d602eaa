"""Dynamic cropping: run the detector on a window around the animals (no Django import).

Once every animal has been found, the next frame is analysed on a window around their last
boxes instead of on the whole frame (the idea of DeepLabCut's dynamic cropping). Detection
then costs a fraction of a full frame, because the window is small, *without* changing what
the model sees:

- **Same scale.** The full W×H frame at ``imgsz`` S is scaled by ``s = S / max(W, H)``.
  A window of w×h original pixels is given ``imgsz = max(w, h) * s`` (a multiple of 32), so
  the model sees the animals at the size it learned, not blown up to S.
- **Same pixels, same grid.** Window sides are multiples of ``32 / s`` original pixels (one
  cell of the network's coarsest stride) and its corner sits on the full frame's stride grid
  (including the offset of the letterbox padding Ultralytics adds to the full frame). The
  resized window is then exactly a piece of the resized full frame, on the same cells, with
  no padding of its own: boxes found in it agree with the full frame's to a pixel or so.
  Where the grid-aligned window passes the frame's edge, that part is filled with the
  letterbox grey (114), as in the full frame's input.

The window is the union of the last boxes, each grown by ``margin`` times its longer side on
every side (an animal turning swaps its box's sides), clipped to the frame, then aligned.
**One window per animal** where that costs fewer pixels (:func:`plan_windows`): two mice in
opposite corners would need a window of most of the frame, but two small ones cost a
fraction of it. Grown boxes are merged while one window around two costs no more than two;
what remains is aligned, and all windows of a frame are given the same size (the largest's
cells), so their crops share one input size and go to the detector as one batch. Their
boxes are put together (a box seen by two overlapping windows counts once: the same
class-agnostic IoU rule as the model's NMS) and checked as one window's are; a box is cut
only when no window holds it whole.
Animals are counted as *distinct* boxes: a box overlapping a better one by IoU > ``DUPLICATE_IOU``
is a second box on the same animal (a weak detector gives one on the body and one on body +
tail), not a second animal; otherwise a window around one of two mice, holding two boxes of
that one mouse, would pass for both and lose the other until the next refresh.
Back to the full frame when: fewer than ``n_animals`` were found in the window, one of the
best ``n_animals`` scores is under ``min_score``, one of them touches a window edge inside
the frame (the animal may be cut), the aligned window would cover more than
``max_area_fraction`` of the frame, and every ``refresh_s`` seconds of video (to catch
animals entering elsewhere).
A frame whose window fails these checks is detected again on the full frame, so its result
is always a full-frame-quality one.

Boxes: ``x1, y1, x2, y2`` (corners) in original-video pixels, float32, unless named xywh
(``x, y`` top-left, width, height, in the detector input's pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

STRIDE = 32  # the coarsest stride of YOLO detectors; input sizes are multiples of it
PAD_VALUE = 114  # Ultralytics' letterbox grey
DUPLICATE_IOU = 0.5  # two boxes overlapping this much are one animal (as the pipeline's)


@dataclass(frozen=True)
class CropParams:
    """Tunables of dynamic cropping (``enabled=False``: always the full frame)."""

    enabled: bool = True
    # Each last box grows by margin x its longer side, on every side. Half a body is plenty
    # for 30 fps (a running mouse moves a tenth of its length a frame), and a box that
    # still reaches the window's edge sends the frame back to the full frame.
    margin: float = 0.5
    max_area_fraction: float = 0.6  # larger windows save too little: full frame instead
    min_score: float = 0.5  # a best-n score under this sends the frame back to full
    refresh_s: float = 2.0  # at least one full frame per this many seconds of video
    # Put windows on the full frame's stride-32 grid (see above). False: the region itself,
    # long side rounded up to a whole input size; smaller inputs, boxes a pixel or so off.
    align: bool = True
    # One window per animal where that costs fewer pixels than one around all (see above).
    per_animal: bool = True


@dataclass(frozen=True)
class Window:
    """Where and how big the detector runs: frame pixels ``x0 <= x < x1``, ``y0 <= y < y1``
    (may pass the frame's edge by less than one grid cell), input size ``imgsz``."""

    x0: int
    y0: int
    x1: int
    y1: int
    imgsz: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def round_up(value: float, multiple: int = STRIDE) -> int:
    return int(math.ceil(value / multiple - 1e-9)) * multiple


def full_window(frame_size: tuple[int, int], imgsz: int) -> Window:
    width, height = frame_size
    return Window(0, 0, width, height, imgsz)


def crop_imgsz(w: float, h: float, *, frame_size: tuple[int, int], imgsz: int) -> int:
    """The input size that shows a w×h crop at the scale of the full frame at ``imgsz``:
    ``max(w, h) * imgsz / max(W, H)`` rounded up to a multiple of 32."""
    return max(STRIDE, round_up(max(w, h) * imgsz / max(frame_size)))


def letterbox_offset(frame_size: tuple[int, int], imgsz: int) -> tuple[float, float]:
    """Left and top padding, in network pixels, that Ultralytics' ``LetterBox(auto=True)``
    adds to the full frame at ``imgsz`` (640×480 at 320: (0, 8))."""
    width, height = frame_size
    r = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * r), round(height * r)
    dw, dh = (imgsz - new_w) % STRIDE, (imgsz - new_h) % STRIDE
    return float(round(dw / 2 - 0.1)), float(round(dh / 2 - 0.1))


def plan_window(
    boxes_xyxy: np.ndarray,
    *,
    frame_size: tuple[int, int],
    imgsz: int,
    params: CropParams,
) -> Window | None:
    """The window around ``boxes_xyxy`` (K, 4), or ``None`` where the full frame is better."""
    if len(boxes_xyxy) == 0:
        return None
    width, height = frame_size
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    grow = params.margin * np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    x0 = max(0.0, float(np.min(b[:, 0] - grow)))
    y0 = max(0.0, float(np.min(b[:, 1] - grow)))
    x1 = min(float(width), float(np.max(b[:, 2] + grow)))
    y1 = min(float(height), float(np.max(b[:, 3] + grow)))
    if x1 <= x0 or y1 <= y0:
        return None
    scale = imgsz / max(width, height)
    if not params.align:
        window = _unaligned_window(x0, y0, x1, y1, frame_size=frame_size, scale=scale)
        if window.imgsz >= imgsz or window.width * window.height > (
            params.max_area_fraction * width * height
        ):
            return None
        return window
    cell = STRIDE / scale  # original pixels per stride-32 cell of the full frame
    off_x, off_y = letterbox_offset(frame_size, imgsz)
    phase_x, phase_y = -off_x / scale, -off_y / scale  # where the full frame's cells start
    gx0 = math.floor((x0 - phase_x) / cell + 1e-9)
    gy0 = math.floor((y0 - phase_y) / cell + 1e-9)
    gx1 = math.ceil((x1 - phase_x) / cell - 1e-9)
    gy1 = math.ceil((y1 - phase_y) / cell - 1e-9)
    window = Window(
        x0=round(phase_x + gx0 * cell),
        y0=round(phase_y + gy0 * cell),
        x1=round(phase_x + gx1 * cell),
        y1=round(phase_y + gy1 * cell),
        imgsz=STRIDE * max(gx1 - gx0, gy1 - gy0),
    )
    inside_w = min(window.x1, width) - max(window.x0, 0)
    inside_h = min(window.y1, height) - max(window.y0, 0)
    if window.imgsz >= imgsz or inside_w * inside_h > params.max_area_fraction * width * height:
        return None
    return window


def plan_windows(
    boxes_xyxy: np.ndarray,
    *,
    frame_size: tuple[int, int],
    imgsz: int,
    params: CropParams,
) -> list[Window] | None:
    """The windows around ``boxes_xyxy`` (K, 4): one (:func:`plan_window`) when the grown
    boxes merge into one region, else one per region, all of one size; ``None`` where the
    full frame is better (the windows together cover more than ``max_area_fraction`` of it,
    or need as many input pixels)."""
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    if len(b) == 0:
        return None
    regions = _merged_regions(_grown(b, frame_size=frame_size, params=params))
    if len(regions) == 1 or not params.align or not params.per_animal:
        one = plan_window(b, frame_size=frame_size, imgsz=imgsz, params=params)
        return None if one is None else [one]
    width, height = frame_size
    scale = imgsz / max(width, height)
    cell = STRIDE / scale
    off_x, off_y = letterbox_offset(frame_size, imgsz)
    phase_x, phase_y = -off_x / scale, -off_y / scale
    grids = [_grid_cells(r, cell=cell, phase=(phase_x, phase_y)) for r in regions]
    cols = max(g[2] - g[0] for g in grids)
    rows = max(g[3] - g[1] for g in grids)
    # The full frame's cells, letterbox padding included: where a window may lie.
    last_col = math.ceil((width - phase_x) / cell - 1e-9)
    last_row = math.ceil((height - phase_y) / cell - 1e-9)
    windows = []
    for gx0, gy0, gx1, gy1 in grids:
        gx0 = _spread(gx0, gx1, cols, last_col)
        gy0 = _spread(gy0, gy1, rows, last_row)
        windows.append(
            Window(
                x0=round(phase_x + gx0 * cell),
                y0=round(phase_y + gy0 * cell),
                x1=round(phase_x + (gx0 + cols) * cell),
                y1=round(phase_y + (gy0 + rows) * cell),
                imgsz=STRIDE * max(cols, rows),
            )
        )
    full_cells = math.ceil(imgsz / STRIDE) ** 2
    inside = sum(
        (min(w.x1, width) - max(w.x0, 0)) * (min(w.y1, height) - max(w.y0, 0)) for w in windows
    )
    if (
        len(windows) * max(cols, rows) ** 2 >= full_cells
        or inside > params.max_area_fraction * width * height
    ):
        return None
    return windows


def _grown(b: np.ndarray, *, frame_size: tuple[int, int], params: CropParams) -> list[list[float]]:
    width, height = frame_size
    grow = params.margin * np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
    return [
        [max(0.0, x0 - g), max(0.0, y0 - g), min(float(width), x1 + g), min(float(height), y1 + g)]
        for (x0, y0, x1, y1), g in zip(b.tolist(), grow.tolist(), strict=True)
    ]


def _merged_regions(regions: list[list[float]]) -> list[list[float]]:
    """Merge two regions while the box around both has no more area than the two: a
    window around two nearby animals costs less than two windows."""
    area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])  # noqa: E731
    regions = [list(r) for r in regions]
    merged = True
    while merged and len(regions) > 1:
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i], regions[j]
                u = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                if area(u) <= area(a) + area(b):
                    regions[i] = u
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    return regions


def _grid_cells(
    region: list[float], *, cell: float, phase: tuple[float, float]
) -> tuple[int, int, int, int]:
    """The full frame's stride cells ``(gx0, gy0, gx1, gy1)`` (end exclusive) covering
    ``region``."""
    x0, y0, x1, y1 = region
    return (
        math.floor((x0 - phase[0]) / cell + 1e-9),
        math.floor((y0 - phase[1]) / cell + 1e-9),
        math.ceil((x1 - phase[0]) / cell - 1e-9),
        math.ceil((y1 - phase[1]) / cell - 1e-9),
    )


def _spread(g0: int, g1: int, size: int, last: int) -> int:
    """The first cell of ``size`` cells around cells ``g0 .. g1``, kept inside ``0 ..
    last`` where they fit (a window grown past the frame would only see padding)."""
    start = g0 - (size - (g1 - g0)) // 2
    return max(0, min(start, last - size)) if size <= last else start


def _unaligned_window(
    x0: float, y0: float, x1: float, y1: float, *, frame_size: tuple[int, int], scale: float
) -> Window:
    """The region itself, its long side grown to a whole input size (a multiple of 32 at
    ``scale``) and kept inside the frame; the runtime's letterbox pads the short side."""
    width, height = frame_size
    imgsz = max(STRIDE, round_up(max(x1 - x0, y1 - y0) * scale))
    side = imgsz / scale
    if x1 - x0 >= y1 - y0:
        grow = (min(side, width) - (x1 - x0)) / 2
        x0, x1 = x0 - grow, x1 + grow
        x0, x1 = x0 - max(0.0, x1 - width), x1 - min(0.0, x0)
        x0, x1 = max(0.0, x0), min(float(width), x1)
    else:
        grow = (min(side, height) - (y1 - y0)) / 2
        y0, y1 = y0 - grow, y1 + grow
        y0, y1 = y0 - max(0.0, y1 - height), y1 - min(0.0, y0)
        y0, y1 = max(0.0, y0), min(float(height), y1)
    return Window(round(x0), round(y0), round(x1), round(y1), imgsz)


def extract(image: np.ndarray, window: Window) -> np.ndarray:
    """The detector input for ``window``: a view of ``image`` (H, W, 3) where the window lies
    inside it, else a copy with the letterbox grey outside the frame."""
    height, width = image.shape[:2]
    if window.x0 >= 0 and window.y0 >= 0 and window.x1 <= width and window.y1 <= height:
        return image[window.y0 : window.y1, window.x0 : window.x1]
    sx0, sy0 = min(max(0, window.x0), width), min(max(0, window.y0), height)
    sx1, sy1 = max(min(width, window.x1), sx0), max(min(height, window.y1), sy0)
    if sx1 == sx0 or sy1 == sy0:
        return np.full((window.height, window.width, 3), PAD_VALUE, np.uint8)
    return cv2.copyMakeBorder(
        image[sy0:sy1, sx0:sx1],
        sy0 - window.y0,
        window.y1 - sy1,
        sx0 - window.x0,
        window.x1 - sx1,
        cv2.BORDER_CONSTANT,
        value=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
    )


def to_frame(
    boxes_xywh: np.ndarray,
    scores: np.ndarray,
    window: Window,
    frame_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes found in a window's input (xywh, input pixels) as float32 (K, 4) ``x1, y1, x2,
    y2`` frame pixels, clipped to the frame as the full frame's boxes are, with their float32
    scores; boxes left without area by the clipping are dropped."""
    width, height = frame_size
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    x1 = np.clip(b[:, 0] + window.x0, 0, width)
    y1 = np.clip(b[:, 1] + window.y0, 0, height)
    x2 = np.clip(b[:, 0] + b[:, 2] + window.x0, 0, width)
    y2 = np.clip(b[:, 1] + b[:, 3] + window.y0, 0, height)
    out = np.stack([x1, y1, x2, y2], axis=1).astype(np.float32)
    keep = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    return out[keep], np.asarray(scores, np.float32).reshape(-1)[keep]


def best(boxes_xyxy: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` highest-scoring *distinct* boxes and their scores, best first: a box
    overlapping an already chosen one by IoU > ``DUPLICATE_IOU`` is skipped (the same animal)."""
    boxes = np.asarray(boxes_xyxy).reshape(-1, 4)
    kept: list[int] = []
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if len(kept) == n:
            break
        if not kept or float(_iou_to(boxes[i], boxes[kept]).max()) <= DUPLICATE_IOU:
            kept.append(int(i))
    return boxes_xyxy[kept], scores[kept]


def _iou_to(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    b = np.asarray(box, np.float64)
    o = np.asarray(others, np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(b[2], o[:, 2]) - np.maximum(b[0], o[:, 0]), 0, None)
    h = np.clip(np.minimum(b[3], o[:, 3]) - np.maximum(b[1], o[:, 1]), 0, None)
    inter = w * h
    union = (b[2] - b[0]) * (b[3] - b[1]) + (o[:, 2] - o[:, 0]) * (o[:, 3] - o[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def merge_window_boxes(
    found: list[tuple[np.ndarray, np.ndarray]],
    *,
    iou: float,
    windows: list[Window] | None = None,
    frame_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The boxes (float32 (K, 4) frame pixels) and scores of several windows of one frame as
    one set: where windows overlap, a box found by two counts once (greedy by score, as the
    model's own NMS at ``iou``). One window's boxes come back as they are.

    With ``windows`` and ``frame_size`` given (several windows), a box touching an edge of
    its window inside the frame is left out: it is a piece of an animal the window cuts (a
    neighbour at the window's edge), not one the full frame would show; an animal cut by
    every window is then missing, and the frame goes back to the full frame."""
    if len(found) == 1:
        return found[0]
    if windows is not None and frame_size is not None:
        found = [
            (b[keep], s[keep])
            for (b, s), w in zip(found, windows, strict=True)
            for keep in [~_cut_by(b.reshape(-1, 4), w, frame_size)]
        ]
    boxes = np.concatenate([b.reshape(-1, 4) for b, _ in found]).astype(np.float32)
    scores = np.concatenate([s.reshape(-1) for _, s in found]).astype(np.float32)
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if not kept or float(_iou_to(boxes[i], boxes[kept]).max()) <= iou:
            kept.append(int(i))
    kept.sort()
    return boxes[kept], scores[kept]


def fallback_reason(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    *,
    window: Window | list[Window],
    frame_size: tuple[int, int],
    n_animals: int,
    params: CropParams,
) -> str | None:
    """Why a window's detections (or those of a frame's windows, put together with
    :func:`merge_window_boxes`) can't stand for the frame (``None``: they can)."""
    top, top_scores = best(boxes_xyxy, scores, n_animals)
    if len(top_scores) < n_animals:
        return "fewer_animals"
    if float(np.min(top_scores)) < params.min_score:
        return "low_score"
    windows = window if isinstance(window, list) else [window]
    whole = np.zeros(len(top), bool)  # held whole by at least one window
    for w in windows:
        whole |= ~_cut_by(top, w, frame_size)
    if not bool(np.all(whole)):
        return "at_edge"
    return None


def _cut_by(top: np.ndarray, window: Window, frame_size: tuple[int, int]) -> np.ndarray:
    """Which boxes touch (or cross) an edge of ``window`` that lies inside the frame."""
    width, height = frame_size
    edge = 1.0
    return (
        ((top[:, 0] <= window.x0 + edge) & (window.x0 > 0))
        | ((top[:, 1] <= window.y0 + edge) & (window.y0 > 0))
        | ((top[:, 2] >= window.x1 - edge) & (window.x1 < width))
        | ((top[:, 3] >= window.y1 - edge) & (window.y1 < height))
    )


class DynamicCropper:
    """Decides, frame after frame, where the detector runs.

    ``plan(time_s)`` gives the windows for the next frame(s) (``None``: the full frame);
    after detecting, ``check`` says whether a window's result stands, and ``update`` records
    the frame's final detections. The state is only the last accepted boxes and the time of
    the last full frame, so a resumed run can be put back where it was with ``update``.
    """

    def __init__(
        self, *, frame_size: tuple[int, int], imgsz: int, n_animals: int, params: CropParams
    ):
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.imgsz = imgsz
        self.n_animals = n_animals
        self.params = params
        self._last: np.ndarray | None = None  # best n boxes of the last frame, all found
        self._last_full_s: float | None = None

    def plan(self, time_s: float) -> list[Window] | None:
        if not self.params.enabled or self._last is None or self._last_full_s is None:
            return None
        # (a millisecond's slack: 6 frames at 30 fps are 0.19999 s in container time)
        if time_s - self._last_full_s >= self.params.refresh_s - 1e-3:
            return None
        return plan_windows(
            self._last, frame_size=self.frame_size, imgsz=self.imgsz, params=self.params
        )

    def check(
        self, boxes_xyxy: np.ndarray, scores: np.ndarray, windows: list[Window]
    ) -> str | None:
        return fallback_reason(
            boxes_xyxy,
            scores,
            window=windows,
            frame_size=self.frame_size,
            n_animals=self.n_animals,
            params=self.params,
        )

    def update(self, time_s: float, boxes_xyxy: np.ndarray, scores: np.ndarray, *, full: bool):
        if full:
            self._last_full_s = time_s
        top, top_scores = best(boxes_xyxy, scores, self.n_animals)
        if len(top_scores) >= self.n_animals and (
            not full or float(np.min(top_scores)) >= self.params.min_score
        ):
            self._last = top
        else:
            self._last = None  # not all found (well enough): the next frame is a full one
