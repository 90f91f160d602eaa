"""Everything this project does with Ultralytics: offline setup, training, export, inference.

This is the only module that imports Ultralytics, and it does so lazily, inside functions, after
``configure_offline(var_dir)`` has set the environment Ultralytics reads at import time. No
Django import: dataclasses in, dataclasses out.

Boxes returned by ``predict``/``Detector`` are in original-image pixels, (x, y) = top-left
corner, then width and height, as floats (the project-wide convention).

Offline: the deployment has no internet. Ultralytics otherwise downloads fonts (Arial.ttf for
plots and dataset checks), weights (hub names such as ``yolo11n.pt``, the ``yolo26n.pt`` its AMP
check loads on CUDA), pip packages (``check_requirements`` auto-install) and pings PyPI, GitHub,
Google Analytics and its Platform. ``configure_offline`` switches all of these off; whatever
still tries to download fails at once with ``OfflineDownloadError`` instead of waiting on a
network timeout.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from training.presets import PRESETS, Hyperparameters

log = logging.getLogger(__name__)

# Augmentation arguments that `Hyperparameters.augment=False` sets to zero. With augment=True
# Ultralytics' own defaults apply (mosaic 1.0, HSV jitter, translate 0.1, scale 0.5, fliplr 0.5).
_AUGMENTATION_OFF = {
    "mosaic": 0.0,
    "mixup": 0.0,
    "cutmix": 0.0,
    "copy_paste": 0.0,
    "hsv_h": 0.0,
    "hsv_s": 0.0,
    "hsv_v": 0.0,
    "degrees": 0.0,
    "translate": 0.0,
    "scale": 0.0,
    "shear": 0.0,
    "perspective": 0.0,
    "flipud": 0.0,
    "fliplr": 0.0,
    "bgr": 0.0,
    "close_mosaic": 0,
}
# The seconds between two calls of `should_stop` inside an epoch: it may hit the database.
STOP_POLL_INTERVAL_S = 1.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MAIN_LOSSES = ("box_loss", "cls_loss", "dfl_loss")  # EpochReport fields; the rest go to extra


class OfflineWeightsError(FileNotFoundError):
    """Starting weights were named that are not on this machine (and can't be downloaded)."""


class OfflineDownloadError(ConnectionError):
    """Ultralytics tried to download something; this installation never does.

    A ``ConnectionError`` on purpose: Ultralytics' own fallbacks (e.g. the AMP check on CUDA,
    which then keeps AMP on) catch exactly that.
    """


class CheckpointError(ValueError):
    """A .pt file is not a usable (or resumable) Ultralytics detection checkpoint."""


# --------------------------------------------------------------------------------------------
# Offline configuration


@dataclass(frozen=True)
class OfflineConfig:
    """Where Ultralytics keeps its files once ``configure_offline`` ran.

    ``config_dir`` holds settings.json and the fonts; ``weights_dir`` is where an administrator
    may put official ``.pt`` files (``yolo11n.pt``...) so that they can be named as starting
    weights without a download.
    """

    config_dir: Path
    weights_dir: Path
    datasets_dir: Path
    runs_dir: Path


_config: OfflineConfig | None = None
_config_lock = threading.Lock()


def configure_offline(var_dir: Path) -> OfflineConfig:
    """Make Ultralytics work without network access; call once per process before anything else.

    Sets, before the first Ultralytics import (it reads them at import time):
    ``YOLO_CONFIG_DIR=<var_dir>/ultralytics`` (settings.json, fonts), ``YOLO_OFFLINE=1`` (no DNS
    probe at import, no pip "AutoUpdate", no PyPI version check), ``YOLO_AUTOINSTALL=0`` (never
    ``pip install``), ``YOLO_VERBOSE=0`` (no progress bars), ``ULTRALYTICS_SAFE_LOAD=1``
    (checkpoints are unpickled with ``weights_only=True`` against an allow-list), and removes
    ``ULTRALYTICS_API_KEY`` (no Platform streaming). Then it turns off the settings that phone
    home (``sync`` = usage events, experiment loggers, Platform key), points the datasets,
    weights and runs directories under ``var_dir``, copies matplotlib's DejaVu Sans as
    ``Arial.ttf``/``Arial.Unicode.ttf`` into the config directory (Ultralytics' dataset check and
    plots want these fonts and would download them), and makes Ultralytics' download functions
    raise ``OfflineDownloadError`` immediately.

    Idempotent. If Ultralytics was imported before this call, its config directory can no longer
    move (a warning is logged) but every other switch still takes effect.
    """
    global _config
    with _config_lock:
        root = Path(var_dir).resolve() / "ultralytics"
        config = OfflineConfig(
            config_dir=root / "Ultralytics",  # Ultralytics appends this name to YOLO_CONFIG_DIR
            weights_dir=root / "weights",
            datasets_dir=root / "datasets",
            runs_dir=root / "runs",
        )
        if _config == config:
            return config
        for path in (config.config_dir, config.weights_dir, config.datasets_dir, config.runs_dir):
            path.mkdir(parents=True, exist_ok=True)

        imported_before = "ultralytics" in sys.modules
        os.environ["YOLO_CONFIG_DIR"] = str(root)
        os.environ["YOLO_OFFLINE"] = "1"
        os.environ["YOLO_AUTOINSTALL"] = "0"
        os.environ["YOLO_VERBOSE"] = "0"
        os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"
        os.environ.pop("ULTRALYTICS_API_KEY", None)

        import ultralytics.data.utils as ul_data_utils
        import ultralytics.utils as ul_utils
        import ultralytics.utils.checks as ul_checks
        import ultralytics.utils.downloads as ul_downloads
        import ultralytics.utils.events as ul_events

        if imported_before and Path(ul_utils.USER_CONFIG_DIR) != config.config_dir:
            log.warning(
                "Ultralytics was imported before configure_offline(); its settings stay in %s",
                ul_utils.USER_CONFIG_DIR,
            )
        # Constants Ultralytics computed at import; set them too in case it was imported first.
        ul_utils.ONLINE = ul_checks.ONLINE = ul_events.ONLINE = False
        ul_utils.AUTOINSTALL = ul_checks.AUTOINSTALL = False
        ul_utils.SAFE_LOAD = True
        with contextlib.suppress(ImportError, AttributeError):
            import ultralytics.nn.tasks as ul_tasks

            ul_tasks.SAFE_LOAD = True
        ul_events.events.enabled = False
        ul_utils.SETTINGS.update(
            sync=False,
            api_key="",
            clearml=False,
            comet=False,
            dvc=False,
            mlflow=False,
            raytune=False,
            tensorboard=False,
            wandb=False,
            vscode_msg=False,
            openvino_msg=False,
            datasets_dir=str(config.datasets_dir),
            weights_dir=str(config.weights_dir),
            runs_dir=str(config.runs_dir),
        )
        # Copies of those settings taken at import (from the defaults, on a first run).
        ul_utils.DATASETS_DIR = ul_data_utils.DATASETS_DIR = config.datasets_dir
        ul_utils.WEIGHTS_DIR = config.weights_dir  # where the CUDA AMP check looks for yolo26n.pt
        ul_utils.RUNS_DIR = config.runs_dir
        # Warnings stay visible (and are collected into TrainResult.warnings); INFO chatter and
        # progress bars (shown only at INFO) do not.
        ul_utils.LOGGER.setLevel(logging.WARNING)
        _install_fonts(Path(ul_checks.USER_CONFIG_DIR))
        _block_downloads(ul_downloads, ul_data_utils)
        _restore_pillow_open()
        _config = config
        return config


def _install_fonts(font_dir: Path) -> None:
    """Provide the fonts ``ultralytics.utils.checks.check_font`` would download."""
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):  # DejaVu covers far more than Latin-1
        target = font_dir / name
        if not target.exists():
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)  # never a half-written font for a concurrent process


