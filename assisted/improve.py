""" "Improve this model": retrain starting from a registered model, on a new dataset version
made from the project's current labels (which now include the hard frames and accepted
proposals; pending proposals are never in it), as a normal training job."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse

from labeling.models import Box, Frame
from training.models import TrainedModel, TrainingJob
from training.presets import PRESETS, Hyperparameters
from training.services import training_job_create

MAX_EPOCHS = 10_000


@dataclass(frozen=True)
class ImprovePlan:
    """What "Improve this model" would do, shown before it starts: the settings it takes
    from the model (``epochs``, ``imgsz``) and the data, i.e. the labeled frames a new
    dataset version would hold now next to the version the model was trained on."""

    epochs: int
    imgsz: int
    labeled_frames: int
    boxes: int
    splits: dict[str, int]  # labeled frames by split: train, val, test, unassigned
    trained_on: str  # the model's dataset version name ("" when unknown)
    trained_on_frames: int | None
    trained_on_boxes: int | None

    @property
    def new_frames(self) -> int | None:
        if self.trained_on_frames is None:
            return None
        return self.labeled_frames - self.trained_on_frames


def improve_plan(*, model: TrainedModel) -> ImprovePlan:
    hp = model.hyperparameters or {}
    base = PRESETS[model.preset].hyperparameters if model.preset in PRESETS else Hyperparameters()
    labeled = model.project.frames.exclude(status=Frame.Status.UNLABELED)
    splits = dict(labeled.values_list("split").annotate(n=Count("id")).order_by())
    version = model.dataset_version
    return ImprovePlan(
        epochs=int(hp.get("epochs") or base.epochs),
        imgsz=int(hp.get("imgsz") or model.imgsz or base.imgsz),
        labeled_frames=sum(splits.values()),
        boxes=Box.objects.filter(frame__in=labeled).count(),
        splits={
            "train": splits.get("train", 0),
            "val": splits.get("val", 0),
            "test": splits.get("test", 0),
            "unassigned": splits.get("", 0),
        },
        trained_on=version.name if version else "",
        trained_on_frames=sum((version.frame_counts or {}).values()) if version else None,
        trained_on_boxes=version.box_count if version else None,
    )


def model_improve(
    *, model: TrainedModel, user, epochs: int | None = None, overrides: dict | None = None
) -> TrainingJob:
    """Queue the job on the ``gpu`` queue with the model's own hyperparameters (``epochs``
    and ``overrides`` replace some); raises ``ValidationError`` naming the field or
    ``BrokerUnavailable`` (nothing kept either way, as ``training_job_create`` guarantees)."""
    hyperparameters = {**(model.hyperparameters or {}), **(overrides or {})}
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS:
            raise ValidationError({"epochs": f"Must be a whole number from 1 to {MAX_EPOCHS}."})
        hyperparameters["epochs"] = epochs
    return training_job_create(
        project=model.project,
        created_by=user,
        start_from=TrainingJob.StartFrom.MODEL,
        start_model=model,
        hyperparameters=hyperparameters,
        name=f"{model.name} · improved"[:120],
    )


def comparison_url(*, model: TrainedModel) -> str | None:
    """The comparison page with ``model`` and the model its training started from."""
    job = model.job
    if job is None or not job.start_model_id:
        return None
    return (
        reverse("evaluation-compare", args=[model.project_id])
        + f"?models={job.start_model_id},{model.pk}"
    )
