"""Running a trained detector on images: :class:`Detector` and its :class:`Detections`.

A model is loaded once for many images (evaluation, tracking a whole video). Ultralytics is
imported lazily, after ``configure_offline``. No Django import.

Boxes returned by ``predict``/``Detector`` are in original-image pixels, (x, y) = top-left
corner, then width and height, as floats (the project-wide convention).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.checkpoints import CheckpointError, load_checkpoint_check
from training.ultralytics_setup import require_offline


@dataclass(frozen=True)
class Detections:
    """Detections in one image.

    boxes_xywh: float32 (N, 4), original-image pixels, (x, y) top-left corner, width, height.
    scores: float32 (N,) in [0, 1]. classes: int64 (N,) class ids.
    inference_ms: network time for this image (a batch's time divided by its size);
    total_ms adds Ultralytics' pre- and post-processing (letterbox, NMS).
    """

    boxes_xywh: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    inference_ms: float
    total_ms: float


ImageInput = np.ndarray | str | Path  # HxWx3 uint8 BGR (OpenCV order) or a local image file


class Detector:
    """A model loaded once for many images (evaluation, tracking a whole video).

    ``weights``: a .pt checkpoint or an .onnx file from ``export_onnx`` (run by onnxruntime).
    ``device``: 'auto' | 'cpu' | 'mps' | a CUDA index such as '0'.
    """

    def __init__(self, weights: str | Path, *, device: str = "auto"):
        require_offline()
        from ultralytics import YOLO

        weights = Path(weights)
        if weights.suffix.lower() == ".pt":
            load_checkpoint_check(weights)
        elif weights.suffix.lower() != ".onnx" or not weights.is_file():
            raise CheckpointError(f"{weights}: expected an existing .pt or .onnx file")
        self.weights = weights
        self.device = "" if device == "auto" else device
        self.model = YOLO(str(weights), task="detect")

    @property
    def class_names(self) -> list[str]:
        names = self.model.names
        return [str(names[k]) for k in sorted(names)]

    def predict(
        self,
        images: Sequence[ImageInput],
        *,
        imgsz: int = 640,
        conf: float = 0.25,
        iou: float = 0.7,
        max_det: int = 300,
        batch_size: int = 16,
    ) -> list[Detections]:
        """Detect in every image; one ``Detections`` per input, in order."""
        import cv2

        if not 0.0 <= conf <= 1.0 or not 0.0 <= iou <= 1.0:
            raise ValueError("conf and iou must be in [0, 1]")
        out: list[Detections] = []
        for start in range(0, len(images), batch_size):
            batch = []
            for image in images[start : start + batch_size]:
                if isinstance(image, str | Path):
                    # Read it here: Ultralytics would treat a string as a possible URL.
                    path = str(image)
                    image = cv2.imread(path, cv2.IMREAD_COLOR)
                    if image is None:
                        raise ValueError(f"Cannot read image {path}")
                if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
                    raise ValueError("images must be HxWx3 BGR arrays or image file paths")
                batch.append(image)
            results = self.model.predict(
                batch,
                imgsz=imgsz,
                conf=conf,
                iou=iou,
                max_det=max_det,
                device=self.device,
                verbose=False,
                batch=len(batch),
            )
            for result in results:
                boxes = result.boxes
                xywh = boxes.xywh.cpu().numpy().astype(np.float32).reshape(-1, 4)
                xywh[:, 0] -= xywh[:, 2] / 2  # center -> top-left corner
                xywh[:, 1] -= xywh[:, 3] / 2
                speed = result.speed or {}
                out.append(
                    Detections(
                        boxes_xywh=xywh,
                        scores=boxes.conf.cpu().numpy().astype(np.float32).reshape(-1),
                        classes=boxes.cls.cpu().numpy().astype(np.int64).reshape(-1),
                        inference_ms=float(speed.get("inference") or 0.0),
                        total_ms=float(sum(v or 0.0 for v in speed.values())),
                    )
                )
        return out


def predict(
    weights: str | Path,
    images: Sequence[ImageInput],
    *,
    imgsz: int = 640,
    conf: float = 0.25,
    device: str = "auto",
) -> list[Detections]:
    """One-off inference; for many calls with the same model, keep a ``Detector``."""
    return Detector(weights, device=device).predict(images, imgsz=imgsz, conf=conf)
