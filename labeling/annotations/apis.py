"""REST endpoints of the labeling editor: frame lists, counts, a frame's annotation and its
image. Every lookup goes through the user's projects (non-members get 404)."""

from __future__ import annotations

import math
from dataclasses import asdict

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.validators import RegexValidator
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.parsers import DepthLimitedJSONParser

from ..models import Frame, Role
from ..selectors import project_for_user
from .selectors import (
    FRAME_ORDERINGS,
    SPLIT_FILTERS,
    annotation_counts,
    frame_for_user,
    frame_list,
)
from .services import (
    MAX_BOXES_PER_FRAME,
    AnnotationConflict,
    BoxInput,
    annotation_save,
    annotation_state,
)


# --- strict JSON fields: "12" is not a number and 1 is not a boolean here -----------------
@extend_schema_field(OpenApiTypes.NUMBER)
class StrictFloatField(serializers.Field):
    default_error_messages = {"invalid": "Must be a finite number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        try:
            value = float(data)
        except OverflowError:
            self.fail("invalid")
        if not math.isfinite(value):
            self.fail("invalid")
        return value

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.INT)
class StrictIntegerField(serializers.Field):
    default_error_messages = {"invalid": "Must be an integer from 0 to 2^63-1."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int) or not 0 <= data < 2**63:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanField(serializers.Field):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class AnnotationJSONParser(DepthLimitedJSONParser):
    """NaN/Infinity literals parse, so that validation can name the field holding one."""

    strict = False


def _request_data(request):
    """The parsed body; one over DATA_UPLOAD_MAX_MEMORY_SIZE is a 400 naming the body."""
    try:
        return request.data
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raise ValidationError({"body": f"The request body exceeds {limit // 2**20} MB."}) from None


def _flat_errors(errors, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as ``{"boxes[3].x": [...]}`` so each names its field."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            if isinstance(key, int):  # DRF keys a list's item errors by position
                name = f"{prefix}[{key}]"
            elif key == "non_field_errors" and prefix:
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else key
            flat.update(_flat_errors(value, name))
    elif isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        flat[prefix or "detail"] = [str(e) for e in errors]
    elif isinstance(errors, list):
        for i, value in enumerate(errors):
            if value:
                flat.update(_flat_errors(value, f"{prefix}[{i}]"))
    return flat


# --- serializers ------------------------------------------------------------------------
class BoxSerializer(serializers.Serializer):
    """A box in original-image pixels: top-left ``(x, y)``, size ``(w, h)``."""

    class_id = StrictIntegerField()
    x = StrictFloatField()
    y = StrictFloatField()
    w = StrictFloatField()
    h = StrictFloatField()


class AnnotationPutInput(serializers.Serializer):
    version = StrictIntegerField(help_text="The version this edit is based on.")
    boxes = BoxSerializer(many=True, max_length=MAX_BOXES_PER_FRAME)
    is_negative = StrictBooleanField(required=False, default=False)
    status = serializers.ChoiceField(
        choices=Frame.Status.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="Omitted: labeled if there are boxes or is_negative, else unlabeled.",
    )
    request_id = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=64,
        validators=[RegexValidator(r"^[A-Za-z0-9._:-]*$", "Letters, digits and ._:- only.")],
        help_text="A client-made id: a retry with the same id returns the stored result.",
    )


class AnnotationOutput(serializers.Serializer):
    frame_id = serializers.IntegerField()
    version = serializers.IntegerField()
    boxes = BoxSerializer(many=True)
    is_negative = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Frame.Status.choices)
    request_id = serializers.CharField()
    annotated_by = serializers.CharField(allow_null=True)
    annotated_at = serializers.DateTimeField(allow_null=True)