def _block_downloads(ul_downloads: Any, ul_data_utils: Any) -> None:
    """Replace Ultralytics' download entry points with ones that fail at once.

    ``YOLO_OFFLINE`` alone is not enough: ``safe_download`` always makes one network attempt
    first (30 s connect timeout) and looks at the offline flag only after it failed.
    ``attempt_download_asset``, ``download`` and ``check_font`` all go through these names.
    """
    if getattr(ul_downloads.safe_download, "_offline_blocked", False):
        return
    original_is_url = ul_downloads.is_url

    def refuse_download(url: Any = "", *args: Any, **kwargs: Any) -> Path:
        url = kwargs.get("url", url)
        raise OfflineDownloadError(
            f"Ultralytics tried to download {url}; this installation works offline. Put the file "
            "on this machine (weights: upload the .pt file) instead."
        )

    def refuse_assets(repo: str = "", *args: Any, **kwargs: Any) -> tuple[str, list[str]]:
        raise OfflineDownloadError(
            f"Ultralytics tried to list the GitHub releases of {repo}; offline."
        )

    def is_url_offline(url: Any, check: bool = False) -> bool:
        return False if check else original_is_url(url)  # check=True would send a HEAD request

    for fn in (refuse_download, refuse_assets, is_url_offline):
        fn._offline_blocked = True  # type: ignore[attr-defined]
    ul_downloads.safe_download = refuse_download
    ul_downloads.get_github_assets = refuse_assets
    ul_downloads.is_url = is_url_offline
    ul_data_utils.safe_download = refuse_download  # imported by name there


