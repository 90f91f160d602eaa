"""Every write to training jobs from the outside: the buttons, the API and ``train``.

``training_job_create`` checks the request (preset, hyperparameters, dataset version,
starting weights), stores an uploaded checkpoint, creates the row and hands it to the ``gpu``
queue after the commit; ``training_job_cancel`` and ``training_job_retry`` are the buttons.

What the worker then does lives beside this module: :mod:`training.training_work` runs a
claimed job (``training_job_execute``, importable from here too), :mod:`training.registry`
turns its weights into a :class:`TrainedModel`, :mod:`training.joblog` keeps its log tail.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from labeling.datasets.versions import dataset_version_create, dataset_version_manifest
from labeling.models import DatasetVersion, Project
from webapp.job_refs import job_label, jobs_active_referring_to
from webapp.jobs import (
    BrokerUnavailable,
    job_cancel,
    job_dispatch,
    job_retry,
)
from webapp.models import JobStatus
from webapp.storage import delete_quietly, scratch_tempdir, store_file

from . import checkpoint_probe
from .joblog import log_line, training_job_log_append
from .models import TrainedModel, TrainingJob
from .presets import PRESETS, HyperparameterError, Hyperparameters, imgsz_problem, preset_get
from .tasks import training_job_run
from .training_work import training_job_execute as training_job_execute  # re-exported

# Short names for the seed paper's two models (the `train` command and the API accept them).
PRESET_ALIASES = {"tiny": "yolov3-tiny", "full": "yolov3"}
MAX_CHECKPOINT_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class IncomingCheckpoint:
    """An uploaded ``.pt`` file: a local temp file; ``name`` is display text only."""

    path: Path
    name: str
    size: int

    @classmethod
    def from_upload(cls, upload) -> IncomingCheckpoint | None:
        """The checkpoint a request carried (None if none; a form's cleared field is False).
        The page and the API both stream uploads to temp files
        (``labeling.uploads.LimitedUploadHandler``)."""
        if not upload:
            return None
        return cls(path=Path(upload.temporary_file_path()), name=upload.name, size=upload.size)


def preset_resolve(key: str) -> str:
    """The PRESETS key for ``key`` or an alias (``tiny``, ``full``); ValidationError if none."""
    key = PRESET_ALIASES.get(key, key)
    try:
        return preset_get(key).key
    except KeyError as exc:
        choices = ", ".join([*PRESETS, *PRESET_ALIASES])
        raise ValidationError(
            {"preset": f"Unknown preset “{key}”; choose one of {choices}."}
        ) from exc


def _preset_for_architecture(architecture: str) -> str:
    """The preset whose model YAML built a checkpoint, else the YAML's stem ("custom")."""
    for preset in PRESETS.values():
        if preset.model_yaml == architecture:
            return preset.key
    return (Path(architecture).stem or "custom")[:32]


def _hyperparameters(preset: str, values: dict[str, Any]) -> Hyperparameters:
    base = PRESETS[preset].hyperparameters if preset in PRESETS else Hyperparameters()
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return Hyperparameters.from_dict(given, base=base)
    except HyperparameterError as exc:
        raise ValidationError(exc.errors) from exc


def _probe_message(exc: Exception, *, path: Path, display: str) -> str:
    # The checker names the temp file it read: show the person's own file name instead.
    return str(exc).replace(str(path), display).replace(path.name, display)


def training_job_create(
    *,
    project: Project,
    created_by,
    preset: str = "",
    hyperparameters: dict[str, Any] | None = None,
    dataset_version: DatasetVersion | None = None,
    start_from: str = TrainingJob.StartFrom.SCRATCH,
    start_model: TrainedModel | None = None,
    checkpoint: IncomingCheckpoint | None = None,
    start_weights_name: str = "",
    name: str = "",
) -> TrainingJob:
    """Check the request, create the job and queue it on the ``gpu`` queue.

    ``dataset_version`` None: a version is made from the current labels. Starting from
    weights (a model trained here, an uploaded ``.pt`` or official weights installed on the
    workers), the architecture is the checkpoint's, and ``preset`` records it.
    Raises ``ValidationError`` naming the field (nothing stored) or ``BrokerUnavailable``
    (nothing kept either: the job, an uploaded file or a version made for it are removed).
    """
    name = (name or "").strip()
    if len(name) > 120:
        raise ValidationError({"name": "A name has at most 120 characters."})
    if start_from not in TrainingJob.StartFrom.values:
        raise ValidationError({"start_from": f"Choose one of {', '.join(TrainingJob.StartFrom)}."})
    if dataset_version is not None and dataset_version.project_id != project.pk:
        raise ValidationError({"dataset_version": "That dataset version is not in this project."})

    start_label = ""
    stored_checkpoint = ""
    checkpoint_name = ""
    weights_name = ""
    if start_from == TrainingJob.StartFrom.SCRATCH:
        if not preset:
            raise ValidationError({"preset": "Choose a model preset."})
        preset = preset_resolve(preset)
        start_model = None
        start_label = f"from scratch ({PRESETS[preset].model_yaml})"
    elif start_from == TrainingJob.StartFrom.MODEL:
        if start_model is None or start_model.project_id != project.pk:
            raise ValidationError({"start_model": "Choose a model trained in this project."})
        preset = start_model.preset
        start_label = f"model #{start_model.pk} “{start_model.name}”"
    elif start_from == TrainingJob.StartFrom.OFFICIAL:
        weights_name = (start_weights_name or "").strip()
        if not weights_name:
            raise ValidationError({"start_weights_name": "Name the weights file, e.g. yolo11n.pt."})
        try:
            summary = checkpoint_probe.probe_official_weights(
                weights_name, var_dir=Path(settings.VAR_DIR)
            )
        except (checkpoint_probe.WeightsUnavailable, checkpoint_probe.CheckpointRejected) as exc:
            raise ValidationError({"start_weights_name": str(exc)}) from exc
        preset = _preset_for_architecture(summary.architecture)
        start_model = None
        start_label = f"official weights {weights_name}"
    else:  # UPLOAD
        start_model = None
        if checkpoint is None:
            raise ValidationError({"checkpoint": "Upload a .pt checkpoint."})
        checkpoint_name = _display_name(checkpoint.name)
        summary = _checked_upload(checkpoint, display=checkpoint_name)
        preset = _preset_for_architecture(summary.architecture)
        start_label = f"uploaded {checkpoint_name}"

    hp = _hyperparameters(preset, hyperparameters or {})
    preset_label = PRESETS[preset].label if preset in PRESETS else preset

    made_version = None
    try:
        if checkpoint is not None and start_from == TrainingJob.StartFrom.UPLOAD:
            stored_checkpoint = store_file(
                local_path=checkpoint.path,
                name=f"training/{project.pk}/uploads/{uuid.uuid4().hex}.pt",
            )
        with transaction.atomic():
            if dataset_version is None:
                made_version = dataset_version = dataset_version_create(
                    project=project, name="", created_by=created_by
                )
            _refuse_unlearnable_imgsz(preset=preset, imgsz=hp.imgsz, version=dataset_version)
            _refuse_pose_without_keypoints(preset=preset, version=dataset_version)
            job = TrainingJob.objects.create(
                project=project,
                dataset_version=dataset_version,
                preset=preset,
                start_from=start_from,
                start_model=start_model,
                start_checkpoint=stored_checkpoint,
                start_checkpoint_name=checkpoint_name,
                start_weights_name=weights_name,
                name=name,
                hyperparameters=hp.to_dict(),
                epochs_total=hp.epochs,
                created_by=created_by,
                queued_at=timezone.now(),
                message="Waiting for a GPU worker",
                log_tail=log_line(
                    f"Queued: {preset_label}, {start_label}, dataset “{dataset_version.name}”"
                ),
            )
    except BaseException:
        # The transaction rolled back: the files written for it must go too.
        delete_quietly(stored_checkpoint, made_version.manifest.name if made_version else "")
        raise
    try:
        _dispatch(job)
    except BrokerUnavailable:
        delete_quietly(stored_checkpoint)
        if made_version is not None:
            # Row first: if another job picked this version meanwhile, it stays, manifest
            # and all. (Splits it gave to unsplit frames stay too: they are stable anyway.)
            manifest = made_version.manifest.name
            try:
                made_version.delete()
            except ProtectedError:
                pass
            else:
                delete_quietly(manifest)
        raise
    return job


def training_job_submit(
    *, project: Project, created_by, data: Mapping[str, Any], hyperparameters: dict[str, Any]
) -> TrainingJob:
    """:func:`training_job_create` from what the page's form or the API checked: the ids of
    the project's dataset version and start model (an id not in the project is a
    ValidationError naming it) and the rest as given."""
    version = _row_of(
        project.dataset_versions,
        data.get("dataset_version"),
        dataset_version="No such dataset version here.",
    )
    start_model = _row_of(
        project.trained_models,
        data.get("start_model"),
        start_model="No such model in this project.",
    )
    return training_job_create(
        project=project,
        created_by=created_by,
        preset=data["preset"],
        hyperparameters=hyperparameters,
        dataset_version=version,
        start_from=data["start_from"],
        start_model=start_model,
        checkpoint=IncomingCheckpoint.from_upload(data.get("checkpoint")),
        start_weights_name=data["start_weights_name"],
        name=data["name"],
    )


def _row_of(rows, pk: Any, **missing: str):
    # The row ``pk`` of ``rows`` (None for none given); else a ValidationError, ``missing``
    # naming the field and saying why.
    if pk is None or pk == "":
        return None
    row = rows.filter(pk=pk).first()
    if row is None:
        raise ValidationError(missing)
    return row


def _refuse_pose_without_keypoints(*, preset: str, version: DatasetVersion) -> None:
    """A pose preset needs a version with a skeleton and keypoints on its train frames."""
    if preset not in PRESETS or PRESETS[preset].task != "pose":
        return
    manifest = dataset_version_manifest(version=version)
    if "skeleton" not in manifest:
        raise ValidationError(
            {
                "preset": f"{PRESETS[preset].label} learns keypoints: give the project a "
                "skeleton (its settings) and label keypoints first."
            }
        )
    labeled = any(
        box.get("keypoints")
        for frame in manifest["frames"]
        if frame["split"] == "train"
        for box in frame["boxes"]
    )
    if not labeled:
        raise ValidationError(
            {"preset": "No train frame of this dataset version has keypoints labeled."}
        )


def _refuse_unlearnable_imgsz(*, preset: str, imgsz: int, version: DatasetVersion) -> None:
    """A 400 naming imgsz when the preset cannot learn the version's boxes at that size
    (see ``training.presets.imgsz_problem`` for why)."""
    if preset not in PRESETS:
        return
    manifest = dataset_version_manifest(version=version)
    boxes = [
        (box["w"], box["h"], frame["width"], frame["height"])
        for frame in manifest["frames"]
        if frame["split"] == "train"
        for box in frame["boxes"]
    ]
    problem = imgsz_problem(preset=PRESETS[preset], imgsz=imgsz, boxes=boxes)
    if problem:
        raise ValidationError({"imgsz": problem})


def _display_name(name: str) -> str:
    return (Path(str(name or "")).name or "checkpoint.pt")[:255]


def _checked_upload(checkpoint: IncomingCheckpoint, *, display: str):
    """Refuse anything but a loadable detection checkpoint, checked in a limited child."""
    if not display.lower().endswith(".pt"):
        raise ValidationError({"checkpoint": f"“{display}” is not a .pt file."})
    if checkpoint.size <= 0:
        raise ValidationError({"checkpoint": f"“{display}” is empty."})
    if checkpoint.size > MAX_CHECKPOINT_BYTES:
        raise ValidationError({"checkpoint": f"“{display}” is larger than 2 GB."})
    # The checker sees a server-chosen name: the person's file name is display text only.
    with scratch_tempdir() as tmp:
        path = Path(tmp) / "upload.pt"
        try:
            path.hardlink_to(checkpoint.path)
        except OSError:
            shutil.copyfile(checkpoint.path, path)
        try:
            return checkpoint_probe.probe_checkpoint(path, var_dir=Path(settings.VAR_DIR))
        except checkpoint_probe.CheckpointRejected as exc:
            raise ValidationError(
                {"checkpoint": _probe_message(exc, path=path, display=display)}
            ) from exc


def _dispatch(job: TrainingJob) -> None:
    job_dispatch(job=job, task=training_job_run)


def training_job_cancel(*, job: TrainingJob) -> TrainingJob:
    """Stop a job: a queued one at once, a running one within one epoch (best weights kept)."""
    job_cancel(job=job, refuse_ended=True)
    if job.status == JobStatus.CANCELLED:
        training_job_log_append(job_id=job.pk, text="Cancelled before it started")
    return job


def training_job_retry(*, job: TrainingJob) -> TrainingJob:
    """Queue a failed, timed-out or cancelled job again; it resumes from its checkpoint."""
    resume = f" (resumes after epoch {job.epochs_done})" if job.checkpoint else ""
    requeued = job_retry(
        job=job,
        task=training_job_run,
        message=f"Queued again{resume}",
        extra_fields={"queued_at": timezone.now()},
    )
    training_job_log_append(job_id=job.pk, text=f"Retry requested{resume}")
    return requeued


def trained_model_delete(*, model: TrainedModel) -> None:
    """Delete a registered model, its evaluations and its weight files.

    Refused (ValidationError on ``model``, naming them) while a job works with it (an
    evaluation, a pre-label, a tracking run...), or while rows that must keep pointing at it
    exist: tracking runs (their results and exports name it) and training jobs that started
    from it. Pre-labels keep the model's name. The files go once the transaction commits.
    """
    with transaction.atomic():
        locked = TrainedModel.objects.select_for_update().filter(pk=model.pk).first()
        if locked is None:
            return
        active = jobs_active_referring_to(locked)
        if active:
            listed = ", ".join(job_label(job) for job in active)
            raise ValidationError(
                {"model": f"Work with this model is not finished: {listed}; cancel it first."}
            )
        names = [locked.weights.name or "", locked.onnx.name or ""]
        for _ in range(3):
            try:
                with transaction.atomic():
                    locked.delete()
                break
            except ProtectedError as exc:
                blockers = list(exc.protected_objects)
            # A tracking batch whose runs were all deleted is an empty record: it goes.
            empty = [b for b in blockers if hasattr(b, "runs") and not b.runs.exists()]
            if len(empty) < len(blockers):
                raise ValidationError({"model": _blocked_by(blockers)})
            for batch in empty:
                batch.delete()
        else:
            raise ValidationError({"model": "The model could not be deleted; try again."})
        transaction.on_commit(lambda: delete_quietly(*names))


def _blocked_by(blockers: list) -> str:
    shown = [b for b in blockers if not hasattr(b, "runs")][:10]
    described = ", ".join(
        f"{b} ({b.get_status_display().lower()})" if hasattr(b, "get_status_display") else str(b)
        for b in shown
    )
    more = " …" if len(blockers) > len(shown) else ""
    return (
        f"Still referring to this model (their results, exports and history name it): "
        f"{described}{more}. Delete those first."
    )
