"""REST endpoints of evaluation runs, their predictions, downloads and model comparison.

Thin: selectors resolve what the user may see (non-members get 404), services do writes.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.models import Role
from labeling.selectors import project_for_user
from training.selectors import trained_model_for_user
from webapp.api import validated

from . import selectors, services
from .exports import comparison_csv, metrics_csv
from .serializers import (
    CompareInput,
    ComparisonOutput,
    EvaluationRunCreateInput,
    EvaluationRunDetailOutput,
    EvaluationRunOutput,
    FramePredictionOutput,
    FramePredictionPageOutput,
    PredictionListInput,
)


class _DownloadView(APIView):
    """Answers files whatever the Accept header; error bodies stay JSON."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


def _attachment(body: str, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def run_export_dict(run) -> dict:
    """Everything a metrics download holds: the run, the metrics and the timing."""
    return {
        "evaluation": run.pk,
        "model": run.model_id,
        "model_name": run.model.name,
        "dataset_version": run.dataset_version_id,
        "split": run.split,
        "frames": run.frame_count,
        "iou_threshold": run.iou_threshold,
        "conf_threshold": run.conf_threshold,
        "imgsz": run.imgsz,
        "device": run.device,
        "parameters": run.parameters,
        "gflops": run.gflops,
        "model_size_bytes": run.model_size_bytes,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


class ModelEvaluationListApi(APIView):
    @extend_schema(responses=EvaluationRunOutput(many=True))
    def get(self, request, model_id: int):
        model = trained_model_for_user(user=request.user, model_id=model_id)
        runs = selectors.evaluation_runs_of_model(user=request.user, model=model)
        return Response(EvaluationRunOutput(runs, many=True).data)

    @extend_schema(request=EvaluationRunCreateInput, responses={201: EvaluationRunOutput})
    def post(self, request, model_id: int):
        model = trained_model_for_user(user=request.user, model_id=model_id, role=Role.ANNOTATOR)
        data = dict(validated(EvaluationRunCreateInput, request.data))
        if "dataset_version" in data:
            version = selectors.dataset_version_for_user(
                user=request.user, dataset_version_id=data["dataset_version"]
            )
            if version is None:
                raise ValidationError({"dataset_version": "No such dataset version."})
            data["dataset_version"] = version
        run = services.evaluation_run_start(model=model, user=request.user, **data)
        return Response(EvaluationRunOutput(run).data, status=status.HTTP_201_CREATED)


class EvaluationRunDetailApi(APIView):
    @extend_schema(responses=EvaluationRunDetailOutput)
    def get(self, request, run_id: int):
        run = selectors.evaluation_run_for_user(user=request.user, run_id=run_id)
        epochs = selectors.epoch_curve(model=run.model)
        return Response(EvaluationRunDetailOutput(run, context={"epochs": epochs}).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, run_id: int):
        run = selectors.evaluation_run_for_user(
            user=request.user, run_id=run_id, role=Role.ANNOTATOR
        )
        services.evaluation_run_delete(run=run)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EvaluationPredictionListApi(APIView):
    @extend_schema(
        parameters=[PredictionListInput],
        responses=FramePredictionPageOutput,
        description="Frames of the run with their predictions and ground truth; "
        "order=worst lists false positives and misses first, then low IoU.",
    )
    def get(self, request, run_id: int):
        run = selectors.evaluation_run_for_user(user=request.user, run_id=run_id)
        params_data = validated(PredictionListInput, request.query_params)
        q = params_data
        predictions = selectors.predictions_of_run(
            run=run, order=q["order"], errors_only=q["errors"]
        )
        count = predictions.count()
        page = predictions[q["offset"] : q["offset"] + q["limit"]]
        end = q["offset"] + q["limit"]
        return Response(
            {
                "count": count,
                "next_offset": end if end < count else None,
                "results": FramePredictionOutput(page, many=True).data,
            }
        )


class EvaluationMetricsCsvApi(_DownloadView):
    @extend_schema(
        operation_id="evaluations_metrics_csv", responses={(200, "text/csv"): OpenApiTypes.STR}
    )
    def get(self, request, run_id: int):
        run = selectors.evaluation_run_for_user(user=request.user, run_id=run_id)
        body = metrics_csv(run_export_dict(run), run.metrics or {}, run.timing or {})
        return _attachment(
            body,
            content_type="text/csv; charset=utf-8",
            filename=f"evaluation-{run.pk}-metrics.csv",
        )


class EvaluationMetricsJsonApi(_DownloadView):
    @extend_schema(
        operation_id="evaluations_metrics_json",
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
    )
    def get(self, request, run_id: int):
        run = selectors.evaluation_run_for_user(user=request.user, run_id=run_id)
        body = {**run_export_dict(run), "metrics": run.metrics, "timing": run.timing}
        return _attachment(
            json.dumps(body, indent=2),
            content_type="application/json",
            filename=f"evaluation-{run.pk}-metrics.json",
        )


def _comparison(request, project_id: int):
    project = project_for_user(user=request.user, project_id=project_id)
    data = validated(CompareInput, request.query_params)
    try:
        ids = selectors.parse_model_ids(data["models"])
        return selectors.comparison(user=request.user, project=project, model_ids=ids)
    except ValueError as exc:
        raise ValidationError({"models": str(exc)}) from None


class ProjectCompareApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "models", str, required=True, description="Comma-separated model ids, e.g. 1,2"
            )
        ],
        responses=ComparisonOutput,
        description="Each model's latest finished evaluation (test split first), laid out "
        "like the seed paper's Tables 2-4: P/R/F1, mAP and average IoU, train and test time.",
    )
    def get(self, request, project_id: int):
        return Response(_comparison(request, project_id).as_dict())


class ProjectCompareCsvApi(_DownloadView):
    @extend_schema(
        operation_id="projects_compare_csv",
        parameters=[OpenApiParameter("models", str, required=True)],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request, project_id: int):
        result = _comparison(request, project_id)
        return _attachment(
            comparison_csv(result.as_dict()["models"]),
            content_type="text/csv; charset=utf-8",
            filename=f"project-{project_id}-comparison.csv",
        )