class AnnotationConflictOutput(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    current = AnnotationOutput()


class FrameOutput(serializers.ModelSerializer):
    video_name = serializers.CharField(source="video.original_name")
    version = serializers.IntegerField(source="annotation_version")
    box_count = serializers.IntegerField()
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Frame
        fields = [
            "id",
            "video",
            "video_name",
            "frame_index",
            "timestamp_s",
            "source_name",
            "width",
            "height",
            "status",
            "is_negative",
            "split",
            "version",
            "box_count",
            "image_url",
        ]

    def get_image_url(self, frame) -> str:
        return reverse("api-frame-image", args=[frame.pk])


class FramePagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


# --- endpoints --------------------------------------------------------------------------
class FrameListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=Frame.Status.values),
            OpenApiParameter("video", int),
            OpenApiParameter("split", enum=list(SPLIT_FILTERS)),
            OpenApiParameter("ordering", enum=[p + k for k in FRAME_ORDERINGS for p in ("", "-")]),
        ],
        responses=FrameOutput(many=True),
    )
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        params = request.query_params
        frames = frame_list(
            project=project,
            status=params.get("status", ""),
            video=params.get("video", ""),
            split=params.get("split", ""),
            ordering=params.get("ordering", ""),
        )
        paginator = FramePagination()
        page = paginator.paginate_queryset(frames, request, view=self)
        return paginator.get_paginated_response(FrameOutput(page, many=True).data)


class FrameCountsApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        return Response(annotation_counts(project=project))


class FrameAnnotationApi(APIView):
    parser_classes = [AnnotationJSONParser]

    @extend_schema(responses=AnnotationOutput)
    def get(self, request, frame_id: int):
        frame = frame_for_user(user=request.user, frame_id=frame_id)
        return Response(AnnotationOutput(asdict(annotation_state(frame=frame))).data)

    @extend_schema(
        request=AnnotationPutInput,
        responses={200: AnnotationOutput, 409: AnnotationConflictOutput},
    )
    def put(self, request, frame_id: int):
        frame = frame_for_user(user=request.user, frame_id=frame_id, role=Role.ANNOTATOR)
        payload = AnnotationPutInput(data=_request_data(request))
        if not payload.is_valid():
            raise ValidationError(_flat_errors(payload.errors))
        data = payload.validated_data
        try:
            state = annotation_save(
                frame=frame,
                user=request.user,
                version=data["version"],
                boxes=[BoxInput(**b) for b in data["boxes"]],
                is_negative=data["is_negative"],
                status=data["status"],
                request_id=data["request_id"],
            )
        except AnnotationConflict as conflict:
            if conflict.replayed:
                detail = (
                    f"The request id {data['request_id']} belongs to the last accepted save of "
                    "this frame, which stored other boxes; your changes were not saved."
                )
                code = "request_id_reused"
            else:
                detail = (
                    "This frame was changed by someone else since your version "
                    f"{data['version']}; it is now at version {conflict.current.version}."
                )
                code = "version_conflict"
            body = {
                "detail": detail,
                "code": code,
                "current": AnnotationOutput(asdict(conflict.current)).data,
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(AnnotationOutput(asdict(state)).data)


_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


def _sniffed_type(head: bytes) -> tuple[str, str]:
    """The type from the file's own bytes, never from a name a user could have chosen."""
    for magic, content_type, ext in _IMAGE_SIGNATURES:
        if head.startswith(magic):
            return content_type, ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return "application/octet-stream", "bin"


class FrameImageApi(APIView):
    """The frame's image, for members only (media files are not served publicly)."""

    def perform_content_negotiation(self, request, force=False):
        # <img> asks for image/*: fall back to JSON for error bodies instead of a 406.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def get(self, request, frame_id: int):
        # Frames kept for dataset versions still show in the evaluation error browser.
        frame = frame_for_user(user=request.user, frame_id=frame_id, include_hidden=True)
        try:
            handle = frame.image.open("rb")
        except (FileNotFoundError, ValueError):
            raise Http404("The frame's image is missing.") from None
        head = handle.read(16)
        handle.seek(0)
        content_type, ext = _sniffed_type(head)
        response = FileResponse(
            handle,
            content_type=content_type,
            as_attachment=ext == "bin",
            filename=f"frame-{frame.pk}.{ext}",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, max-age=86400"
        return response
