"""Running a trained detector on images: :class:`Detector` and its :class:`Detections`.

A model is loaded once for many images (evaluation, tracking a whole video) and run by one of
two backends:

- ``"torch"``: the ``.pt`` checkpoint through PyTorch (Ultralytics' model classes, fused
  Conv+BN as Ultralytics' predictor does); half precision on CUDA.
- ``"onnx"``: an ``.onnx`` file through ONNX Runtime directly. A ``.pt`` is exported once to
  a dynamic-shape ONNX file in a cache (keyed by the checkpoint's sha256).

Both reproduce what ``YOLO(pt).predict(image, imgsz=...)`` does for one image, so their boxes
match Ultralytics' own (the arithmetic is in :mod:`training.yolo_ops`): the rectangular
letterbox (aspect kept, ``cv2.INTER_LINEAR``, grey 114 padding split around the image up to a
multiple of the stride: 640x480 at 320 -> 320x256), BGR -> RGB, /255, then a score filter
(``score > conf``), the best class per anchor and class-aware NMS (``torchvision.ops.nms``,
classes kept apart by a 7680-pixel offset), at most ``max_det`` boxes, mapped back to the
image and clipped to it. A *static* ONNX file (older models, imported files) is letterboxed
to its fixed input size instead, as Ultralytics does.

Batches: images of any size may be mixed; images whose letterboxed shape is the same run
together (up to ``batch_size``), so every image sees exactly the input it would see alone.

Ultralytics is imported lazily, after ``configure_offline``. No Django import.

Boxes returned by ``predict``/``Detector`` are in original-image pixels, (x, y) = top-left
corner, then width and height, as floats (the project-wide convention).
"""

from __future__ import annotations

import ast
import hashlib
import logging
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from training.checkpoints import CheckpointError, load_checkpoint_check
from training.ultralytics_setup import default_cpu_threads, require_offline, set_cpu_threads
from training.yolo_ops import (
    PAD_VALUE,
    Letterbox,
    boxes_to_image,
    end_to_end_filter,
    letterbox,
    letterbox_plan,
    network_size,
    non_max_suppression,
)

if TYPE_CHECKING:
    from training.export import ModelInfo

log = logging.getLogger(__name__)

Backend = Literal["torch", "onnx"]
# Part of the cache key: bump it when the export settings change.
ONNX_CACHE_FORMAT = "dynamic-v1"
ONNX_EXPORT_IMGSZ = 320  # the size traced; a dynamic model runs at any multiple of the stride


@dataclass(frozen=True)
class Detections:
    """Detections in one image.

    boxes_xywh: float32 (N, 4), original-image pixels, (x, y) top-left corner, width, height.
    scores: float32 (N,) in [0, 1]. classes: int64 (N,) class ids.
    inference_ms: network time for this image (a batch's time divided by its size);
    total_ms adds pre- and post-processing (letterbox, tensor conversion, NMS, rescaling).
    Reading an image file is in neither.
    """

    boxes_xywh: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    inference_ms: float
    total_ms: float


ImageInput = np.ndarray | str | Path  # HxWx3 uint8 BGR (OpenCV order) or a local image file


# --------------------------------------------------------------------------------------------
# Devices, threads, the ONNX cache


def cpu_name() -> str:
    """ "CPU (model name)" from /proc/cpuinfo where there is one, else "CPU"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return f"CPU ({line.split(':', 1)[1].strip()})"
    except OSError:
        pass
    return "CPU"


def resolve_device(device: str) -> str:
    """'auto' | 'cpu' | 'mps' | 'cuda' | 'cuda:N' | 'N' -> torch's name ('cpu', 'cuda:0'...).

    'auto' is the first CUDA GPU when there is one, else the CPU. Raises ``ValueError`` for a
    GPU that is not there.
    """
    import torch

    name = str(device).strip().lower()
    if name in ("", "auto"):
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name in ("cpu", "mps"):
        if name == "mps" and not torch.backends.mps.is_available():
            raise ValueError("device 'mps' is not available on this machine")
        return name
    index = name.removeprefix("cuda").removeprefix(":") or "0"
    if not index.isdigit():
        raise ValueError(
            f"device must be 'auto', 'cpu', 'mps', 'cuda:N' or a GPU index: {device!r}"
        )
    if int(index) >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} GPUs")
    return f"cuda:{int(index)}"


def device_name(device: str) -> str:
    """Readable name of a torch device string: the GPU model, "CPU (model)" or "Apple MPS"."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return "Apple MPS" if device == "mps" else cpu_name()


