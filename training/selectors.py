"""Reads shared by the training pages, the API, the ``train`` command and evaluation.

Every lookup by id goes through the user's projects: a job or model of a project the user is
not a member of is a 404, exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from labeling.models import Project
from labeling.selectors import RowForUser
from webapp.models import JobStatus

from .convergence import convergence, convergence_text
from .models import EpochMetric, TrainedModel, TrainingJob

training_job_for_user = RowForUser(
    TrainingJob.objects.select_related(
        "project", "dataset_version", "start_model", "created_by", "model"
    ),
    id_name="job_id",
    what="training job",
)

# The registered model.
trained_model_for_user = RowForUser(
    TrainedModel.objects.select_related("project", "dataset_version", "job"),
    id_name="model_id",
    what="model",
)


def training_jobs_of_project(*, project: Project) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(project=project).select_related(
        "dataset_version", "created_by", "model"
    )


def trained_models_of_project(*, project: Project) -> QuerySet[TrainedModel]:
    return TrainedModel.objects.filter(project=project).select_related("dataset_version", "job")


def training_queue_positions(jobs: Iterable[TrainingJob]) -> dict[int, int]:
    """``{job id: queued jobs ahead of it}`` for the queued jobs among ``jobs``.

    Counts queued training jobs of every project (they share the GPU workers) that were
    queued before; one query whatever the number of jobs.
    """
    wanted = {job.pk for job in jobs if job.status == JobStatus.QUEUED}
    if not wanted:
        return {}
    order = TrainingJob.objects.filter(status=JobStatus.QUEUED).order_by("queued_at", "pk")
    positions: dict[int, int] = {}
    for ahead, job_id in enumerate(order.values_list("pk", flat=True)):
        if job_id in wanted:
            positions[job_id] = ahead
    return positions


def epoch_series(*, job_id: int) -> list[dict]:
    """The training job's per-epoch loss and validation figures for the curves, oldest first."""
    return list(
        EpochMetric.objects.filter(job_id=job_id)
        .order_by("epoch")
        .values(*EpochMetric.SERIES_FIELDS)
    )


def training_job_convergence_text(*, job: TrainingJob) -> str:
    """The job page's sentence on convergence and early stopping (see training.convergence)."""
    found = convergence(epoch_series(job_id=job.pk))
    return convergence_text(found, patience=int(job.hyperparameters.get("patience", 0) or 0))