def _restore_pillow_open() -> None:
    """Undo Ultralytics' wrapper around ``PIL.Image.open``.

    On the first file Pillow cannot identify, the wrapper runs ``check_requirements("pi-heif")``
    (a pip install, or a ModuleNotFoundError offline) and retries. Every process that trains
    or evaluates also opens uploaded images, and an unreadable upload must stay a plain
    ``UnidentifiedImageError``; HEIC input is not supported anyway.
    """
    import ultralytics.utils.patches as ul_patches
    from PIL import Image

    original = getattr(ul_patches, "_image_open", None)
    if callable(original):
        Image.open = original


def release_memory() -> None:
    """Free what a finished or interrupted run left on the GPU before the worker's next job."""
    import gc

    gc.collect()
    torch = sys.modules.get("torch")
    with contextlib.suppress(Exception):
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def _require_offline() -> OfflineConfig:
    if _config is None:
        raise RuntimeError(
            "Call training.trainer.configure_offline(var_dir) before using Ultralytics "
            "(it must never reach the network)."
        )
    return _config


def resolve_start_weights(weights: str | Path) -> Path:
    """Return the local path of starting weights, or raise ``OfflineWeightsError`` at once.

    ``weights`` is a path, or a bare official name such as ``yolo11n.pt``, which is looked up in
    ``OfflineConfig.weights_dir``. Nothing is downloaded and no connection is made.
    """
    config = _require_offline()
    path = Path(weights)
    if path.suffix.lower() != ".pt":
        raise CheckpointError(f"{weights}: starting weights must be a .pt file")
    if path.is_file():
        return path
    if path.name == str(weights) and (config.weights_dir / path.name).is_file():
        return config.weights_dir / path.name
    raise OfflineWeightsError(
        f"{weights} is not on this machine; upload the .pt file or train from scratch "
        f"(official weights may be placed in {config.weights_dir})"
    )


