"""Model information (parameters, GFLOPs) and ONNX export of a checkpoint.

Ultralytics is imported lazily, after ``configure_offline``. No Django import.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

from training.checkpoints import load_checkpoint_check, resolve_model_yaml
from training.ultralytics_setup import require_offline


class ModelInfo(NamedTuple):
    parameters: int
    gflops: float  # at imgsz x imgsz input


def model_info(weights: str | Path, imgsz: int = 640) -> ModelInfo:
    """Parameter count and GFLOPs of a .pt checkpoint or a model YAML (built with 80 classes)."""
    require_offline()
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import get_flops, get_num_params

    name = str(weights)
    if Path(name).suffix.lower() == ".pt":
        load_checkpoint_check(Path(name))
        model = YOLO(name).model
    else:
        model = YOLO(resolve_model_yaml(name)).model
    return ModelInfo(parameters=int(get_num_params(model)), gflops=float(get_flops(model, imgsz)))


def export_onnx(weights: Path, imgsz: int, output: Path | None = None) -> Path:
    """Export a .pt checkpoint to ONNX (fp32, static 1x3ximgszximgsz input, NMS not embedded).

    Written next to ``weights`` (same stem) unless ``output`` is given. ``simplify`` is off: it
    needs ``onnxslim``, which is not installed, and Ultralytics would try to pip-install it.
    The output ``output0`` has shape (1, 4 + classes, anchors): boxes as center x, y, w, h in
    network-input pixels, then per-class scores; ``training.runtime.Detector`` reads it
    (letterbox and NMS).
    """
    require_offline()
    if not isinstance(imgsz, int) or imgsz < 32 or imgsz % 32:
        raise ValueError("imgsz must be a multiple of 32")
    weights = Path(weights)
    load_checkpoint_check(weights)
    from ultralytics import YOLO

    exported = Path(
        YOLO(str(weights)).export(
            format="onnx", imgsz=imgsz, simplify=False, dynamic=False, device="cpu", verbose=False
        )
    )
    if output is not None and Path(output).resolve() != exported.resolve():
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(exported, output)
        exported = Path(output)
    return exported
