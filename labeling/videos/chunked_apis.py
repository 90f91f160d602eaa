"""REST endpoints of resumable chunked uploads (:mod:`labeling.videos.chunked`).

    POST   /api/projects/<id>/uploads/   {"file_name", "size", "sample_every"?} -> 201
    HEAD   /api/uploads/<uuid>/          -> Upload-Offset, Upload-Length headers
    GET    /api/uploads/<uuid>/          -> the same as JSON
    PATCH  /api/uploads/<uuid>/          Upload-Offset: N, body = the bytes from N -> 204
                                         (Content-Type: application/offset+octet-stream,
                                         else 415, as tus)
    POST   /api/uploads/<uuid>/complete/ -> 202 the job that checks the file (follow its
                                            url); 201 the frame source once it is complete
    DELETE /api/uploads/<uuid>/          -> 204, the bytes so far removed
    GET    /api/video-upload-jobs/<id>/  -> the job: status, progress, the video or the reason
    POST   /api/video-upload-jobs/<id>/cancel/

Creating needs the annotator role; an upload is seen and written only by the person who
started it (anyone else gets 404, as a non-member does). Its job is seen by the project's
members, as image-set jobs are.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import validated
from webapp.jobs.apis import job_apis
from webapp.parsers import DepthLimitedJSONParser

from ..models import ChunkedUpload, Role, VideoUploadJob
from ..selectors import project_for_user, projects_visible_to, require_role
from . import chunked, chunked_services
from .apis import FileJobOutput, ImageSetJobOutput, VideoOutput, VideoUploadOutput
from .selectors import video_upload_job_for_user, video_with_counts


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


class VideoUploadJobOutput(FileJobOutput):
    """The job that checks a chunked upload's file; ``video_detail`` once it is added."""

    KIND = "video_upload_job"
    URL_NAME = "api-video-upload-job"

    video_detail = serializers.SerializerMethodField()

    class Meta:
        model = VideoUploadJob
        fields = [
            *FileJobOutput.COMMON_FIELDS,
            "video_detail",
            "sampling_job",
            "sampling_error",
            *FileJobOutput.LINK_FIELDS,
        ]

    @extend_schema_field(VideoOutput(allow_null=True))
    def get_video_detail(self, job) -> dict | None:
        if not job.video_id or job.status != "succeeded":
            return None
        return VideoOutput(video_with_counts(video=job.video)).data


#: The only body type a chunk may have (tus' ``PATCH``).
CHUNK_MEDIA_TYPE = "application/offset+octet-stream"


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
        data = validated(ChunkedUploadInput, request.data)
        upload = chunked.chunked_upload_create(project=project, user=request.user, **data)
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
        responses={204: None, 409: OpenApiTypes.OBJECT, 415: OpenApiTypes.OBJECT},
    )
    def patch(self, request, upload_id):
        upload = upload_for_user(user=request.user, upload_id=upload_id)
        # As tus: a chunk declares itself, so a form post or JSON sent here by mistake is
        # refused instead of being written into the file.
        media_type = (request.content_type or "").split(";")[0].strip().lower()
        if media_type != CHUNK_MEDIA_TYPE:
            body = {
                "detail": f"A chunk must be sent as Content-Type: {CHUNK_MEDIA_TYPE} "
                f"(got {media_type or 'none'}).",
                "code": "unsupported_media_type",
            }
            response = Response(body, status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
            return _offset_headers(response, upload)
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


#: What completing answers with 202: the job that makes the file a frame source.
_COMPLETE_JOB = PolymorphicProxySerializer(
    component_name="ChunkedUploadCompleteJob",
    serializers=[VideoUploadJobOutput, ImageSetJobOutput],
    resource_type_field_name=None,
)


def _busy(upload: ChunkedUpload) -> Response:
    body = {"detail": "A chunk of this upload is being written.", "code": "busy"}
    return _offset_headers(Response(body, status=status.HTTP_409_CONFLICT), upload)


class ChunkedUploadCompleteApi(APIView):
    @extend_schema(
        request=None,
        responses={201: VideoUploadOutput, 202: _COMPLETE_JOB, 409: OpenApiTypes.OBJECT},
        description="All bytes in: 202 with the job that checks the file (a zip of images: "
        "the image-set job; else the video job: follow its url until it is finished). "
        "Called again: the same job, or 201 with the frame source once it is complete.",
    )
    def post(self, request, upload_id):
        upload = upload_for_user(user=request.user, upload_id=upload_id)
        if upload.status == ChunkedUpload.Status.COMPLETE and upload.video_id:
            out = VideoUploadOutput(video_with_counts(video=upload.video))
            return Response(out.data, status=status.HTTP_201_CREATED)
        try:
            if upload.status == ChunkedUpload.Status.RECEIVING and upload.offset == upload.size:
                job = chunked.chunked_upload_complete_as_imageset_job(
                    upload=upload, user=request.user
                )
                if job is not None:
                    return Response(ImageSetJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
            job = chunked_services.chunked_upload_complete(upload=upload, user=request.user)
        except chunked.UploadBusy:
            upload.refresh_from_db()
            return _busy(upload)
        return Response(VideoUploadJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


VideoUploadJobDetailApi, VideoUploadJobCancelApi = job_apis(
    "VideoUploadJob",
    output=VideoUploadJobOutput,
    job_for=video_upload_job_for_user,
    cancel=chunked_services.video_upload_job_cancel,
)
