"""REST endpoints of resumable chunked uploads (:mod:`labeling.videos.chunked`).

    POST   /api/projects/<id>/uploads/   {"file_name", "size", "sample_every"?} -> 201
    HEAD   /api/uploads/<uuid>/          -> Upload-Offset, Upload-Length headers
    GET    /api/uploads/<uuid>/          -> the same as JSON
    PATCH  /api/uploads/<uuid>/          Upload-Offset: N, body = the bytes from N -> 204
    POST   /api/uploads/<uuid>/complete/ -> 201 the frame source (as a one-request upload)
    DELETE /api/uploads/<uuid>/          -> 204, the bytes so far removed

Creating needs the annotator role; an upload is seen and written only by the person who
started it (anyone else gets 404, as a non-member does).
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.parsers import DepthLimitedJSONParser

from ..models import ChunkedUpload, Role
from ..selectors import project_for_user, projects_visible_to, require_role
from . import chunked
from .apis import ImageSetJobOutput, VideoUploadOutput, _start_sampling
from .selectors import video_with_counts


class ChunkedUploadInput(serializers.Serializer):
    file_name = serializers.CharField(max_length=1000)
    size = serializers.IntegerField(min_value=1, max_value=2**62)
    sample_every = serializers.FloatField(
        required=False, allow_null=True, min_value=0.01, max_value=3600
    )


class ChunkedUploadOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    complete_url = serializers.SerializerMethodField()
    chunk_bytes = serializers.SerializerMethodField()

    class Meta:
        model = ChunkedUpload
        fields = [
            "id",
            "file_name",
            "size",
            "offset",
            "status",
            "video",
            "url",
            "complete_url",
            "chunk_bytes",
        ]

    def get_url(self, upload) -> str:
        return reverse("api-chunked-upload", args=[upload.pk])

    def get_complete_url(self, upload) -> str:
        return reverse("api-chunked-upload-complete", args=[upload.pk])

    def get_chunk_bytes(self, upload) -> int:
        return chunked.chunk_bytes()


def upload_for_user(*, user, upload_id, role: str = Role.ANNOTATOR) -> ChunkedUpload:
    upload = (
        ChunkedUpload.objects.select_related("project", "video")
        .filter(pk=upload_id, project__in=projects_visible_to(user), created_by=user)
        .first()
    )
    if upload is None:
        raise Http404("No such upload.")
    require_role(user=user, project=upload.project, role=role)
    return upload


def _offset_headers(response: Response, upload: ChunkedUpload) -> Response:
    response["Upload-Offset"] = str(upload.offset)
    response["Upload-Length"] = str(upload.size)
    response["Cache-Control"] = "no-store"
    return response


class ChunkedUploadStartApi(APIView):
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(request=ChunkedUploadInput, responses={201: ChunkedUploadOutput})
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        payload = ChunkedUploadInput(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = chunked.chunked_upload_create(
            project=project, user=request.user, **payload.validated_data
        )
        return Response(ChunkedUploadOutput(upload).data, status=status.HTTP_201_CREATED)


class ChunkedUploadApi(APIView):
    parser_classes: list = []  # PATCH bodies are read as a stream, never parsed

    @extend_schema(request=None, responses={200: None})
    def head(self, request, upload_id):
        upload = upload_for_user(user=request.user, upload_id=upload_id)
        return _offset_headers(Response(status=status.HTTP_200_OK), upload)

    @extend_schema(request=None, responses=ChunkedUploadOutput)
    def get(self, request, upload_id):
        upload = upload_for_user(user=request.user, upload_id=upload_id)
        return _offset_headers(Response(ChunkedUploadOutput(upload).data), upload)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Upload-Offset",
                int,
                OpenApiParameter.HEADER,
                required=True,
                description="Where this chunk starts (the upload's offset).",
            )
        ],
        request={"application/offset+octet-stream": OpenApiTypes.BINARY},
        responses={204: None, 409: OpenApiTypes.OBJECT},
    )
    def patch(self, request, upload_id):
        upload = upload_for_user(user=request.user, upload_id=upload_id)
        try:
            offset = int(request.headers.get("Upload-Offset", ""))
            if offset < 0:
                raise ValueError
        except ValueError:
            raise DRFValidationError(
                {"Upload-Offset": ["Say where this chunk starts (bytes)."]}
            ) from None
        try:
            length = int(request.headers.get("Content-Length") or "")
        except ValueError:
            raise DRFValidationError({"Content-Length": ["A chunk needs a length."]}) from None
        try:
            chunked.chunked_upload_append(
                upload=upload, offset=offset, stream=request._request, length=length
            )
        except chunked.OffsetMismatch as exc:
            upload.offset = exc.offset
            body = {"detail": str(exc), "code": "offset_mismatch", "offset": exc.offset}
            return _offset_headers(Response(body, status=status.HTTP_409_CONFLICT), upload)
        except chunked.UploadBusy:
            upload.refresh_from_db()
            body = {"detail": "Another chunk of this upload is being written.", "code": "busy"}
            return _offset_headers(Response(body, status=status.HTTP_409_CONFLICT), upload)
        except ChunkedUpload.DoesNotExist:
            raise Http404("No such upload.") from None
        return _offset_headers(Response(status=status.HTTP_204_NO_CONTENT), upload)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, upload_id):
        upload = upload_for_user(user=request.user, upload_id=upload_id)
        chunked.chunked_upload_abort(upload=upload)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChunkedUploadCompleteApi(APIView):
    @extend_schema(request=None, responses={201: VideoUploadOutput, 202: ImageSetJobOutput})
    def post(self, request, upload_id):
        upload = upload_for_user(user=request.user, upload_id=upload_id)
        if upload.status == ChunkedUpload.Status.RECEIVING and upload.offset == upload.size:
            job = chunked.chunked_upload_complete_as_imageset_job(upload=upload, user=request.user)
            if job is not None:
                return Response(ImageSetJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
        first_time = upload.status != ChunkedUpload.Status.COMPLETE
        video = chunked.chunked_upload_complete(upload=upload, user=request.user)
        job, error = (None, None)
        if first_time:
            job, error = _start_sampling(
                video=video, user=request.user, seconds=upload.sample_every
            )
        context = {"sampling_job": job, "sampling_error": error}
        out = VideoUploadOutput(video_with_counts(video=video), context=context)
        return Response(out.data, status=status.HTTP_201_CREATED)
