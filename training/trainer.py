"""Training a YOLO detector with Ultralytics: the training loop and its monitor.

:func:`train` runs Ultralytics' trainer with this project's defaults and reports every epoch,
polls for cancellation and keeps a resumable checkpoint. Ultralytics is imported lazily,
inside functions, after ``configure_offline`` (:mod:`training.ultralytics_setup`). No Django
import: dataclasses in, dataclasses out.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from training.checkpoints import (
    CheckpointError,
    load_checkpoint_check,
    resolve_model_yaml,
    resolve_start_weights,
)
from training.presets import PRESETS, Hyperparameters
from training.ultralytics_setup import (
    default_cpu_threads,
    require_offline,
    set_cpu_threads,
    strip_ansi,
)

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
_MAIN_LOSSES = ("box_loss", "cls_loss", "dfl_loss")  # EpochReport fields; the rest go to extra


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
    # Whether the training images were held in RAM (``Hyperparameters.cache_images`` and they
    # fit); None when training ended before its data loader was built.
    images_in_memory: bool | None = None


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
    threads: int | None = None,
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

    ``threads``: CPU threads torch may use (:func:`training.ultralytics_setup.set_cpu_threads`,
    process-wide); None = every core this process may run on. Ultralytics' own choice,
    ``cpu_count - 1``, would leave a 2-core machine training on one.

    Errors: ``HyperparameterError``, ``FileNotFoundError`` (dataset YAML), ``ValueError``
    (unknown preset or model YAML), ``OfflineWeightsError``, ``CheckpointError`` are raised before
    anything is written. An exception from Ultralytics, a callback or a Celery soft time limit
    ends training where it is; ``weights/last.pt`` then holds the last finished epoch, resumable.
    """
    require_offline()
    # Check all input before writing anything.
    hyperparameters.validate()
    data_yaml = Path(data_yaml).resolve()
    if not data_yaml.is_file():
        raise FileNotFoundError(f"Dataset YAML {data_yaml} does not exist")
    if resume_from is not None:
        if not load_checkpoint_check(Path(resume_from), allow_pose=True).resumable:
            raise CheckpointError(
                f"{Path(resume_from).name} can't be resumed: it holds no optimizer state or its "
                "training already finished"
            )
        source = str(resume_from)
    else:
        source = _resolve_start(preset_or_model)
    set_cpu_threads(default_cpu_threads() if threads is None else threads)
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
        # Ultralytics checks the need (with a 100% margin) against free memory and reads from
        # disk when it does not fit, with a warning the job log shows.
        "cache": "ram" if hyperparameters.cache_images else False,
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
        return resolve_model_yaml(PRESETS[name].model_yaml)
    suffix = Path(name).suffix.lower()
    if suffix in {".yaml", ".yml"}:
        return resolve_model_yaml(name)
    if suffix == ".pt":
        path = resolve_start_weights(name)
        load_checkpoint_check(path, allow_pose=True)
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
        self.images_in_memory: bool | None = None

    def callbacks(self) -> dict[str, Callable[[Any], None]]:
        return {
            "on_train_start": self._train_start,
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

    def _train_start(self, trainer: Any) -> None:
        dataset = getattr(getattr(trainer, "train_loader", None), "dataset", None)
        self.images_in_memory = getattr(dataset, "cache", None) == "ram"

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
            # A pose model's keypoint metrics ("metrics/mAP50-95(P)") are kept too.
            keep = not k.startswith("metrics/") or k.endswith("(P)")
            if keep and (value := _scalar(v)) is not None:
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
            images_in_memory=self.images_in_memory,
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
        # Ultralytics warns that a RAM cache "may produce non-deterministic training results"
        # whenever deterministic=True; with the app's seeded, single-process loading the runs
        # repeat (tests/training), so the warning would only alarm the user.
        if "may produce non-deterministic" in record.getMessage():
            return
        if len(self.sink) < self.limit:
            self.sink.append(strip_ansi(record.getMessage()).strip())


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