def _resolve_model_yaml(name: str) -> str:
    """Return a model YAML Ultralytics can build, or raise ``ValueError``.

    Scale letters are part of the name (``yolo11n.yaml`` builds ``yolo11.yaml`` at scale n), so
    the name itself (not the resolved file) is what must be handed on.
    """
    if Path(name).is_file():
        return name
    from ultralytics.utils.checks import check_yaml

    unified = re.sub(r"(\d+)([nslmx])(.+)?$", r"\1\3", name)  # as ultralytics.nn.tasks does
    for candidate in (name, unified):
        with contextlib.suppress(Exception):
            if check_yaml(candidate, hard=False):
                return name
    raise ValueError(f"Model YAML {name!r} is neither a file nor shipped with Ultralytics")


# --------------------------------------------------------------------------------------------
# Checkpoints


@dataclass(frozen=True)
class CheckpointInfo:
    """What an Ultralytics detection checkpoint says about itself."""

    class_names: list[str]  # index = class id
    architecture: str  # model YAML it was built from, e.g. "yolo11n.yaml"
    parameters: int
    epoch: int  # last finished epoch, 0-based; -1 once training finished (optimizer stripped)
    resumable: bool  # holds optimizer state and an unfinished epoch count
    train_args: dict[str, Any]  # imgsz, epochs, batch... as trained; {} if absent
    ultralytics_version: str


