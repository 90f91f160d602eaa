"""REST endpoints for training jobs and the model registry (thin: services do the work).

Every id-bearing endpoint resolves its object through the user's projects
(:mod:`training.selectors`): a non-member gets 404, a viewer 403 on writes.
"""

from __future__ import annotations

import json
import re

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.models import Role
from labeling.selectors import project_for_user
from labeling.uploads import ProjectUploadMixin
from webapp.jobs.apis import JobCancelApi, JobDetailApi, JobRetryApi
from webapp.parsers import DepthLimitedJSONParser

from . import services
from .model_card import card_markdown
from .models import TrainedModel
from .presets import PRESETS
from .selectors import (
    trained_model_for_user,
    trained_models_of_project,
    training_job_for_user,
    training_jobs_of_project,
    training_queue_positions,
)
from .serializers import (
    PresetOutput,
    TrainedModelDetailOutput,
    TrainedModelOutput,
    TrainingJobCreateInput,
    TrainingJobDetailOutput,
    TrainingJobOutput,
)
from .services import MAX_CHECKPOINT_BYTES


class PresetListApi(APIView):
    @extend_schema(responses=PresetOutput(many=True))
    def get(self, request):
        presets = [
            {
                "key": p.key,
                "label": p.label,
                "model_yaml": p.model_yaml,
                "description": p.description,
                "paper": p.paper,
                "hyperparameters": p.hyperparameters.to_dict(),
            }
            for p in PRESETS.values()
        ]
        return Response(PresetOutput(presets, many=True).data)


class TrainingJobListApi(ProjectUploadMixin, APIView):
    parser_classes = [DepthLimitedJSONParser, MultiPartParser, FormParser]

    def upload_max_bytes(self) -> int:
        return MAX_CHECKPOINT_BYTES  # a starting checkpoint may be uploaded

    @extend_schema(responses=TrainingJobOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        jobs = list(training_jobs_of_project(project=project))
        context = {"queue_positions": training_queue_positions(jobs)}
        return Response(TrainingJobOutput(jobs, many=True, context=context).data)

    @extend_schema(
        request={
            "application/json": TrainingJobCreateInput,
            "multipart/form-data": TrainingJobCreateInput,
        },
        responses={201: TrainingJobOutput},
    )
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        payload = TrainingJobCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = services.training_job_submit(
            project=project,
            created_by=request.user,
            data=data,
            hyperparameters=payload.hyperparameters(),
        )
        context = {"queue_positions": training_queue_positions([job])}
        return Response(
            TrainingJobOutput(job, context=context).data, status=status.HTTP_201_CREATED
        )


class _QueuePosition:
    def context(self, job) -> dict:
        return {"queue_positions": training_queue_positions([job])}


class TrainingJobDetailApi(_QueuePosition, JobDetailApi):
    output = TrainingJobDetailOutput
    job_for = training_job_for_user


class TrainingJobCancelApi(JobCancelApi):
    output = TrainingJobOutput
    job_for = training_job_for_user
    service = services.training_job_cancel
    status_code = status.HTTP_200_OK


class TrainingJobRetryApi(_QueuePosition, JobRetryApi):
    output = TrainingJobOutput
    job_for = training_job_for_user
    service = services.training_job_retry
    status_code = status.HTTP_200_OK


class TrainedModelListApi(APIView):
    @extend_schema(responses=TrainedModelOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        return Response(
            TrainedModelOutput(trained_models_of_project(project=project), many=True).data
        )


class TrainedModelDetailApi(APIView):
    @extend_schema(responses=TrainedModelDetailOutput)
    def get(self, request, model_id: int):
        model = trained_model_for_user(user=request.user, model_id=model_id)
        return Response(TrainedModelDetailOutput(model).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, model_id: int):
        """204; 400 naming what still refers to the model (runs, jobs) while it may not go."""
        model = trained_model_for_user(user=request.user, model_id=model_id, role=Role.ANNOTATOR)
        services.trained_model_delete(model=model)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _QueryFormatIgnored(DefaultContentNegotiation):
    """``?format=`` names the file to download here, not DRF's renderer: errors stay JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type


def _file_name(model: TrainedModel, suffix: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model.project.name}-model-{model.pk}").strip("-.")
    return f"{stem[:80] or 'model'}{suffix}"


def _attachment(response: HttpResponse, *, sha256: str = "") -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-transform"
    if sha256:
        response["ETag"] = f'"{sha256}"'
        response["X-Checksum-SHA256"] = sha256
    return response


def _not_modified(request, sha256: str) -> bool:
    tags = request.headers.get("If-None-Match", "")
    return bool(sha256) and f'"{sha256}"' in [t.strip() for t in tags.split(",")]


class TrainedModelDownloadApi(APIView):
    content_negotiation_class = _QueryFormatIgnored

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["pt", "onnx"], default="pt")],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            304: OpenApiResponse(description="If-None-Match matched the sha256"),
            404: OpenApiResponse(description="No such model, or no ONNX export"),
        },
    )
    def get(self, request, model_id: int):
        model = trained_model_for_user(user=request.user, model_id=model_id)
        fmt = request.query_params.get("format", "pt")
        if fmt not in ("pt", "onnx"):
            raise ValidationError({"format": "Choose pt or onnx."})
        # A model row exists only once its files are completely stored and hashed: it is
        # created in the transaction that finishes its job (training.registry).
        name, sha256 = (
            (model.weights.name, model.weights_sha256)
            if fmt == "pt"
            else (model.onnx.name, model.onnx_sha256)
        )
        if not name:
            reason = (model.card or {}).get("onnx_error", "").splitlines()[:1]
            raise NotFound("This model has no ONNX export" + (f": {reason[0]}" if reason else "."))
        if _not_modified(request, sha256):
            return _attachment(HttpResponseNotModified(), sha256=sha256)
        response = FileResponse(
            default_storage.open(name, "rb"),
            as_attachment=True,
            filename=_file_name(model, f".{fmt}"),
            content_type="application/octet-stream",
        )
        return _attachment(response, sha256=sha256)


class TrainedModelCardApi(APIView):
    content_negotiation_class = _QueryFormatIgnored

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "md"], default="json")],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/markdown"): OpenApiTypes.STR,
        },
    )
    def get(self, request, model_id: int):
        model = trained_model_for_user(user=request.user, model_id=model_id)
        fmt = request.query_params.get("format", "json")
        if fmt == "md":
            body = card_markdown(model.card, model_id=model.pk).encode("utf-8")
            content_type, suffix = "text/markdown; charset=utf-8", "-card.md"
        elif fmt == "json":
            body = json.dumps({"id": model.pk, **model.card}, indent=2, ensure_ascii=False).encode(
                "utf-8"
            )
            content_type, suffix = "application/json", "-card.json"
        else:
            raise ValidationError({"format": "Choose json or md."})
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{_file_name(model, suffix)}"'
        return _attachment(response)
