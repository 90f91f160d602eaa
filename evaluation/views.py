"""Evaluation pages: project overview, model dashboard, comparison and error browser.

Pages render the numbers; the charts are drawn by static/evaluation/*.js from the JSON API
(no inline script: the CSP forbids it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Case, Count, Q, Sum, Value, When
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from labeling.access import project_page, project_render
from labeling.models import DatasetVersion, Role
from labeling.selectors import projects_visible_to, role_of
from training.selectors import trained_model_for_user, trained_models_of_project
from webapp.bounds import bounded_int
from webapp.jobs import BrokerUnavailable
from webapp.models import JobStatus

from . import selectors, services
from .models import EvaluationRun

CARD_METRICS = (
    ("map50_voc11", "mAP@0.5 (VOC 11-pt)", "The paper's mAP: PASCAL VOC 11-point AP at IoU 0.5"),
    ("coco_ap50", "COCO AP50", "COCO 101-point AP at IoU 0.5"),
    ("coco_ap50_95", "COCO AP50:95", "COCO AP averaged over IoU 0.50 to 0.95"),
    ("precision", "Precision", "At the run's confidence threshold"),
    ("recall", "Recall", "At the run's confidence threshold"),
    ("f1", "F1", "Harmonic mean of precision and recall"),
    ("average_iou", "Average IoU", "Mean IoU of the true positives"),
)


def _latest_runs(*, user, models) -> dict[int, EvaluationRun]:
    """Each model's newest finished run, test split first, in one query."""
    visible = projects_visible_to(user)
    runs = (
        EvaluationRun.objects.filter(
            model__in=models,
            status=JobStatus.SUCCEEDED,
            project__in=visible,
            dataset_version__project__in=visible,
        )
        .select_related("dataset_version")
        .order_by("-finished_at", "-id")
    )
    latest: dict[int, EvaluationRun] = {}
    for run in runs:
        current = latest.get(run.model_id)
        if current is None or (current.split != "test" and run.split == "test"):
            latest[run.model_id] = run
    return latest


@project_page(Role.VIEWER)
def evaluation_home(request: HttpRequest, project):
    """The project's models with their latest evaluation, and recent runs."""
    models = list(trained_models_of_project(project=project).order_by("-created_at"))
    latest = _latest_runs(user=request.user, models=models)
    visible = projects_visible_to(request.user)
    recent = (
        EvaluationRun.objects.filter(project=project, dataset_version__project__in=visible)
        .select_related("model", "dataset_version")
        .order_by("-created_at")[:15]
    )
    by_preset = {m.preset: m for m in reversed(models)}  # newest of each preset wins
    paper_pair = (
        [by_preset["yolov3"].pk, by_preset["yolov3-tiny"].pk]
        if "yolov3" in by_preset and "yolov3-tiny" in by_preset
        else None
    )
    return project_render(
        request,
        "evaluation/home.html",
        project=project,
        nav="evaluate",
        rows=[(m, latest.get(m.pk)) for m in models],
        recent=recent,
        paper_pair=",".join(map(str, paper_pair)) if paper_pair else "",
    )


def _model_page_context(request: HttpRequest, model) -> dict[str, Any]:
    runs = list(selectors.evaluation_runs_of_model(user=request.user, model=model))
    run = None
    wanted = request.GET.get("run", "")
    if (run_id := bounded_int(wanted)) is not None:
        run = next((r for r in runs if r.pk == run_id), None)
    if run is None:
        run = next(
            (r for r in runs if r.status == JobStatus.SUCCEEDED and r.split == "test"), None
        ) or next((r for r in runs if r.status == JobStatus.SUCCEEDED), None)
    if run is None and runs:
        run = runs[0]
    metrics = run.metrics if run else {}
    cards = [
        {"key": key, "label": label, "help": help_, "value": metrics.get(key)}
        for key, label, help_ in CARD_METRICS
    ]
    visible = projects_visible_to(request.user)
    versions = (
        DatasetVersion.objects.filter(project__in=visible)
        .select_related("project")
        # The model's own project first, then the others by name.
        .annotate(other=Case(When(project_id=model.project_id, then=Value(0)), default=Value(1)))
        .order_by("other", "project__name", "-created_at")
    )
    return {
        "project": model.project,
        "nav": "evaluate",
        "model": model,
        "run": run,
        "runs": runs,
        "cards": cards,
        "per_class": metrics.get("per_class", []) if run else [],
        "versions": versions,
        "splits": services.SPLITS,
        "can_write": role_of(user=request.user, project=model.project)
        in (Role.ANNOTATOR, Role.OWNER),
    }


