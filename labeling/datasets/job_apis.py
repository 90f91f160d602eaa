"""REST endpoints of dataset import and export jobs: progress, cancel, retry (an import
whose worker died), the export's download.

Non-members get 404; viewers may read jobs and download exports and start exports,
cancelling or retrying an import needs the annotator role.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import validated
from webapp.jobs.apis import JobOutputBase, job_apis

from ..models import DatasetExportJob, DatasetImportJob, Role
from ..selectors import RowForUser, project_for_user
from . import job_services
from .exchange import EXPORT_FORMAT_NAMES, EXPORT_SPLITS

RECENT_JOBS = 10


import_job_for_user = RowForUser(
    DatasetImportJob.objects.select_related("project"), id_name="job_id", what="import job"
)
export_job_for_user = RowForUser(
    DatasetExportJob.objects.select_related("project"), id_name="job_id", what="export job"
)


class _JobFields(JobOutputBase):
    url = serializers.SerializerMethodField()
    cancel_url = serializers.SerializerMethodField()

    job_fields = [
        "id",
        "project",
        "fmt",
        "status",
        "is_finished",
        "progress",
        "message",
        "error",
        "result",
        "created_at",
        "started_at",
        "finished_at",
        "url",
        "cancel_url",
    ]


class ImportJobOutput(_JobFields):
    retry_url = serializers.SerializerMethodField(
        help_text="Set when its worker died and it can be queued again (POST)."
    )

    class Meta:
        model = DatasetImportJob
        fields = [*_JobFields.job_fields, "source_name", "upload_bytes", "retry_url"]

    def get_retry_url(self, job) -> str | None:
        if not job_services.dataset_import_job_retryable(job=job):
            return None
        return reverse("api-dataset-import-job-retry", args=[job.pk])

    def get_url(self, job) -> str:
        return reverse("api-dataset-import-job", args=[job.pk])

    def get_cancel_url(self, job) -> str:
        return reverse("api-dataset-import-job-cancel", args=[job.pk])


class ExportJobOutput(_JobFields):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetExportJob
        fields = [
            *_JobFields.job_fields,
            "split",
            "include_unlabeled",
            "file_bytes",
            "download_name",
            "download_url",
        ]

    def get_url(self, job) -> str:
        return reverse("api-dataset-export-job", args=[job.pk])

    def get_cancel_url(self, job) -> str:
        return reverse("api-dataset-export-job-cancel", args=[job.pk])

    def get_download_url(self, job) -> str | None:
        if job.status != "succeeded" or not job.file:
            return None
        return reverse("api-dataset-export-job-download", args=[job.pk])


class DatasetJobsOutput(serializers.Serializer):
    imports = ImportJobOutput(many=True)
    exports = ExportJobOutput(many=True)


class DatasetJobListApi(APIView):
    @extend_schema(request=None, responses=DatasetJobsOutput)
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        imports = project.import_jobs.order_by("-created_at", "-id")[:RECENT_JOBS]
        exports = project.export_jobs.order_by("-created_at", "-id")[:RECENT_JOBS]
        return Response(
            {
                "imports": ImportJobOutput(imports, many=True).data,
                "exports": ExportJobOutput(exports, many=True).data,
            }
        )


ImportJobDetailApi, ImportJobCancelApi, ImportJobRetryApi = job_apis(
    "ImportJob",
    output=ImportJobOutput,
    job_for=import_job_for_user,
    cancel=job_services.dataset_import_job_cancel,
    retry=job_services.dataset_import_job_retry,
)


class ExportJobInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=EXPORT_FORMAT_NAMES)
    # Checked by the service (a ChoiceField here would collide with Frame.split's enum name).
    split = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=8,
        help_text=f"One of {', '.join(EXPORT_SPLITS)}; empty or 'all' for every frame.",
    )
    include_unlabeled = serializers.BooleanField(required=False, default=False)


class ExportJobStartApi(APIView):
    @extend_schema(request=ExportJobInput, responses={202: ExportJobOutput})
    def post(self, request, project_id: int):
        # Annotators and up: a project keeps only its newest exports, so a viewer's export
        # would push out someone's finished zip (docs/ROLES.md).
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        data = validated(ExportJobInput, request.data)
        job = job_services.dataset_export_job_start(
            project=project,
            user=request.user,
            fmt=data["format"],
            split=data["split"],
            include_unlabeled=data["include_unlabeled"],
        )
        return Response(ExportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


ExportJobDetailApi, ExportJobCancelApi = job_apis(
    "ExportJob",
    output=ExportJobOutput,
    job_for=export_job_for_user,
    cancel=job_services.dataset_export_job_cancel,
)


def export_job_file_response(job: DatasetExportJob) -> FileResponse:
    """The finished export as an attachment (404 while it is not ready, or pruned)."""
    if job.status != "succeeded" or not job.file:
        raise Http404("This export has no file (not finished, failed, or too old).")
    try:
        handle = job.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("The export's file is missing.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=job.download_name or f"export-{job.pk}.zip",
        content_type="application/zip",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ExportJobDownloadApi(APIView):
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(request=None, responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, job_id: int):
        return export_job_file_response(export_job_for_user(user=request.user, job_id=job_id))
