"""REST endpoints for a project's dataset: export (zip), import (zip upload, then a job:
:mod:`labeling.datasets.job_apis`), counts.

Non-members get 404; viewers may export and read counts, importing needs the annotator role
(and adding the dataset's missing classes the owner role).
"""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import validated

from ..models import Role
from ..selectors import has_role, project_for_user
from ..uploads import ProjectUploadMixin, upload_temp_path
from .exchange import AUTO, EXPORT_FORMAT_NAMES, EXPORT_SPLITS, FORMAT_NAMES
from .exporting import dataset_export_download
from .job_apis import ImportJobOutput
from .job_services import dataset_import_job_start
from .selectors import dataset_stats


class _NoFormatOverride:
    URL_FORMAT_OVERRIDE = None


class DatasetFormatNegotiation(DefaultContentNegotiation):
    """``?format=yolo`` names the dataset format here, not a DRF renderer."""

    settings = _NoFormatOverride()


# --- export ---------------------------------------------------------------------------
class DatasetExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=EXPORT_FORMAT_NAMES)
    split = serializers.ChoiceField(choices=[*EXPORT_SPLITS, "", "all"], required=False, default="")
    include_unlabeled = serializers.BooleanField(required=False, default=False)


class DatasetExportApi(APIView):
    content_negotiation_class = DatasetFormatNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=list(EXPORT_FORMAT_NAMES),
                required=True,
                description="Dataset format.",
            ),
            OpenApiParameter(
                "split",
                str,
                enum=[*EXPORT_SPLITS, "all"],
                required=False,
                description="Only this split (default: all frames).",
            ),
            OpenApiParameter(
                "include_unlabeled",
                bool,
                required=False,
                description="Also write unlabeled frames (as empty images).",
            ),
        ],
        request=None,
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        description="The project's labeled and reviewed frames (negatives as images "
        "without boxes) as a zip in the chosen format.",
    )
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        data = validated(DatasetExportQuery, request.query_params)
        split = data["split"]
        handle, filename = dataset_export_download(
            project=project,
            fmt=data["format"],
            split=None if split in ("", "all") else split,
            include_unlabeled=data["include_unlabeled"],
        )
        return FileResponse(
            handle, as_attachment=True, filename=filename, content_type="application/zip"
        )


# --- import ---------------------------------------------------------------------------
class DatasetImportInput(serializers.Serializer):
    file = serializers.FileField(
        help_text="A zip of a YOLO (Ultralytics or darknet), COCO (also Roboflow, MMDetection), "
        "Pascal VOC or CVAT (images, project or video) dataset."
    )
    format = serializers.ChoiceField(choices=[*FORMAT_NAMES, AUTO])
    create_missing_classes = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Add the dataset's classes the project lacks (owner only); otherwise an "
        "unknown class is an error.",
    )


class DatasetImportApi(ProjectUploadMixin, APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": DatasetImportInput},
        responses={202: ImportJobOutput},
        description="Receives and checks the zip (size, archive limits), then queues an "
        "import job; follow it at the job's url. The job is all or nothing: any problem "
        "ends it FAILED listing the first problems, and nothing is imported.",
    )
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        uploads = []
        try:
            uploads = request.FILES.getlist("file")
            payload = DatasetImportInput(
                data={
                    "file": uploads[0] if uploads else None,
                    **{
                        k: request.data[k]
                        for k in ("format", "create_missing_classes")
                        if k in request.data
                    },
                }
            )
            payload.is_valid(raise_exception=True)
            create_classes = payload.validated_data["create_missing_classes"]
            if create_classes and not has_role(user=request.user, project=project, role=Role.OWNER):
                raise PermissionDenied("Adding classes needs the owner role in the project.")
            upload = payload.validated_data["file"]
            upload_temp_path(upload)  # a 400 on file if it was not streamed to disk
            job = dataset_import_job_start(
                project=project,
                user=request.user,
                fmt=payload.validated_data["format"],
                upload=upload,
                create_missing_classes=create_classes,
                source_name=upload.name or "",
            )
        finally:
            self.release_uploads(uploads)
        return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


# --- counts ---------------------------------------------------------------------------
class SplitCountsOutput(serializers.Serializer):
    train = serializers.IntegerField()
    val = serializers.IntegerField()
    test = serializers.IntegerField()
    unassigned = serializers.IntegerField()


class ClassStatsOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    index = serializers.IntegerField()
    color = serializers.CharField()
    boxes = SplitCountsOutput(help_text="Boxes per split.")
    total = serializers.IntegerField(help_text="Boxes in all splits.")
    frames = serializers.IntegerField(help_text="Annotated frames with a box of this class.")


class SourceStatsOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    frames = serializers.IntegerField(help_text="All frames, unlabeled ones included.")
    annotated = serializers.IntegerField()
    negatives = serializers.IntegerField()
    boxes = serializers.IntegerField()
    splits = SplitCountsOutput(help_text="Annotated frames per split.")


class DatasetStatsOutput(serializers.Serializer):
    frames = serializers.IntegerField()
    annotated = serializers.IntegerField(help_text="Labeled and reviewed frames.")
    unlabeled = serializers.IntegerField()
    negatives = serializers.IntegerField()
    boxes = serializers.IntegerField()
    splits = SplitCountsOutput(help_text="Annotated frames per split.")
    classes = ClassStatsOutput(many=True)
    sources = SourceStatsOutput(many=True)


class DatasetStatsApi(APIView):
    @extend_schema(request=None, responses=DatasetStatsOutput)
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        return Response(DatasetStatsOutput(dataset_stats(project=project)).data)
