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
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from webapp.parsers import DepthLimitedJSONParser

from ..models import Frame, Role
from ..selectors import project_for_user
from .geometry import EDITOR_MIN_BOX_SIDE_PX
from .keypoints import MAX_KEYPOINTS
from .selectors import (
    FRAME_ORDERINGS,
    SPLIT_FILTERS,
    annotation_counts,
    frame_cursor,
    frame_for_user,
    frame_list,
    frame_order_values,
    frame_position,
    frames_past,
)
from .services import (
    MAX_BOXES_PER_FRAME,
    AnnotationConflict,
    BoxInput,
    annotation_save,
    annotation_state,
)


# --- strict JSON fields: "12" is not a number and 1 is not a boolean here -----------------
class StrictField(serializers.Field):
    """A JSON value taken as it is when ``accepts`` it (no coercion from strings or other
    types), else the field's "invalid" error; answered as it is."""

    def accepts(self, data) -> bool:
        raise NotImplementedError

    def to_internal_value(self, data):
        if not self.accepts(data):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.NUMBER)
class StrictFloatField(StrictField):
    default_error_messages = {"invalid": "Must be a finite number."}

    def accepts(self, data) -> bool:
        if isinstance(data, bool) or not isinstance(data, int | float):
            return False
        try:
            return math.isfinite(float(data))
        except OverflowError:  # an int too large for a float
            return False

    def to_internal_value(self, data):
        return float(super().to_internal_value(data))


@extend_schema_field(OpenApiTypes.INT)
class StrictIntegerField(StrictField):
    default_error_messages = {"invalid": "Must be an integer from 0 to 2^63-1."}

    def accepts(self, data) -> bool:
        return not isinstance(data, bool) and isinstance(data, int) and 0 <= data < 2**63


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanField(StrictField):
    default_error_messages = {"invalid": "Must be true or false."}

    def accepts(self, data) -> bool:
        return isinstance(data, bool)


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


def flat_errors(errors, prefix: str = "") -> dict[str, list[str]]:
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
            flat.update(flat_errors(value, name))
    elif isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        flat[prefix or "detail"] = [str(e) for e in errors]
    elif isinstance(errors, list):
        for i, value in enumerate(errors):
            if value:
                flat.update(flat_errors(value, f"{prefix}[{i}]"))
    return flat


