"""Run a detector over an evaluation set and time it (no Django import).

Boxes are original-image pixels, ``(x, y)`` the top-left corner, then ``w``, ``h`` (floats),
as everywhere in the project; detections come out as ``evaluation.metrics.DetectionBox``
with the *dataset's* class index (see :func:`class_mapping`).

Inference goes through :class:`training.runtime.Detector` (ONNX Runtime on a CPU, PyTorch on
a GPU, boxes as Ultralytics' own predict finds them).

Timing follows the seed paper's per-image measurement: images go through the network one
at a time (batch 1) and the network time the runtime measures for each is kept; one warm-up
pass on the first image comes first and is not counted (CUDA context creation and cuDNN
autotuning would otherwise dominate the first image). ``total_s`` is the wall time of the
whole timed loop, reading images and NMS included: the paper's "test time".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import DetectionBox

# Detections down to this score feed the AP computation (the PR curve needs the tail);
# the run's conf_threshold only picks the operating point. Ultralytics' val uses the same.
AP_CONF = 0.001
MAX_DETECTIONS = 300


@dataclass(frozen=True)
class InferenceResult:
    """Per image (input order): detections and network milliseconds; then run totals.

    ``total_ms`` adds the pre- and post-processing (letterbox, NMS) to each image.
    ``device`` as torch names it ("cpu", "cuda:0"); ``device_name`` is readable ("NVIDIA
    H100 80GB HBM3", "CPU (AMD EPYC 7B13)"); ``backend`` "onnx" or "torch".
    """

    detections: list[list[DetectionBox]]
    inference_ms: list[float]
    total_ms: list[float]
    total_s: float
    device: str
    device_name: str
    warmup_images: int
    backend: str = ""


def class_mapping(model_classes: Sequence[str], dataset_classes: Sequence[str]) -> dict[int, int]:
    """Model class index -> dataset class index, matching names case-insensitively.

    A single-class model on a single-class dataset maps 0 -> 0 whatever the names
    ("mouse" vs "mice"). Model classes without a namesake are dropped from the evaluation.
    """
    if len(model_classes) == 1 and len(dataset_classes) == 1:
        return {0: 0}
    by_name = {name.strip().casefold(): i for i, name in enumerate(dataset_classes)}
    return {
        i: by_name[name.strip().casefold()]
        for i, name in enumerate(model_classes)
        if name.strip().casefold() in by_name
    }


def run_inference(
    weights: Path,
    images: Sequence[Path],
    *,
    imgsz: int,
    class_map: Mapping[int, int],
    device: str = "auto",
    backend: str = "auto",
    threads: int | None = None,
    onnx_cache_dir: Path | None = None,
    on_image: Callable[[int, int], None] | None = None,
) -> InferenceResult:
    """Detect in each image (batch 1, score >= :data:`AP_CONF`) and time it.

    ``weights`` a .pt checkpoint, ``images`` local image files. ``device``, ``backend``,
    ``threads`` and ``onnx_cache_dir`` as :class:`training.runtime.Detector` takes them.
    ``on_image(done, total)`` is called after every image (heartbeat, progress); exceptions
    from it propagate (cancel).
    """
    from training.runtime import Detector

    detector = Detector(
        weights, device=device, backend=backend, threads=threads, onnx_cache_dir=onnx_cache_dir
    )
    if images:
        detector.predict([images[0]], imgsz=imgsz, conf=AP_CONF, batch_size=1)  # warm-up
    detections: list[list[DetectionBox]] = []
    inference_ms: list[float] = []
    total_ms: list[float] = []
    started = time.perf_counter()
    for done, image in enumerate(images, start=1):
        (result,) = detector.predict(
            [image], imgsz=imgsz, conf=AP_CONF, max_det=MAX_DETECTIONS, batch_size=1
        )
        boxes = []
        for (x, y, w, h), score, cls in zip(
            result.boxes_xywh.tolist(),
            result.scores.tolist(),
            result.classes.tolist(),
            strict=True,
        ):
            if int(cls) in class_map and w > 0 and h > 0:
                boxes.append(DetectionBox(class_map[int(cls)], x, y, w, h, float(score)))
        detections.append(boxes)
        inference_ms.append(result.inference_ms)
        total_ms.append(result.total_ms)
        if on_image is not None:
            on_image(done, len(images))
    total_s = time.perf_counter() - started
    return InferenceResult(
        detections=detections,
        inference_ms=inference_ms,
        total_ms=total_ms,
        total_s=total_s,
        device=detector.device,
        device_name=detector.device_name,
        warmup_images=1 if images else 0,
        backend=detector.backend,
    )


def timing_summary(
    inference_ms: Sequence[float], total_ms: Sequence[float], *, total_s: float
) -> dict[str, Any]:
    """Mean ± standard deviation (sample, n-1) of the per-image network time, and more.

    Milliseconds rounded to 4 decimals; ``per_image_ms`` keeps every image's time (for the
    histogram). Empty input gives ``None`` statistics.
    """
    values = np.asarray(list(inference_ms), dtype=np.float64)
    n = len(values)

    def stat(fn: Callable[[np.ndarray], float]) -> float | None:
        return round(float(fn(values)), 4) if n else None

    std = round(float(np.std(values, ddof=1)), 4) if n > 1 else (0.0 if n else None)
    totals = np.asarray(list(total_ms), dtype=np.float64)
    return {
        "images": n,
        "batch_size": 1,
        "per_image_ms_mean": stat(np.mean),
        "per_image_ms_std": std,
        "per_image_ms_median": stat(np.median),
        "per_image_ms_min": stat(np.min),
        "per_image_ms_max": stat(np.max),
        "per_image_total_ms_mean": round(float(totals.mean()), 4) if len(totals) else None,
        "images_per_s": round(1000.0 / float(values.mean()), 3)
        if n and values.mean() > 0
        else None,
        "total_s": round(float(total_s), 4) if math.isfinite(total_s) else None,
        "per_image_ms": [round(float(v), 4) for v in values],
    }