def load_checkpoint_check(path: Path) -> CheckpointInfo:
    """Check that ``path`` is an Ultralytics YOLO *detection* checkpoint; raise ``CheckpointError``.

    Security: a .pt file is a pickle, and ``torch.load(weights_only=False)`` on a pickle runs any
    code its author put in it. This function (and every load after ``configure_offline``) uses
    Ultralytics' restricted loader: ``torch.load(weights_only=True)`` with an allow-list of
    tensor, container, torch.nn and Ultralytics model classes, and model YAMLs rebuilt without
    ``eval``. Files needing anything else are refused. That removes the known code-execution
    route but not all risk (bugs in the unpickler or in an allow-listed class, resource
    exhaustion from a huge or deeply nested file), so uploaded files should be size-limited and
    checked in a worker process with a time and memory limit, not in the web process.
    """
    _require_offline()
    path = Path(path)
    if path.suffix.lower() != ".pt":
        raise CheckpointError(f"{path.name}: a checkpoint must be a .pt file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    import torch
    from ultralytics.nn.tasks import DetectionModel, guess_model_task, torch_safe_load

    try:
        ckpt, _ = torch_safe_load(str(path), safe_only=True)
    except Exception as e:  # untrusted bytes can fail in any way; all mean "not a checkpoint"
        message = _ANSI.sub("", str(e)).replace("ERROR ❌️ ", "").strip()
        raise CheckpointError(
            f"{path.name} is not a loadable Ultralytics checkpoint: {message.splitlines()[0]}"
        ) from e
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if not isinstance(model, torch.nn.Module):
        raise CheckpointError(f"{path.name} holds no Ultralytics model")
    task = getattr(model, "task", None) or guess_model_task(model)
    # Segment/pose/OBB models subclass DetectionModel: test the exact type and the task.
    if type(model) is not DetectionModel or task != "detect":
        raise CheckpointError(
            f"{path.name} is a {task or type(model).__name__} model; a detection model is needed"
        )
    names = getattr(model, "names", None)
    if isinstance(names, dict):
        class_names = [str(names[k]) for k in sorted(names)]
    elif isinstance(names, list | tuple):
        class_names = [str(n) for n in names]
    else:
        raise CheckpointError(f"{path.name} has no class names")
    if len(class_names) != getattr(model, "nc", len(class_names)) or not class_names:
        raise CheckpointError(f"{path.name}: class names don't match the model's class count")
    yaml = getattr(model, "yaml", None) or {}
    epoch = ckpt.get("epoch", -1)
    train_args = ckpt.get("train_args") or {}
    return CheckpointInfo(
        class_names=class_names,
        architecture=Path(str(yaml.get("yaml_file", ""))).name if isinstance(yaml, dict) else "",
        parameters=sum(p.numel() for p in model.parameters()),
        epoch=int(epoch) if isinstance(epoch, int) else -1,
        resumable=isinstance(epoch, int)
        and epoch >= 0
        and ckpt.get("optimizer") is not None
        and epoch + 1 < int(train_args.get("epochs", 0) or 0),
        train_args=dict(train_args),
        ultralytics_version=str(ckpt.get("version", "")),
    )


# --------------------------------------------------------------------------------------------
# Training


@dataclass(frozen=True)
class DetectionMetrics:
    """Validation metrics, each in [0, 1]."""

    precision: float
    recall: float
    map50: float
    map50_95: float


@dataclass(frozen=True)
class EpochReport:
    """What happened in one epoch; mirrors ``training.models.EpochMetric``."""

    epoch: int  # 1-based
    epochs: int  # planned total
    box_loss: float | None  # mean training losses over the epoch (None if the model has none)
    cls_loss: float | None
    dfl_loss: float | None
    precision: float | None  # validation, after this epoch
    recall: float | None
    map50: float | None
    map50_95: float | None
    epoch_time_s: float
    eta_s: float  # mean epoch time of this run x epochs left; 0 when stopping
    partial: bool  # cut short by should_stop(): not every batch of the epoch ran
    # Resumable checkpoint written for this epoch. Copy it during the callback if you want it:
    # the next epoch overwrites it, and the end of training strips its optimizer state.
    last_checkpoint: Path | None
    extra: dict[str, float] = field(default_factory=dict)  # val losses, learning rates...


@dataclass(frozen=True)
class TrainResult:
    best: Path  # best.pt (highest validation mAP50-95), optimizer stripped
    last: Path  # last.pt, optimizer stripped
    resume_checkpoint: Path | None  # resumable copy of last.pt when cancelled; else None
    metrics: DetectionMetrics | None  # best.pt on the validation split
    stopped: Literal["completed", "cancelled", "early_stopping"]
    epochs_done: int  # epochs finished in total, counting a resumed run's earlier ones
    epochs_total: int
    device: str  # as used: "cpu", "cuda:0", "mps"
    device_name: str  # GPU model, or "CPU"
    training_time_s: float  # wall time of this call
    save_dir: Path  # = project_dir: weights/, results.csv, args.yaml
    class_names: list[str]
    warnings: list[str] = field(default_factory=list)  # Ultralytics' warnings during the run


def train(
    *,
    data_yaml: Path,
    preset_or_model: str | Path,
    hyperparameters: Hyperparameters,
    project_dir: Path,
    on_epoch_end: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume_from: Path | None = None,
    plots: bool = False,
) -> TrainResult:
    """Train a YOLO detector with Ultralytics and return where the weights are.

    ``preset_or_model``: a key of ``PRESETS``, a model YAML (from scratch), or a ``.pt`` file
    (a model trained here or uploaded; its weights are transferred layer by layer where shapes
    match, so a checkpoint with a different class count keeps its backbone). Bare official
    names (``yolo11n.pt``) must exist in ``OfflineConfig.weights_dir``, else
    ``OfflineWeightsError`` is raised before anything starts.

    ``data_yaml``: an Ultralytics dataset YAML whose paths exist on this machine.
    ``project_dir``: everything is written here (``weights/best.pt``, ``weights/last.pt``,
    ``results.csv``, ``args.yaml``, plots if ``plots``).

    ``on_epoch_end(report)`` runs after each epoch's validation and checkpoint. ``should_stop()``
    is polled after every batch (at most every ``STOP_POLL_INTERVAL_S``) and after every epoch;
    once it returns True, the current batch finishes, that epoch is validated and saved (marked
    ``partial`` if cut short), best/last weights are kept, a resumable copy is written as
    ``weights/resume.pt`` and ``stopped="cancelled"`` is returned.

    ``resume_from``: a resumable checkpoint (``TrainResult.resume_checkpoint`` or a last.pt
    saved from ``EpochReport.last_checkpoint``); training continues at the next epoch with the
    checkpoint's own hyperparameters, except ``device`` and ``workers`` from ``hyperparameters``.
    ``preset_or_model`` is then ignored.

    Errors: ``HyperparameterError``, ``FileNotFoundError`` (dataset YAML), ``ValueError``
    (unknown preset or model YAML), ``OfflineWeightsError``, ``CheckpointError`` are raised before
    anything is written. An exception from Ultralytics, a callback or a Celery soft time limit
    ends training where it is; ``weights/last.pt`` then holds the last finished epoch, resumable.
    """
    _require_offline()
    # Check all input before writing anything.
    hyperparameters.validate()
    data_yaml = Path(data_yaml).resolve()
    if not data_yaml.is_file():
        raise FileNotFoundError(f"Dataset YAML {data_yaml} does not exist")
    if resume_from is not None:
        if not load_checkpoint_check(Path(resume_from)).resumable:
            raise CheckpointError(
                f"{Path(resume_from).name} can't be resumed: it holds no optimizer state or its "
                "training already finished"
            )
        source = str(resume_from)
    else:
        source = _resolve_start(preset_or_model)
    project_dir = Path(project_dir).resolve()
    project_dir.mkdir(parents=True, exist_ok=True)

    from ultralytics import YOLO

    model = YOLO(source)
    common = {
        "data": str(data_yaml),
        "device": "" if hyperparameters.device == "auto" else hyperparameters.device,
        "workers": hyperparameters.workers,
        "save_dir": str(project_dir),
        "plots": plots,
        "verbose": False,
    }
    if resume_from is not None:
        args = {**common, "resume": True}
    else:
        args = {
            **common,
            "epochs": hyperparameters.epochs,
            "imgsz": hyperparameters.imgsz,
            "batch": hyperparameters.batch,
            # No gradient accumulation up to Ultralytics' nominal batch of 64: a lab's dataset
            # is tens to hundreds of frames, and accumulating would leave a handful of
            # optimizer steps per run. Each step sees the batch the user chose.
            "nbs": hyperparameters.batch,
            "optimizer": "SGD",  # 'auto' would override lr0 and momentum
            "lr0": hyperparameters.lr0,
            "momentum": hyperparameters.momentum,
            "weight_decay": hyperparameters.weight_decay,
            "patience": hyperparameters.patience,
            "seed": hyperparameters.seed,
            "exist_ok": True,
            **({} if hyperparameters.augment else _AUGMENTATION_OFF),
        }

    monitor = _Monitor(on_epoch_end=on_epoch_end, should_stop=should_stop)
    for event, callback in monitor.callbacks().items():
        model.add_callback(event, callback)
    started = time.monotonic()
    with _collect_warnings() as warnings:
        model.train(**args)
    trainer = model.trainer
    return monitor.result(trainer, time.monotonic() - started, warnings)


def _resolve_start(preset_or_model: str | Path) -> str:
    name = str(preset_or_model)
    if name in PRESETS:
        return _resolve_model_yaml(PRESETS[name].model_yaml)
    suffix = Path(name).suffix.lower()
    if suffix in {".yaml", ".yml"}:
        return _resolve_model_yaml(name)
    if suffix == ".pt":
        path = resolve_start_weights(name)
        load_checkpoint_check(path)
        return str(path)
    raise ValueError(f"{name!r} is neither a preset ({', '.join(PRESETS)}), a .yaml nor a .pt")


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class _Monitor:
    """Ultralytics callbacks that report epochs, poll for cancellation and keep a resume copy."""

    def __init__(
        self,
        *,
        on_epoch_end: Callable[[EpochReport], None] | None,
        should_stop: Callable[[], bool] | None,
    ):
        self.on_epoch_end = on_epoch_end
        self.should_stop = should_stop
        self.cancelled = False
        self.batches = 0  # batches run in the current epoch
        self.partial = False
        self.trained_epoch: int | None = None  # 0-based epoch whose batches just finished
        self.epoch_times: list[float] = []
        self.next_poll = 0.0
        self.final_metrics: DetectionMetrics | None = None
        self.last_metrics: DetectionMetrics | None = None
        self.resume_checkpoint: Path | None = None

    def callbacks(self) -> dict[str, Callable[[Any], None]]:
        return {
            "on_train_epoch_start": self._epoch_start,
            "on_train_batch_end": self._batch_end,
            "on_train_epoch_end": self._train_epoch_end,
            "on_fit_epoch_end": self._fit_epoch_end,
        }

    def _poll(self, trainer: Any) -> None:
        if self.cancelled or self.should_stop is None:
            return
        if self.should_stop():
            self.cancelled = True
            trainer.stop = True  # Ultralytics ends the epoch after this batch, validates, saves

    def _epoch_start(self, trainer: Any) -> None:
        self.batches = 0

    def _batch_end(self, trainer: Any) -> None:
        self.batches += 1
        now = time.monotonic()
        if now >= self.next_poll:
            self.next_poll = now + STOP_POLL_INTERVAL_S
            self._poll(trainer)

    def _train_epoch_end(self, trainer: Any) -> None:
        self.trained_epoch = trainer.epoch
        self.partial = self.cancelled and self.batches < len(trainer.train_loader)

    def _fit_epoch_end(self, trainer: Any) -> None:
        metrics = _detection_metrics(trainer.metrics)
        if trainer.epoch != self.trained_epoch:
            # Ultralytics' final validation of best.pt also fires this event, with epoch + 1.
            self.final_metrics = metrics
            return
        self.trained_epoch = None  # a NaN-recovery redo of the epoch reports again
        self.last_metrics = metrics
        epoch = trainer.epoch + 1
        epochs = trainer.epochs
        self._poll(trainer)  # before the report, so that it tells whether training stops here
        stopping = bool(trainer.stop) or epoch >= epochs
        last_pt = Path(trainer.last)
        self._keep_resume_copy(trainer, epoch, epochs)
        epoch_time = float(trainer.epoch_time or 0.0)
        if not self.partial:
            self.epoch_times.append(epoch_time)
        mean = sum(self.epoch_times) / len(self.epoch_times) if self.epoch_times else epoch_time
        losses = {k: _scalar(v) for k, v in (trainer.tloss or {}).items()}
        extra = {  # whatever else the model reports: other losses, validation losses, lr
            f"train/{k}": v for k, v in losses.items() if k not in _MAIN_LOSSES and v is not None
        }
        for k, v in {**(trainer.metrics or {}), **(getattr(trainer, "lr", None) or {})}.items():
            if not k.startswith("metrics/") and (value := _scalar(v)) is not None:
                extra[k] = value
        report = EpochReport(
            epoch=epoch,
            epochs=epochs,
            box_loss=losses.get("box_loss"),
            cls_loss=losses.get("cls_loss"),
            dfl_loss=losses.get("dfl_loss"),
            precision=metrics.precision if metrics else None,
            recall=metrics.recall if metrics else None,
            map50=metrics.map50 if metrics else None,
            map50_95=metrics.map50_95 if metrics else None,
            epoch_time_s=epoch_time,
            eta_s=0.0 if stopping else mean * (epochs - epoch),
            partial=self.partial,
            last_checkpoint=last_pt if last_pt.is_file() else None,
            extra=extra,
        )
        if self.on_epoch_end is not None:
            self.on_epoch_end(report)
        if not stopping:
            self._poll(trainer)  # again: a stop requested by on_epoch_end ends training now
            self._keep_resume_copy(trainer, epoch, epochs)

    def _keep_resume_copy(self, trainer: Any, epoch: int, epochs: int) -> None:
        last_pt = Path(trainer.last)
        if (
            self.cancelled
            and epoch < epochs
            and last_pt.is_file()
            and self.resume_checkpoint is None
        ):
            # The end of training strips the optimizer from last.pt; keep a resumable copy.
            self.resume_checkpoint = last_pt.with_name("resume.pt")
            shutil.copyfile(last_pt, self.resume_checkpoint)

    def result(self, trainer: Any, seconds: float, warnings: list[str]) -> TrainResult:
        import torch

        epochs_done = int(trainer.epoch) + 1
        epochs_total = int(trainer.epochs)
        if self.cancelled and epochs_done < epochs_total:
            stopped = "cancelled"
        elif epochs_done < epochs_total:
            stopped = "early_stopping"
        else:
            stopped = "completed"
        device = trainer.device
        if device.type == "cuda":
            device_name = torch.cuda.get_device_name(device)
        else:
            device_name = device.type.upper()
        names = trainer.data.get("names", {})
        return TrainResult(
            best=Path(trainer.best),
            last=Path(trainer.last),
            resume_checkpoint=self.resume_checkpoint if stopped == "cancelled" else None,
            metrics=self.final_metrics or self.last_metrics,
            stopped=stopped,
            epochs_done=epochs_done,
            epochs_total=epochs_total,
            device=str(device),
            device_name=device_name,
            training_time_s=seconds,
            save_dir=Path(trainer.save_dir),
            class_names=[str(names[k]) for k in sorted(names)]
            if isinstance(names, dict)
            else [str(n) for n in names],
            warnings=warnings,
        )


def _detection_metrics(metrics: dict[str, Any] | None) -> DetectionMetrics | None:
    if not metrics or "metrics/mAP50-95(B)" not in metrics:
        return None
    values = [
        _scalar(metrics.get(f"metrics/{k}(B)"))
        for k in ("precision", "recall", "mAP50", "mAP50-95")
    ]
    return DetectionMetrics(*(v if v is not None else 0.0 for v in values))


class _WarningCollector(logging.Handler):
    def __init__(self, sink: list[str], limit: int = 200):
        super().__init__(level=logging.WARNING)
        self.sink, self.limit = sink, limit

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.sink) < self.limit:
            self.sink.append(_ANSI.sub("", record.getMessage()).strip())


