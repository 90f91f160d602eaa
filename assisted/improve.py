""" "Improve this model": retrain starting from a registered model, on a new dataset version
made from the project's current labels (which now include the hard frames and accepted
proposals; pending proposals are never in it), as a normal training job."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import reverse

from training.models import TrainedModel, TrainingJob
from training.services import training_job_create

MAX_EPOCHS = 10_000


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
