"""REST endpoints for dataset versions (thin: labeling.datasets.versions does the work)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import validated

from ..models import DatasetVersion, Role
from ..selectors import project_for_user
from .splits import split_size_warnings
from .versions import dataset_version_create, dataset_version_for_user


class DatasetVersionOutput(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    warnings = serializers.SerializerMethodField(
        help_text="Splits too small for meaningful figures, in words."
    )

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "project",
            "name",
            "content_hash",
            "classes",
            "frame_counts",
            "box_count",
            "created_by",
            "created_at",
            "warnings",
        ]

    def get_warnings(self, version: DatasetVersion) -> list[str]:
        return split_size_warnings(version.frame_counts or {})


class DatasetVersionCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class DatasetVersionListApi(APIView):
    @extend_schema(responses=DatasetVersionOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        versions = project.dataset_versions.select_related("created_by")
        return Response(DatasetVersionOutput(versions, many=True).data)

    @extend_schema(request=DatasetVersionCreateInput, responses={201: DatasetVersionOutput})
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        data = validated(DatasetVersionCreateInput, request.data)
        version = dataset_version_create(
            project=project, name=data["name"], created_by=request.user
        )
        return Response(DatasetVersionOutput(version).data, status=status.HTTP_201_CREATED)


class DatasetVersionDetailApi(APIView):
    @extend_schema(responses=DatasetVersionOutput)
    def get(self, request, version_id: int):
        version = dataset_version_for_user(user=request.user, version_id=version_id)
        return Response(DatasetVersionOutput(version).data)