def _onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


_sha256_memo: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _sha256_memo:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _sha256_memo[key] = digest.hexdigest()
    return _sha256_memo[key]


def model_info(weights: Path, imgsz: int) -> ModelInfo:
    """Parameter count and GFLOPs of the ``.pt`` ``weights`` at ``imgsz``, for an app that
    reports them beside its inference timings (evaluation): such apps reach the model code
    through this module only. Raises ``CheckpointError`` for a file that is no checkpoint."""
    from training import export

    return export.model_info(weights, imgsz)


def onnx_for_checkpoint(weights: Path, cache_dir: Path) -> Path:
    """A dynamic-shape ONNX export of the ``.pt`` ``weights``, made once and cached.

    The cache file is named by the checkpoint's sha256 (and :data:`ONNX_CACHE_FORMAT`), so a
    changed file is exported again and identical files share one export. It is written under
    a temporary name and renamed into place: concurrent workers may both export, but none
    ever reads a half-written file.
    """
    from training.export import export_onnx

    weights = Path(weights)
    cache_dir = Path(cache_dir)
    target = cache_dir / f"{_sha256(weights)}-{ONNX_CACHE_FORMAT}.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as tmp:
        exported = export_onnx(
            weights, ONNX_EXPORT_IMGSZ, output=Path(tmp) / "model.onnx", dynamic=True
        )
        os.replace(exported, target)
    log.info("exported %s to %s in %.1f s", weights.name, target, time.perf_counter() - started)
    return target


# --------------------------------------------------------------------------------------------
# Backends: load a model, turn a batch of letterboxed uint8 images into raw output


class _TorchEngine:
    """A ``.pt`` checkpoint in PyTorch, prepared as Ultralytics' predictor prepares it."""

    backend: Backend = "torch"
    fixed_hw: tuple[int, int] | None = None  # any input size
    fixed_batch: int | None = None
    end_to_end = False

    def __init__(self, weights: Path, *, device: str, threads: int):
        import torch
        from ultralytics.nn.tasks import load_checkpoint

        self.torch = torch
        self.threads = threads
        self.device = torch.device(device)
        # Half precision on a GPU (Ultralytics' predict(quantize=16)): tensor cores, half the
        # memory traffic; boxes move by rounding only. The CPU has no fast fp16 convolutions.
        self.half = self.device.type == "cuda"
        model, _ = load_checkpoint(str(weights), device=self.device)
        if hasattr(model, "end2end"):
            model.end2end = False  # the head Ultralytics' predict uses by default (nms=None)
        model = model.fuse(verbose=False).to(self.device)
        model = model.half() if self.half else model.float()
        # NHWC on x86 CPUs with oneDNN, as Ultralytics' AutoBackend does: faster convolutions.
        channels_last = (
            self.device.type == "cpu"
            and platform.machine() in {"AMD64", "x86_64"}
            and torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled
        )
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        for p in model.parameters():
            p.requires_grad = False
        self.model = model.eval()
        self.stride = max(int(model.stride.max()), 32)
        names = model.names
        self.class_names = [str(names[k]) for k in sorted(names)]
        if self.device.type == "cpu":
            set_cpu_threads(threads)

    def prepare(self, batch: np.ndarray) -> Any:
        """(B, H, W, 3) uint8 BGR -> (B, 3, H, W) RGB in [0, 1] on the device."""
        if self.device.type == "cpu" and self.torch.get_num_threads() != self.threads:
            self.torch.set_num_threads(self.threads)  # another model in this process changed it
        x = self.torch.from_numpy(batch).to(self.device)  # copy as uint8, convert there
        x = x.permute(0, 3, 1, 2).contiguous().flip(1)
        return (x.half() if self.half else x.float()).div_(255)

    def forward(self, x: Any) -> Any:
        with self.torch.inference_mode():
            y = self.model(x)
        y = y[0] if isinstance(y, list | tuple) else y
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)  # so that the time measured is the GPU's
        return y


