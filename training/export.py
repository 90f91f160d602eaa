"""Model information (parameters, GFLOPs) and ONNX export of a checkpoint.

Ultralytics is imported lazily, after ``configure_offline``. No Django import.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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


def export_onnx(
    weights: Path, imgsz: int, output: Path | None = None, *, dynamic: bool = True
) -> Path:
    """Export a .pt checkpoint to ONNX (fp32, NMS not embedded) and return its path.

    ``dynamic`` (the default): batch, height and width are free, so the file runs at any
    input size that is a multiple of the stride (``training.runtime`` letterboxes each image
    rectangularly, as Ultralytics does for a .pt); ``imgsz`` is then only the size traced.
    ``dynamic=False``: a fixed 1x3x``imgsz``x``imgsz`` input, as older exports had.

    Written to ``output``, else next to ``weights`` (same stem), under a temporary name in
    the same folder and renamed into place at the end: a reader never sees half a file, and
    nothing is written next to ``weights`` when ``output`` is elsewhere. ``simplify`` is
    off: it needs ``onnxslim``, which is not installed, and Ultralytics would try to
    pip-install it. The output ``output0`` has shape (batch, 4 + classes, anchors): boxes as
    center x, y, w, h in network-input pixels, then per-class scores; NMS is left to the
    reader (``training.runtime.Detector``).
    """
    require_offline()
    if not isinstance(imgsz, int) or imgsz < 32 or imgsz % 32:
        raise ValueError("imgsz must be a multiple of 32")
    weights = Path(weights)
    load_checkpoint_check(weights)
    output = Path(output) if output is not None else weights.with_suffix(".onnx")
    output.parent.mkdir(parents=True, exist_ok=True)
    from ultralytics import YOLO

    # Ultralytics writes the export next to the checkpoint it loaded: give it a private link.
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".onnx-export-") as tmp:
        source = Path(tmp) / "model.pt"
        try:
            source.symlink_to(weights.resolve())
        except OSError:  # no symlinks here (some network file systems)
            shutil.copyfile(weights, source)
        exported = YOLO(str(source)).export(
            format="onnx",
            imgsz=imgsz,
            simplify=False,
            dynamic=dynamic,
            device="cpu",
            verbose=False,
        )
        os.replace(exported, output)
    return output
