"""Reads of evaluation runs shared by the pages, the API and the command.

Every lookup goes through the user's projects: a model or run of a project the user is not a
member of is a 404, exactly like a missing one. A run on another project's dataset version
needs membership in both projects (its predictions show that project's frames).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q, QuerySet

from labeling.models import DatasetVersion, Project, Role
from labeling.selectors import object_for_user, projects_visible_to
from training.models import TrainedModel
from training.selectors import epoch_series, trained_models_of_project
from webapp.bounds import bounded_int
from webapp.models import JobStatus

from .models import EvaluationRun, FramePrediction

# A matched box below this IoU counts as a poor localisation in the error browser.
LOW_IOU = 0.7
# ?order= values of the predictions list; anything else is a 400 (no arbitrary ordering).
PREDICTION_ORDERS: dict[str, list[Any]] = {
    # Most false positives + misses first, then the worst localisation, then frame order.
    "worst": [F("error_count").desc(), F("min_iou").asc(nulls_last=True), "frame_id"],
    "frame": ["frame_id"],
    "slowest": [F("inference_ms").desc(), "frame_id"],
}


def _runs_visible_to(user) -> QuerySet[EvaluationRun]:
    visible = projects_visible_to(user)
    return EvaluationRun.objects.filter(
        project__in=visible, dataset_version__project__in=visible
    ).select_related("model", "dataset_version", "dataset_version__project", "project")


def evaluation_run_for_user(*, user, run_id: int | str, role: str = Role.VIEWER) -> EvaluationRun:
    return object_for_user(
        _runs_visible_to(user), user=user, pk=run_id, role=role, what="evaluation"
    )


def evaluation_runs_of_model(*, user, model: TrainedModel) -> QuerySet[EvaluationRun]:
    return _runs_visible_to(user).filter(model=model).order_by("-created_at", "-id")


def dataset_version_for_user(*, user, dataset_version_id: int | str) -> DatasetVersion | None:
    """A dataset version of any project the user is a member of, or None."""
    try:
        return (
            DatasetVersion.objects.select_related("project")
            .filter(project__in=projects_visible_to(user))
            .get(pk=int(dataset_version_id))
        )
    except (DatasetVersion.DoesNotExist, ValueError, TypeError):
        return None


def latest_succeeded_run(
    *, model: TrainedModel, user=None, split: str | None = None
) -> EvaluationRun | None:
    """The newest finished run of ``model`` (on ``split`` if given; test before others)."""
    runs = (
        _runs_visible_to(user).filter(model=model)
        if user is not None
        else EvaluationRun.objects.filter(model=model)
    )
    runs = runs.filter(status=JobStatus.SUCCEEDED)
    if split:
        return runs.filter(split=split).order_by("-finished_at", "-id").first()
    return (
        runs.filter(split="test").order_by("-finished_at", "-id").first()
        or runs.order_by("-finished_at", "-id").first()
    )


def predictions_of_run(
    *, run: EvaluationRun, order: str = "worst", errors_only: bool = False
) -> QuerySet[FramePrediction]:
    """The run's frame predictions; ``order`` must be a key of :data:`PREDICTION_ORDERS`."""
    qs = run.predictions.select_related("frame")
    if errors_only:
        qs = qs.filter(Q(error_count__gt=0) | Q(min_iou__lt=LOW_IOU))
    return qs.order_by(*PREDICTION_ORDERS[order])


def epoch_curve(*, model: TrainedModel) -> list[dict[str, Any]]:
    """The training job's per-epoch validation and loss figures (empty without a job)."""
    if model.job_id is None:
        return []
    return epoch_series(job_id=model.job_id)