@contextlib.contextmanager
def _collect_warnings() -> Iterator[list[str]]:
    sink: list[str] = []
    handler = _WarningCollector(sink)
    logger = logging.getLogger("ultralytics")
    logger.addHandler(handler)
    try:
        yield sink
    finally:
        logger.removeHandler(handler)


# --------------------------------------------------------------------------------------------
# Export, information, inference


class ModelInfo(NamedTuple):
    parameters: int
    gflops: float  # at imgsz x imgsz input


def model_info(weights: str | Path, imgsz: int = 640) -> ModelInfo:
    """Parameter count and GFLOPs of a .pt checkpoint or a model YAML (built with 80 classes)."""
    _require_offline()
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import get_flops, get_num_params

    name = str(weights)
    if Path(name).suffix.lower() == ".pt":
        load_checkpoint_check(Path(name))
        model = YOLO(name).model
    else:
        model = YOLO(_resolve_model_yaml(name)).model
    return ModelInfo(parameters=int(get_num_params(model)), gflops=float(get_flops(model, imgsz)))


def export_onnx(weights: Path, imgsz: int, output: Path | None = None) -> Path:
    """Export a .pt checkpoint to ONNX (fp32, static 1x3ximgszximgsz input, NMS not embedded).

    Written next to ``weights`` (same stem) unless ``output`` is given. ``simplify`` is off: it
    needs ``onnxslim``, which is not installed, and Ultralytics would try to pip-install it.
    The output ``output0`` has shape (1, 4 + classes, anchors): boxes as center x, y, w, h in
    network-input pixels, then per-class scores; ``Detector`` reads it (letterbox and NMS).
    """
    _require_offline()
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
        _require_offline()
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