# --- serializers ------------------------------------------------------------------------
@extend_schema_field(
    {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "example": [1, 2, 2]}}
)
class KeypointsField(serializers.Field):
    """``[[x, y, v], ...]`` in skeleton order (the service checks count, range, visibility)."""

    default_error_messages = {"invalid": "Must be a list of [x, y, visibility] triples."}

    def to_internal_value(self, data):
        if not isinstance(data, list) or len(data) > MAX_KEYPOINTS:
            self.fail("invalid")
        if not all(isinstance(p, list) and len(p) == 3 for p in data):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class BoxSerializer(serializers.Serializer):
    """A box in original-image pixels: top-left ``(x, y)``, size ``(w, h)``; with a
    skeleton, its keypoints (omitted: the stored box's are kept)."""

    class_id = StrictIntegerField()
    x = StrictFloatField()
    y = StrictFloatField()
    w = StrictFloatField()
    h = StrictFloatField()
    keypoints = KeypointsField(
        required=False,
        help_text="[[x, y, v], ...] in the skeleton's order, original-image pixels; v: 0 not "
        "labeled, 1 occluded, 2 visible; [] none. Omitted: the keypoints of the stored box "
        "of the same class this box overlaps most (IoU >= 0.5) are kept.",
    )


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
    """``limit``/``offset`` pages, or a page found by a frame (a cursor), so the editor
    can load a 13,622-frame list a page at a time and still jump anywhere in it:

    - ``after=<frame id>``: the frames after that one (the next page, even when frames
      before it left a filtered list meanwhile: an offset would then skip some);
    - ``before=<frame id>``: the frames just before it (the previous page);
    - ``around=<frame id>``: the page holding that frame, and its ``position``; the first
      page with ``position: null`` when the frame is not in the (filtered) list.

    Every answer says ``count`` (the whole filtered list) and ``offset`` (the position of
    its first frame); ``next``/``previous`` are null at the list's ends. The cursor frame
    is looked up in ``scope`` (the project's frames), so it may have left the filtered list.
    A bounded number of queries, whatever the list's length (a COUNT or two).
    """

    default_limit = 100
    max_limit = 1000
    cursor_params = ("after", "before", "around")

    def __init__(self, *, scope=None) -> None:
        self.scope = scope
        self.cursor_field = None
        self.position = None

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        named = [p for p in self.cursor_params if params.get(p)]
        if not named:
            return super().paginate_queryset(queryset, request, view)
        if len(named) > 1 or params.get(self.offset_query_param):
            extra = named[1] if len(named) > 1 else self.offset_query_param
            raise ValidationError({extra: ["Give one of after, before, around and offset."]})
        field = self.cursor_field = named[0]
        self.request = request
        self.limit = self.get_limit(request)
        scope = queryset if field == "around" or self.scope is None else self.scope
        cursor = frame_cursor(frames=queryset, scope=scope, field=field, raw=params[field])
        if cursor is None and field != "around":
            raise ValidationError({field: ["No such frame in this project."]})
        self.count = self.get_count(queryset)
        if field == "around":
            self.position = None if cursor is None else frame_position(queryset, cursor=cursor)
            # The frame a quarter into the page: room to go back and more to go on.
            start = 0 if self.position is None else max(0, self.position - self.limit // 4)
            page = list(queryset[start : start + self.limit])
        elif field == "after":
            page = list(frames_past(queryset, cursor=cursor)[: self.limit])
        else:
            page = list(frames_past(queryset, cursor=cursor, before=True)[: self.limit])[::-1]
        if field == "around":
            self.offset = start
        elif page:
            self.offset = frame_position(queryset, cursor=frame_order_values(page[0], queryset))
        else:
            self.offset = self.count if field == "after" else 0
        self.page_ids = (page[0].pk, page[-1].pk) if page else None
        return page

    def _cursor_link(self, param: str, frame_id: int) -> str:
        url = self.request.build_absolute_uri()
        for name in (*self.cursor_params, self.offset_query_param):
            url = remove_query_param(url, name)
        return replace_query_param(url, param, frame_id)

    def get_next_link(self):
        if self.cursor_field is None:
            return super().get_next_link()
        if not self.page_ids or self.offset + self.limit >= self.count:
            return None
        return self._cursor_link("after", self.page_ids[1])

    def get_previous_link(self):
        if self.cursor_field is None:
            return super().get_previous_link()
        if not self.page_ids or self.offset <= 0:
            return None
        return self._cursor_link("before", self.page_ids[0])

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["offset"] = self.offset
        if self.cursor_field == "around":
            response.data["position"] = self.position
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["offset"] = {"type": "integer", "example": 200}
        schema["properties"]["position"] = {
            "type": "integer",
            "nullable": True,
            "description": "With around: the frame's position (null: not in the list).",
        }
        return schema


#: The cursor parameters of the frame lists, for their schemas.
FRAME_CURSOR_PARAMETERS = [
    OpenApiParameter("limit", int),
    OpenApiParameter("offset", int),
    OpenApiParameter("after", int, description="Frames after this frame id."),
    OpenApiParameter("before", int, description="Frames just before this frame id."),
    OpenApiParameter("around", int, description="The page holding this frame id."),
]


#: The filters of every frame list, and their defaults (none: every frame).
FRAME_FILTERS = {"status": "", "video": "", "split": "", "ordering": ""}


def frame_page(view: APIView, request, project_id: int, frames_of, **filters: str) -> Response:
    """A page of a project's frame list (cursor pagination): ``frames_of(project=...,
    <filter>=...)`` with each of ``filters`` (name: default) read from the query string."""
    project = project_for_user(user=request.user, project_id=project_id)
    params = request.query_params
    frames = frames_of(project=project, **{k: params.get(k, d) for k, d in filters.items()})
    paginator = FramePagination(scope=project.frames)
    page = paginator.paginate_queryset(frames, request, view=view)
    return paginator.get_paginated_response(FrameOutput(page, many=True).data)


# --- endpoints --------------------------------------------------------------------------
class FrameListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=Frame.Status.values),
            OpenApiParameter("video", int),
            OpenApiParameter("split", enum=list(SPLIT_FILTERS)),
            OpenApiParameter("ordering", enum=[p + k for k in FRAME_ORDERINGS for p in ("", "-")]),
            *FRAME_CURSOR_PARAMETERS,
        ],
        responses=FrameOutput(many=True),
    )
    def get(self, request, project_id: int):
        return frame_page(self, request, project_id, frame_list, **FRAME_FILTERS)


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
        description=(
            "Replace the frame's annotation if `version` is still current (else 409). A box "
            f"not already on the frame needs at least {EDITOR_MIN_BOX_SIDE_PX:g} px on each "
            "side inside the image (400 naming `boxes[i].w`/`.h`)."
        ),
    )
    def put(self, request, frame_id: int):
        frame = frame_for_user(user=request.user, frame_id=frame_id, role=Role.ANNOTATOR)
        payload = AnnotationPutInput(data=_request_data(request))
        if not payload.is_valid():
            raise ValidationError(flat_errors(payload.errors))
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
                min_new_side_px=EDITOR_MIN_BOX_SIDE_PX,
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