# --- comparison ------------------------------------------------------------------------
@dataclass
class ComparisonRow:
    """One model in the comparison tables (the seed paper's Tables 2-4 and Fig. 5)."""

    model: TrainedModel
    run: EvaluationRun | None
    epochs: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        m, run = self.model, self.run
        metrics = run.metrics if run else {}
        timing = run.timing if run else {}
        return {
            "model": {
                "id": m.pk,
                "name": m.name,
                "preset": m.preset,
                "imgsz": m.imgsz,
                "parameters": m.parameters,
                "gflops": m.gflops,
                "weights_size": m.weights_size,
                "training_time_s": m.training_time_s,
                "dataset_version": m.dataset_version_id,
            },
            "evaluation": None
            if run is None
            else {
                "id": run.pk,
                "dataset_version": run.dataset_version_id,
                "dataset_version_name": run.dataset_version.name,
                "split": run.split,
                "frames": run.frame_count,
                "device": run.device,
                "device_name": timing.get("device_name", ""),
                "imgsz": run.imgsz,
                "conf_threshold": run.conf_threshold,
                "iou_threshold": run.iou_threshold,
                "parameters": run.parameters,
                "gflops": run.gflops,
                "model_size_bytes": run.model_size_bytes,
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            },
            # Table 2
            "precision": metrics.get("precision"),
            "recall": metrics.get("recall"),
            "f1": metrics.get("f1"),
            # Table 3
            "map50_voc11": metrics.get("map50_voc11"),
            "map50_voc_all": metrics.get("map50_voc_all"),
            "coco_ap50": metrics.get("coco_ap50"),
            "coco_ap50_95": metrics.get("coco_ap50_95"),
            "average_iou": metrics.get("average_iou"),
            # Table 4 and Fig. 5
            "train_time_s": m.training_time_s,
            "test_time_s": timing.get("total_s"),
            "per_image_ms_mean": timing.get("per_image_ms_mean"),
            "per_image_ms_std": timing.get("per_image_ms_std"),
            "pr_curve": metrics.get("pr_curve"),
            "epochs": self.epochs,
        }


@dataclass
class Comparison:
    project: Project
    rows: list[ComparisonRow]
    # Why the numbers may not be comparable (different dataset versions, splits, devices).
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project.pk,
            "models": [row.as_dict() for row in self.rows],
            "warnings": self.warnings,
        }


def comparison(*, user, project: Project, model_ids: list[int]) -> Comparison:
    """Each model's latest finished evaluation (test split preferred), in the given order.

    Raises ``ValueError`` naming the first id that is not a model of ``project``.
    """
    models = {m.pk: m for m in trained_models_of_project(project=project).filter(pk__in=model_ids)}
    for model_id in model_ids:
        if model_id not in models:
            raise ValueError(f"{model_id} is not a model of this project")
    rows = [
        ComparisonRow(
            model=models[i],
            run=latest_succeeded_run(model=models[i], user=user),
            epochs=epoch_curve(model=models[i]),
        )
        for i in model_ids
    ]
    warnings: list[str] = []
    runs = [r.run for r in rows if r.run is not None]
    missing = [r.model.name for r in rows if r.run is None]
    if missing:
        warnings.append(f"Not evaluated yet: {', '.join(missing)}.")
    if len({(r.dataset_version_id, r.split) for r in runs}) > 1:
        warnings.append(
            "The evaluations used different dataset versions or splits; their metrics are "
            "not directly comparable."
        )
    if len({r.device for r in runs}) > 1:
        warnings.append("The evaluations ran on different devices; compare times with care.")
    return Comparison(project=project, rows=rows, warnings=warnings)


def parse_model_ids(raw: str | None) -> list[int]:
    """``"1,2,3"`` -> [1, 2, 3] (order kept, duplicates dropped); ValueError if malformed."""
    ids: list[int] = []
    for part in (raw or "").split(","):
        part = part.strip()
        if not part:
            continue
        if (model_id := bounded_int(part)) is None:
            raise ValueError(f"{part[:30]!r} is not a model id")
        if model_id not in ids:
            ids.append(model_id)
    if not ids:
        raise ValueError("name at least one model id, e.g. ?models=1,2")
    if len(ids) > 12:
        raise ValueError("compare at most 12 models at once")
    return ids
