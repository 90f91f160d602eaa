"""Ultralytics' pre- and post-processing arithmetic for YOLO detectors, reproduced on purpose.

The letterbox (``LetterBox``), the decode and NMS of the raw output (``non_max_suppression``)
and the mapping of boxes back to the image (``scale_boxes`` + ``clip_boxes``), step for step,
so that :mod:`training.runtime` finds the boxes ``YOLO(pt).predict`` finds, whatever runs the
network. Shapes: images HxWx3 uint8 BGR; raw output (B, 4 + nc, anchors), boxes as center x,
y, w, h in network-input pixels; results (K, 6) x1 y1 x2 y2 score class in network-input
pixels, then (N, 4) x1 y1 x2 y2 in original-image pixels. No Django import; torch and
torchvision (NMS) are imported lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

PAD_VALUE = 114  # Ultralytics' LetterBox padding grey
MAX_NMS = 30_000  # boxes entering NMS, highest scores first (Ultralytics' max_nms)
CLASS_OFFSET = 7680  # pixels between classes in class-aware NMS (Ultralytics' max_wh)


@dataclass(frozen=True)
class Letterbox:
    """Where an image of ``image_hw`` lands in a network input of ``input_hw`` (pixels)."""

    image_hw: tuple[int, int]
    input_hw: tuple[int, int]
    resized_wh: tuple[int, int]  # cv2.resize's dsize
    top: int
    bottom: int
    left: int
    right: int


def network_size(imgsz: int, stride: int) -> int:
    """``imgsz`` rounded up to a multiple of ``stride`` (``check_imgsz``'s rule)."""
    if isinstance(imgsz, bool) or not isinstance(imgsz, int) or imgsz < 1:
        raise ValueError(f"imgsz must be a positive integer, got {imgsz!r}")
    return max(math.ceil(imgsz / stride) * stride, stride)


def letterbox_plan(
    image_hw: tuple[int, int], target_hw: tuple[int, int], *, stride: int, auto: bool
) -> Letterbox:
    """Ultralytics' ``LetterBox.get_params``: scale to fit ``target_hw`` keeping the aspect;
    ``auto`` pads only up to the next multiple of ``stride`` (rectangular input)."""
    h, w = image_hw
    r = min(target_hw[0] / h, target_hw[1] / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = target_hw[1] - new_w, target_hw[0] - new_h
    if auto:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    return Letterbox(
        image_hw=(h, w),
        input_hw=(new_h + top + bottom, new_w + left + right),
        resized_wh=(new_w, new_h),
        top=top,
        bottom=bottom,
        left=left,
        right=right,
    )


def letterbox(image: np.ndarray, plan: Letterbox) -> np.ndarray:
    """The HxWx3 uint8 network input of ``image`` (still BGR) following ``plan``."""
    import cv2

    if image.shape[1::-1] != plan.resized_wh:
        image = cv2.resize(image, plan.resized_wh, interpolation=cv2.INTER_LINEAR)
    return cv2.copyMakeBorder(
        image,
        plan.top,
        plan.bottom,
        plan.left,
        plan.right,
        cv2.BORDER_CONSTANT,
        value=(PAD_VALUE,) * 3,
    )


def boxes_to_image(xyxy: np.ndarray, plan: Letterbox) -> np.ndarray:
    """Network-input (x1, y1, x2, y2) boxes -> original-image pixels, clipped to the image.

    Ultralytics' ``scale_boxes`` (per-axis gains from the rounded resized size, the padding
    recomputed from the shapes) followed by ``clip_boxes``. float32 (N, 4), in place.
    """
    (h1, w1), (h0, w0) = plan.input_hw, plan.image_hw
    gain = min(h1 / h0, w1 / w0)
    new_h, new_w = max(round(h0 * gain), 1), max(round(w0 * gain), 1)
    pad_x, pad_y = round((w1 - new_w) / 2 - 0.1), round((h1 - new_h) / 2 - 0.1)
    xyxy[:, [0, 2]] -= pad_x
    xyxy[:, [1, 3]] -= pad_y
    xyxy[:, [0, 2]] /= new_w / w0
    xyxy[:, [1, 3]] /= new_h / h0
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w0)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h0)
    return xyxy


def non_max_suppression(
    prediction: Any, *, conf: float, iou: float, max_det: int, nc: int
) -> list[Any]:
    """Raw YOLO output (B, 4 + nc, anchors) -> per image a (K, 6) tensor x1 y1 x2 y2 score cls.

    Boxes in the output are center x, y, w, h in network-input pixels. Ultralytics'
    ``non_max_suppression`` for one label per box, step for step (same thresholds, same
    ``> conf`` comparisons, same class offset, torchvision's NMS), without its time limit.
    ``prediction`` is a torch tensor on any device.
    """
    import torch
    import torchvision

    candidates = prediction[:, 4 : 4 + nc].amax(1) > conf
    prediction = prediction.transpose(-1, -2)
    out = []
    for x, keep in zip(prediction, candidates, strict=True):
        x = x[keep]
        xy, half_wh = x[:, :2], x[:, 2:4] / 2
        box = torch.cat((xy - half_wh, xy + half_wh), 1)
        score, cls = x[:, 4 : 4 + nc].max(1, keepdim=True)
        x = torch.cat((box, score, cls.float()), 1)[score.view(-1) > conf]
        if x.shape[0] > MAX_NMS:
            x = x[x[:, 4].argsort(descending=True)[:MAX_NMS]]
        kept = torchvision.ops.nms(x[:, :4] + x[:, 5:6] * CLASS_OFFSET, x[:, 4], iou)
        out.append(x[kept[:max_det]])
    return out


def end_to_end_filter(prediction: Any, *, conf: float, max_det: int) -> list[Any]:
    """Output of an NMS-free ONNX export (B, N, 6: x1 y1 x2 y2 score cls) -> (K, 6) each."""
    return [p[p[:, 4] > conf][:max_det] for p in prediction]