@login_required
def model_evaluation(request: HttpRequest, model_id: int):
    """A model's evaluation dashboard: metric cards, curves, timing, training history."""
    model = trained_model_for_user(user=request.user, model_id=model_id)
    return render(request, "evaluation/model.html", _model_page_context(request, model))


def _form_float(request: HttpRequest, name: str, default: float) -> float | str:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        return raw  # the service names the field in its error


@login_required
@require_POST
def evaluation_start(request: HttpRequest, model_id: int):
    """The "Evaluate" form of the model page."""
    model = trained_model_for_user(user=request.user, model_id=model_id, role=Role.ANNOTATOR)
    page = reverse("model-evaluation", args=[model.pk])
    version = None
    if request.POST.get("dataset_version"):
        version = selectors.dataset_version_for_user(
            user=request.user, dataset_version_id=request.POST["dataset_version"]
        )
        if version is None:
            messages.error(request, "No such dataset version.")
            return redirect(page)
    try:
        run = services.evaluation_run_start(
            model=model,
            user=request.user,
            dataset_version=version,
            split=request.POST.get("split", "test"),
            conf_threshold=_form_float(request, "conf_threshold", 0.25),
            iou_threshold=_form_float(request, "iou_threshold", 0.5),
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect(page)
    except BrokerUnavailable as exc:
        messages.error(request, str(exc))
        return redirect(page)
    messages.success(request, f"Evaluation #{run.pk} queued on the {run.split} split.")
    return redirect(f"{page}?run={run.pk}")


def _best_marks(rows: list[dict], columns: dict[str, str]) -> dict[str, set[int]]:
    """Per column, the indices of the best row ("max" or "min"); none for fewer than two
    values or when every row ties."""
    marks: dict[str, set[int]] = {}
    for key, sense in columns.items():
        values = [(i, r[key]) for i, r in enumerate(rows) if r.get(key) is not None]
        if len(values) < 2:
            marks[key] = set()
            continue
        best = (max if sense == "max" else min)(v for _, v in values)
        winners = {i for i, v in values if v == best}
        # A tie of every model (all 0.000, say) has no winner worth pointing at.
        marks[key] = winners if len(winners) < len(values) else set()
    return marks


BEST_COLUMNS = {
    "precision": "max",
    "recall": "max",
    "f1": "max",
    "map50_voc11": "max",
    "map50_voc_all": "max",
    "coco_ap50": "max",
    "coco_ap50_95": "max",
    "average_iou": "max",
    "train_time_s": "min",
    "test_time_s": "min",
    "per_image_ms_mean": "min",
}


@project_page(Role.VIEWER)
def evaluation_compare(request: HttpRequest, project):
    """Two or more models side by side, as the seed paper's Tables 2-4 and Fig. 5."""
    raw = ",".join(request.GET.getlist("models"))
    models = list(trained_models_of_project(project=project).order_by("-created_at"))
    context: dict[str, Any] = {
        "project": project,
        "nav": "evaluate",
        "models": models,
        "selected": set(),
        "rows": [],
    }
    if raw:
        try:
            ids = selectors.parse_model_ids(raw)
            result = selectors.comparison(user=request.user, project=project, model_ids=ids)
        except ValueError as exc:
            messages.error(request, f"models: {exc}")
        else:
            rows = [row.as_dict() for row in result.rows]
            marks = _best_marks(rows, BEST_COLUMNS)
            for i, row in enumerate(rows):
                row["best"] = {key: i in marks[key] for key in BEST_COLUMNS}
            context.update(
                rows=rows,
                warnings=result.warnings,
                selected=set(ids),
                ids=",".join(map(str, ids)),
            )
    return render(request, "evaluation/compare.html", context)


@login_required
def evaluation_errors(request: HttpRequest, run_id: int):
    """Frames with false positives, misses and poor boxes first, each a click from the editor."""
    run = selectors.evaluation_run_for_user(user=request.user, run_id=run_id)
    counts = run.predictions.aggregate(
        frames=Count("id"),
        with_errors=Count("id", filter=Q(error_count__gt=0)),
        low_iou=Count("id", filter=Q(error_count=0, min_iou__lt=selectors.LOW_IOU)),
        false_positives=Sum("false_positives"),
        misses=Sum("misses"),
    )
    return project_render(
        request,
        "evaluation/errors.html",
        project=run.project,
        nav="evaluate",
        run=run,
        model=run.model,
        counts=counts,
        low_iou=selectors.LOW_IOU,
        orders=list(selectors.PREDICTION_ORDERS),
    )
