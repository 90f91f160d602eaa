"""REST endpoint of a project's pose skeleton (read: viewer; write: owner, as classes)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.parsers import DepthLimitedJSONParser

from ..models import Role
from ..selectors import project_for_user
from .keypoints import MAX_KEYPOINTS
from .skeletons import skeleton_remove, skeleton_set, skeleton_spec


class SkeletonInput(serializers.Serializer):
    keypoints = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=200),
        max_length=MAX_KEYPOINTS,
        help_text="Keypoint names in order (e.g. snout, ear_left, ear_right, tail_base).",
    )
    edges = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(), max_length=2),
        required=False,
        default=list,
        max_length=MAX_KEYPOINTS * MAX_KEYPOINTS,
        help_text="Pairs drawn as lines: keypoint names or indices.",
    )
    flip_pairs = serializers.ListField(
        child=serializers.ListField(child=serializers.JSONField(), max_length=2),
        required=False,
        default=list,
        max_length=MAX_KEYPOINTS,
        help_text="Left/right pairs a horizontal flip swaps (Ultralytics' flip_idx).",
    )


class SkeletonOutput(serializers.Serializer):
    keypoints = serializers.ListField(child=serializers.CharField())
    edges = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    flip_pairs = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField())
    )
    flip_idx = serializers.ListField(child=serializers.IntegerField())


def _output(spec) -> dict:
    return {**spec.to_dict(), "flip_idx": spec.flip_idx}


class SkeletonApi(APIView):
    """GET: the skeleton (404 for a boxes-only project). PUT: set or change it (a
    keypoint that has labels cannot be removed or moved: 400 naming it). DELETE: boxes
    only again (refused while keypoints are labeled)."""

    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(responses=SkeletonOutput)
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        spec = skeleton_spec(project=project)
        if spec is None:
            raise NotFound("This project has no skeleton (boxes only).")
        return Response(_output(spec))

    @extend_schema(request=SkeletonInput, responses=SkeletonOutput)
    def put(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        payload = SkeletonInput(data=request.data)
        if not payload.is_valid():
            raise DrfValidationError(payload.errors)
        spec = skeleton_set(project=project, **payload.validated_data)
        return Response(_output(spec))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        skeleton_remove(project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)