class _OnnxEngine:
    """An ``.onnx`` file in ONNX Runtime, called directly.

    Not through Ultralytics' AutoBackend: it leaves ONNX Runtime's thread pool at its default
    (every physical core, no way to pass ``intra_op_num_threads``), and each of its calls goes
    through torch tensors, device moves and its predictor's per-call set-up (source loading,
    ``Results`` objects), an overhead of the order of the network time for a small model.
    Here a call is one ``session.run`` on a NumPy array.
    """

    backend: Backend = "onnx"

    def __init__(self, path: Path, *, device: str, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        # Idle intra-op threads sleep instead of spinning: a worker shares its cores (video
        # decoding, other tasks), and spinning threads then starve the ones doing work (on a
        # busy 2-core machine 2 threads ran at 0.5x of 1 thread with spinning, 1.2x without).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers: list[Any] = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ValueError(
                    "onnxruntime has no CUDA provider on this machine; use backend='torch' "
                    "on the GPU or device='cpu'"
                )
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(device[5:] or 0)}))
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # a broken or foreign file: onnxruntime raises its own types
            raise CheckpointError(f"{path.name} is not a loadable ONNX model: {exc}") from exc
        self.threads = threads
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("task", "detect") != "detect":
            raise CheckpointError(
                f"{path.name} is a {meta['task']} model; a detection model is needed"
            )
        (inp,) = self.session.get_inputs()
        self.input_name = inp.name
        self.input_dtype = np.float16 if "float16" in inp.type else np.float32
        batch, _, height, width = inp.shape
        fixed = isinstance(height, int) and isinstance(width, int)
        self.fixed_hw = (height, width) if fixed else None
        self.fixed_batch = batch if isinstance(batch, int) else None
        self.stride = int(meta.get("stride", 32))
        self.end_to_end = meta.get("end2end", "False") == "True"
        names = _literal(meta.get("names"))
        if isinstance(names, dict) and names:
            self.class_names = [str(names[k]) for k in sorted(names)]
        else:
            channels = self.session.get_outputs()[0].shape[1]
            if self.end_to_end or not isinstance(channels, int):
                raise CheckpointError(f"{path.name} names no classes (no Ultralytics metadata)")
            self.class_names = [str(i) for i in range(channels - 4)]

    def prepare(self, batch: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) uint8 BGR -> (B, 3, H, W) RGB in [0, 1], contiguous."""
        x = np.ascontiguousarray(batch[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
        x /= 255  # a division, as Ultralytics does, not a multiplication by 1/255
        return x.astype(self.input_dtype, copy=False)

    def forward(self, x: np.ndarray) -> Any:
        import torch

        (y,) = self.session.run(None, {self.input_name: x})[:1]
        return torch.from_numpy(np.asarray(y, dtype=np.float32))


def _literal(text: str | None) -> Any:
    try:
        return ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError):
        return None


# --------------------------------------------------------------------------------------------
# The detector


class Detector:
    """A model loaded once for many images (evaluation, tracking a whole video).

    ``weights``: a .pt checkpoint or an .onnx file (an export from :mod:`training.export`).
    ``device``: 'auto' (the first CUDA GPU, else the CPU) | 'cpu' | 'cuda' | 'cuda:N' | 'N'
    | 'mps'. ``backend``: 'auto' (ONNX Runtime on the CPU when it is installed, PyTorch on a
    GPU) | 'torch' | 'onnx'; an .onnx file always runs in ONNX Runtime. ``threads``: CPU
    threads for the network (torch's intra-op threads or ONNX Runtime's
    ``intra_op_num_threads``; torch's count is process-wide, so the torch backend sets it again
    when another model changed it); None = every core this process may use. ``onnx_cache_dir``:
    where a .pt's ONNX export is kept for the ONNX backend (default:
    ``<var>/ultralytics/onnx-cache``; the app passes its scratch space).

    Attributes: ``device`` ('cpu', 'cuda:0', 'mps'), ``device_name``, ``backend`` ('torch' or
    'onnx'), ``class_names``, ``threads``, ``weights`` (the file the backend runs).
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        device: str = "auto",
        backend: str = "auto",
        threads: int | None = None,
        onnx_cache_dir: str | Path | None = None,
    ):
        config = require_offline()
        weights = Path(weights)
        suffix = weights.suffix.lower()
        if suffix == ".pt":
            load_checkpoint_check(weights)
        elif suffix != ".onnx" or not weights.is_file():
            raise CheckpointError(f"{weights}: expected an existing .pt or .onnx file")
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"backend must be 'auto', 'torch' or 'onnx', got {backend!r}")
        if threads is None:
            threads = default_cpu_threads()
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        if suffix == ".onnx" and backend == "torch":
            raise ValueError("an .onnx file runs on the 'onnx' backend only")
        resolved = resolve_device(device)
        if backend == "auto":
            backend = (
                "onnx"
                if suffix == ".onnx" or (resolved == "cpu" and _onnxruntime_available())
                else "torch"
            )
        if backend == "onnx" and str(device).strip().lower() in ("", "auto"):
            resolved = resolved if _onnx_cuda_available() else "cpu"
        if backend == "onnx" and resolved == "mps":
            raise ValueError("the 'onnx' backend runs on 'cpu' or CUDA, not 'mps'")

        self.threads = threads
        self.device = resolved
        self.device_name = device_name(resolved)
        self.backend: Backend = backend  # type: ignore[assignment]
        self.source = weights
        if backend == "torch":
            self.weights = weights
            self._engine: _TorchEngine | _OnnxEngine = _TorchEngine(
                weights, device=resolved, threads=threads
            )
        else:
            if suffix == ".pt":
                cache = Path(onnx_cache_dir or config.config_dir.parent / "onnx-cache")
                weights = onnx_for_checkpoint(weights, cache)
            self.weights = weights
            self._engine = _OnnxEngine(weights, device=resolved, threads=threads)
        self.class_names: list[str] = self._engine.class_names
        self.stride = self._engine.stride
        # The fixed network input of a static ONNX model, None when any size is accepted.
        self.fixed_input_hw = self._engine.fixed_hw

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
        """Detect in every image; one ``Detections`` per input, in order.

        ``images``: HxWx3 uint8 BGR arrays of any size (or local image files). ``imgsz``: the
        longest side of the network input (rounded up to the stride); ignored by a static
        ONNX model, which has its own. ``conf``: keep boxes scoring above it; ``iou``: NMS
        threshold; ``max_det``: boxes kept per image. Images with the same letterboxed shape
        run together, ``batch_size`` at a time.
        """
        if not 0.0 <= conf <= 1.0 or not 0.0 <= iou <= 1.0:
            raise ValueError("conf and iou must be in [0, 1]")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("batch_size must be a positive integer")
        if isinstance(max_det, bool) or not isinstance(max_det, int) or max_det < 1:
            raise ValueError("max_det must be a positive integer")
        engine = self._engine
        if engine.fixed_hw is not None:
            target, auto = engine.fixed_hw, False
        else:
            size = network_size(imgsz, self.stride)
            target, auto = (size, size), True
        arrays = [_as_image(image) for image in images]
        plans = [letterbox_plan(a.shape[:2], target, stride=self.stride, auto=auto) for a in arrays]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, plan in enumerate(plans):
            groups.setdefault(plan.input_hw, []).append(i)
        if engine.fixed_batch is not None:
            batch_size = engine.fixed_batch
        out: list[Detections | None] = [None] * len(arrays)
        for indices in groups.values():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                for i, det in zip(
                    chunk, self._run(arrays, plans, chunk, conf, iou, max_det), strict=True
                ):
                    out[i] = det
        return out  # type: ignore[return-value]

    def _run(
        self,
        arrays: list[np.ndarray],
        plans: list[Letterbox],
        chunk: list[int],
        conf: float,
        iou: float,
        max_det: int,
    ) -> list[Detections]:
        engine = self._engine
        started = time.perf_counter()
        batch = np.stack([letterbox(arrays[i], plans[i]) for i in chunk])
        if engine.fixed_batch is not None and len(chunk) < engine.fixed_batch:
            filler = np.full(
                (engine.fixed_batch - len(chunk), *batch.shape[1:]), PAD_VALUE, np.uint8
            )
            batch = np.concatenate([batch, filler])
        x = engine.prepare(batch)
        forward_started = time.perf_counter()
        raw = engine.forward(x)
        forward_s = time.perf_counter() - forward_started
        if engine.end_to_end:
            kept = end_to_end_filter(raw, conf=conf, max_det=max_det)
        else:
            kept = non_max_suppression(
                raw, conf=conf, iou=iou, max_det=max_det, nc=len(self.class_names)
            )
        results = []
        for i, k in zip(chunk, kept, strict=False):  # a filled fixed batch has extra rows
            k = k.float().cpu().numpy()
            xyxy = boxes_to_image(k[:, :4].copy(), plans[i])
            xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
            results.append((xywh.astype(np.float32), k[:, 4].copy(), k[:, 5].astype(np.int64)))
        total_s = time.perf_counter() - started
        n = len(chunk)
        return [
            Detections(
                boxes_xywh=xywh,
                scores=scores.astype(np.float32),
                classes=classes,
                inference_ms=forward_s * 1000 / n,
                total_ms=total_s * 1000 / n,
            )
            for xywh, scores, classes in results
        ]


