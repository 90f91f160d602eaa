"""Registering a model made elsewhere (a ``.pt`` or ``.onnx`` file a lab brings).

The file is checked in the limited child process of :mod:`training.checkpoint_probe`
before anything is stored; the web process never unpickles it. The model then takes part
in tracking, evaluation and downloads like one trained here.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.models import Project
from webapp.storage import delete_quietly, scratch_tempdir, sha256_of_file, store_file

from . import checkpoint_probe
from .models import TrainedModel
from .services import MAX_CHECKPOINT_BYTES


def trained_model_import(
    *, project: Project, path: Path, display_name: str, name: str = "", created_by=None
) -> TrainedModel:
    """Check ``path`` (named ``display_name`` by the person) and register it in ``project``.

    Raises ``ValidationError`` on the ``file`` field (nothing stored) when it is not a usable
    detector.
    """
    display = (Path(str(display_name or "")).name or "model")[:255]
    suffix = Path(display).suffix.lower()
    if suffix not in (".pt", ".onnx"):
        raise ValidationError({"file": f"“{display}” is neither a .pt nor an .onnx file."})
    size = path.stat().st_size
    if size <= 0:
        raise ValidationError({"file": f"“{display}” is empty."})
    if size > MAX_CHECKPOINT_BYTES:
        raise ValidationError({"file": f"“{display}” is larger than 2 GB."})
    name = (name or Path(display).stem).strip()[:120] or "imported model"
    with scratch_tempdir() as tmp:
        # The checker sees a server-chosen name: the person's file name is display text only.
        local = Path(tmp) / f"model{suffix}"
        shutil.copyfile(path, local)
        probe = (
            checkpoint_probe.probe_onnx if suffix == ".onnx" else checkpoint_probe.probe_checkpoint
        )
        try:
            summary = probe(local, var_dir=Path(settings.VAR_DIR))
        except checkpoint_probe.CheckpointRejected as exc:
            message = str(exc).replace(str(local), display)
            raise ValidationError({"file": f"“{display}”: {message}"}) from exc
        digest = sha256_of_file(local)
        stored = store_file(
            local_path=local, name=f"models/{project.pk}/imported/{uuid.uuid4().hex}{suffix}"
        )
    try:
        with transaction.atomic():
            return TrainedModel.objects.create(
                project=project,
                name=name,
                preset=Path(summary.architecture).stem if suffix == ".pt" else "onnx",
                start_weights=f"imported {display}",
                weights=stored,
                weights_sha256=digest,
                weights_size=size,
                onnx=stored if suffix == ".onnx" else "",
                onnx_sha256=digest if suffix == ".onnx" else "",
                onnx_size=size if suffix == ".onnx" else 0,
                imgsz=summary.imgsz or 640,
                class_names=list(summary.class_names),
                parameters=summary.parameters or None,
                card={
                    "imported_from": display,
                    "architecture": summary.architecture,
                    "ultralytics_version": summary.ultralytics_version,
                    "created_by": getattr(created_by, "username", None),
                },
            )
    except BaseException:
        delete_quietly(stored)
        raise
