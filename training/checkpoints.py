"""Model files: Ultralytics detection checkpoints (.pt), starting weights and model YAMLs.

:func:`load_checkpoint_check` is the one place a ``.pt`` is vetted (restricted unpickling, a
*detection* model with class names); :func:`resolve_start_weights` finds starting weights on
this machine without downloading; :func:`resolve_model_yaml` checks a model YAML name.
Ultralytics is imported lazily, after ``configure_offline``. No Django import.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.ultralytics_setup import require_offline, strip_ansi


class OfflineWeightsError(FileNotFoundError):
    """Starting weights were named that are not on this machine (and can't be downloaded)."""


class CheckpointError(ValueError):
    """A .pt file is not a usable (or resumable) Ultralytics detection checkpoint."""


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


def load_checkpoint_check(path: Path, *, allow_pose: bool = False) -> CheckpointInfo:
    """Check that ``path`` is an Ultralytics YOLO *detection* checkpoint; raise ``CheckpointError``.
    ``allow_pose``: a pose checkpoint (boxes + keypoints) is accepted too (a pose training's
    own weights: registering, resuming, starting from them).

    Security: a .pt file is a pickle, and ``torch.load(weights_only=False)`` on a pickle runs any
    code its author put in it. This function (and every load after ``configure_offline``) uses
    Ultralytics' restricted loader: ``torch.load(weights_only=True)`` with an allow-list of
    tensor, container, torch.nn and Ultralytics model classes, and model YAMLs rebuilt without
    ``eval``. Files needing anything else are refused. That removes the known code-execution
    route but not all risk (bugs in the unpickler or in an allow-listed class, resource
    exhaustion from a huge or deeply nested file), so uploaded files should be size-limited and
    checked in a worker process with a time and memory limit, not in the web process.
    """
    require_offline()
    path = Path(path)
    if path.suffix.lower() != ".pt":
        raise CheckpointError(f"{path.name}: a checkpoint must be a .pt file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    import torch
    from ultralytics.nn.tasks import DetectionModel, PoseModel, guess_model_task, torch_safe_load

    try:
        ckpt, _ = torch_safe_load(str(path), safe_only=True)
    except Exception as e:  # untrusted bytes can fail in any way; all mean "not a checkpoint"
        message = strip_ansi(str(e)).replace("ERROR ❌️ ", "").strip()
        raise CheckpointError(
            f"{path.name} is not a loadable Ultralytics checkpoint: {message.splitlines()[0]}"
        ) from e
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if not isinstance(model, torch.nn.Module):
        raise CheckpointError(f"{path.name} holds no Ultralytics model")
    task = getattr(model, "task", None) or guess_model_task(model)
    # Segment/pose/OBB models subclass DetectionModel: test the exact type and the task.
    pose_ok = allow_pose and type(model) is PoseModel and task == "pose"
    if not pose_ok and (type(model) is not DetectionModel or task != "detect"):
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


def resolve_start_weights(weights: str | Path) -> Path:
    """Return the local path of starting weights, or raise ``OfflineWeightsError`` at once.

    ``weights`` is a path, or a bare official name such as ``yolo11n.pt``, which is looked up in
    ``OfflineConfig.weights_dir``. Nothing is downloaded and no connection is made.
    """
    config = require_offline()
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


def resolve_model_yaml(name: str) -> str:
    """Return a model YAML Ultralytics can build, or raise ``ValueError``.

    Scale letters are part of the name (``yolo11n.yaml`` builds ``yolo11.yaml`` at scale n), so
    the name itself (not the resolved file) is what must be handed on.
    """
    if Path(name).is_file():
        return name
    from .presets import MODEL_YAML_DIR

    ours = MODEL_YAML_DIR / name
    if ours.is_file():  # a YAML this app ships (the Tiny pose model)
        return str(ours)
    from ultralytics.utils.checks import check_yaml

    unified = re.sub(r"(\d+)([nslmx])(.+)?$", r"\1\3", name)  # as ultralytics.nn.tasks does
    for candidate in (name, unified):
        with contextlib.suppress(Exception):
            if check_yaml(candidate, hard=False):
                return name
    raise ValueError(f"Model YAML {name!r} is neither a file nor shipped with Ultralytics")