def _onnx_cuda_available() -> bool:
    import torch

    if not torch.cuda.is_available():
        return False
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def _as_image(image: ImageInput) -> np.ndarray:
    if isinstance(image, str | Path):
        import cv2

        path = str(image)
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"Cannot read image {path}")
    if not (
        isinstance(image, np.ndarray)
        and image.ndim == 3
        and image.shape[2] == 3
        and image.dtype == np.uint8
        and image.shape[0] > 0
        and image.shape[1] > 0
    ):
        raise ValueError("images must be HxWx3 uint8 BGR arrays or image file paths")
    return image


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


def pose_predict(
    weights: str | Path, images: Sequence[ImageInput], *, imgsz: int = 640, device: str = "cpu"
) -> list[list[tuple[tuple[float, float, float, float], list[list[float]], float]]]:
    """A pose model's animals per image: ``(box (x, y, w, h), [[x, y, conf], ...], score)``
    in original-image pixels. PyTorch through Ultralytics' predict (the ``Detector`` and
    its ONNX decoding are for detection models only)."""
    require_offline()
    load_checkpoint_check(Path(weights), allow_pose=True)
    from ultralytics import YOLO

    model = YOLO(str(weights), task="pose")
    out = []
    for image in images:
        (result,) = model.predict(
            _as_image(image), imgsz=imgsz, conf=0.001, device=resolve_device(device), verbose=False
        )
        boxes = result.boxes.xyxy.cpu().numpy().tolist()
        scores = result.boxes.conf.cpu().numpy().tolist()
        points = result.keypoints.data.cpu().numpy().tolist() if result.keypoints else []
        out.append(
            [
                ((x1, y1, x2 - x1, y2 - y1), kp, score)
                for (x1, y1, x2, y2), kp, score in zip(boxes, points, scores, strict=True)
            ]
        )
    return out
