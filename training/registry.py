"""The model registry: a :class:`TrainedModel` made from the weights a job left.

:func:`trained_model_register` copies the weights, counts parameters and GFLOPs, exports
ONNX, stores and hashes both files, builds the model card, and then, in one transaction,
creates the model and finishes its job. A model becomes visible (and downloadable) only in
that transaction, after its files are completely stored and hashed.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from django.db import transaction
from django.utils import timezone

from labeling.models import DatasetVersion
from webapp.models import JobStatus
from webapp.storage import delete_quietly, sha256_of_file, store_file

from .checkpoints import load_checkpoint_check
from .export import export_onnx, model_info
from .joblog import error_text
from .model_card import card_build
from .models import TrainedModel, TrainingJob
from .presets import PRESETS, Hyperparameters

METRIC_FIELDS = ("precision", "recall", "map50", "map50_95")


class _JobEndedElsewhere(Exception):
    pass


def trained_model_register(
    *,
    job: TrainingJob,
    weights: Path,
    result,
    attempt_s: float,
    stopped: str,
    status: str,
    message: str,
    work: Path,
    log: Callable[[str], None],
) -> TrainedModel | None:
    """Register ``weights`` as the model of ``job`` and end the job with ``status``.

    Ultralytics must be configured offline (``training.ultralytics_setup``); ``result`` is
    the ``TrainResult``, or None when training was interrupted (the metrics then come from the
    best epoch recorded, the training time from ``attempt_s``). ``work`` is scratch space.
    Returns None (its files removed) if the job ended elsewhere meanwhile.
    """
    work.mkdir(parents=True, exist_ok=True)
    hp = Hyperparameters.from_dict(job.hyperparameters)
    # A private copy under a temporary name: what is hashed is exactly what is stored.
    local_pt = work / "model.pt.part"
    shutil.copyfile(weights, local_pt)
    local_pt = local_pt.rename(work / "model.pt")
    preset = PRESETS.get(job.preset)
    info = load_checkpoint_check(local_pt, allow_pose=preset is not None and preset.task == "pose")
    imgsz = int(info.train_args.get("imgsz") or hp.imgsz)
    parameters = gflops = None
    try:
        parameters, gflops = model_info(local_pt, imgsz=imgsz)
    except Exception as exc:
        log(f"Could not count parameters/GFLOPs: {error_text(exc)}")
    onnx_path, onnx_error = None, ""
    try:
        onnx_path = export_onnx(local_pt, imgsz, output=work / "model.onnx")
    except SoftTimeLimitExceeded:
        # One of the two catches outside webapp.jobs, only to let it through: the limit is
        # an Exception, and the one below would take it for a failed ONNX export.
        raise
    except Exception as exc:
        onnx_error = error_text(exc)
        log(f"ONNX export failed: {onnx_error.splitlines()[0]}")

    stored: list[str] = []
    try:
        base = f"training/{job.project_id}/models/{uuid.uuid4().hex}"
        pt_sha = sha256_of_file(local_pt)
        pt_name = store_file(local_path=local_pt, name=f"{base}/model.pt")
        stored.append(pt_name)
        onnx_name = onnx_sha = ""
        onnx_size = 0
        if onnx_path is not None:
            onnx_sha = sha256_of_file(onnx_path)
            onnx_size = onnx_path.stat().st_size
            onnx_name = store_file(local_path=onnx_path, name=f"{base}/model.onnx")
            stored.append(onnx_name)

        if result is not None:
            epochs_done = result.epochs_done
            training_time = job.training_time_s + result.training_time_s
            device = f"{result.device} ({result.device_name})"
        else:
            epochs_done = (
                TrainingJob.objects.filter(pk=job.pk).values_list("epochs_done", flat=True).first()
                or 0
            )
            training_time = job.training_time_s + attempt_s
            device = ""
        best = result.metrics if result is not None else None
        if best is None:  # no final validation: the best epoch recorded
            best = job.epoch_metrics.exclude(map50_95=None).order_by("-map50_95").first()
        metrics = {name: getattr(best, name) for name in METRIC_FIELDS} if best is not None else {}
        partial = status != JobStatus.SUCCEEDED
        preset = PRESETS.get(job.preset)
        default_name = (
            f"{preset.label if preset else job.preset} · {job.dataset_version.name} · job {job.pk}"
        )
        model_name = (job.name or default_name)[:110] + (" (partial)" if partial else "")
        with transaction.atomic():
            locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != JobStatus.RUNNING:
                raise _JobEndedElsewhere()
            # A retried job that was registered as partial before: the old model stays in
            # the registry (it may be in use), no longer linked to the job.
            TrainedModel.objects.filter(job=locked).update(job=None)
            model = TrainedModel(
                project_id=job.project_id,
                job=locked,
                name=model_name,
                preset=job.preset,
                dataset_version=job.dataset_version,
                start_weights=_start_description(job),
                hyperparameters=job.hyperparameters,
                partial=partial,
                stopped=stopped,
                epochs_trained=epochs_done,
                device=device,
                weights=pt_name,
                weights_sha256=pt_sha,
                weights_size=local_pt.stat().st_size,
                onnx=onnx_name,
                onnx_sha256=onnx_sha,
                onnx_size=onnx_size,
                imgsz=imgsz,
                class_names=info.class_names,
                parameters=parameters,
                gflops=gflops,
                metrics=metrics,
                training_time_s=training_time,
            )
            model.card = card_build(
                model=_card_model_fields(model),
                job=_card_job_fields(locked, epochs_done=epochs_done, status=status),
                dataset=_card_dataset_fields(job.dataset_version),
                architecture=info.architecture,
                ultralytics_version=info.ultralytics_version,
                onnx_error=onnx_error,
            )
            model.save()
            TrainingJob.objects.filter(pk=job.pk).update(
                status=status,
                finished_at=timezone.now(),
                progress=1.0 if status == JobStatus.SUCCEEDED else locked.progress,
                message=message[:500],
                epochs_done=epochs_done,
                training_time_s=training_time,
                device=device[:32],
                eta_s=None,
                error="",
            )
        return model
    except _JobEndedElsewhere:
        delete_quietly(*stored)
        log("This attempt was taken off the job; nothing registered")
        return None
    except BaseException:
        delete_quietly(*stored)
        raise


def _start_description(job: TrainingJob) -> str:
    if job.start_from == TrainingJob.StartFrom.MODEL and job.start_model_id:
        return f"fine-tuned from model #{job.start_model_id} “{job.start_model.name}”"[:300]
    if job.start_from == TrainingJob.StartFrom.UPLOAD:
        return f"fine-tuned from the uploaded checkpoint “{job.start_checkpoint_name}”"[:300]
    if job.start_from == TrainingJob.StartFrom.OFFICIAL:
        return f"fine-tuned from official weights {job.start_weights_name}"[:300]
    preset = PRESETS.get(job.preset)
    return f"from scratch ({preset.model_yaml if preset else job.preset})"[:300]


def _card_model_fields(model: TrainedModel) -> dict[str, Any]:
    preset = PRESETS.get(model.preset)
    return {
        "name": model.name,
        "preset": model.preset,
        "preset_label": preset.label if preset else model.preset,
        "preset_description": preset.description if preset else "",
        "seed_paper_model": bool(preset and preset.paper),
        "class_names": model.class_names,
        "imgsz": model.imgsz,
        "parameters": model.parameters,
        "gflops": model.gflops,
        "partial": model.partial,
        "stopped": model.stopped,
        "metrics": model.metrics,
        "files": {
            "pt": {"sha256": model.weights_sha256, "bytes": model.weights_size},
            "onnx": {"sha256": model.onnx_sha256, "bytes": model.onnx_size}
            if model.onnx_sha256
            else None,
        },
        "start_weights": model.start_weights,
        "device": model.device,
        "training_time_s": model.training_time_s,
        "epochs_trained": model.epochs_trained,
    }


def _card_job_fields(job: TrainingJob, *, epochs_done: int, status: str) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": status,
        "epochs_planned": job.epochs_total,
        "epochs_done": epochs_done,
        "hyperparameters": job.hyperparameters,
        "attempts": job.attempts,
        "created_by": job.created_by.username if job.created_by_id else None,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": timezone.now().isoformat(),
        "worker": job.worker,
    }


def _card_dataset_fields(version: DatasetVersion) -> dict[str, Any]:
    return {
        "id": version.pk,
        "name": version.name,
        "content_hash": version.content_hash,
        "classes": version.classes,
        "frame_counts": version.frame_counts,
        "box_count": version.box_count,
        "project": version.project.name,
    }
