"""REST endpoints for frame sources (videos, image sets) and frame sampling jobs.

Every lookup goes through the user's projects: non-members get 404, viewers cannot
upload, register, sample, cancel or delete (403).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import validated
from webapp.jobs.apis import JobOutputBase, job_apis
from webapp.parsers import DepthLimitedJSONParser

from ..datasets import archives
from ..models import FrameSamplingJob, ImageSetImportJob, Role, Video
from ..selectors import project_for_user
from ..uploads import ProjectUploadMixin, upload_temp_path
from . import imageset_services, sampling_services, services
from .deletion import confirm_parse
from .selectors import (
    imageset_job_for_user,
    sampling_job_for_user,
    video_for_user,
    video_list_with_counts,
    video_reach_warnings,
    video_with_counts,
)
from .services import IncomingFile


# --- output ---------------------------------------------------------------------------
class VideoOutput(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None)
    is_external = serializers.SerializerMethodField()
    frames_sampled = serializers.IntegerField(read_only=True, default=0)
    frames_labeled = serializers.IntegerField(read_only=True, default=0)
    page_url = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Video
        fields = [
            "id",
            "project",
            "kind",
            "original_name",
            "size_bytes",
            "frame_count",
            "fps",
            "width",
            "height",
            "duration_s",
            "codec",
            "is_external",
            "created_by",
            "created_at",
            "frames_sampled",
            "frames_labeled",
            "page_url",
            "file_url",
            "thumbnail_url",
        ]

    def get_is_external(self, video: Video) -> bool:
        return bool(video.external_path)

    def get_page_url(self, video: Video) -> str:
        return reverse("video-detail", args=[video.project_id, video.pk])

    def get_file_url(self, video: Video) -> str | None:
        if video.kind != Video.Kind.VIDEO:
            return None
        return reverse("video-file", args=[video.project_id, video.pk])

    def get_thumbnail_url(self, video: Video) -> str | None:
        if not video.thumbnail:
            return None
        return reverse("video-thumbnail", args=[video.project_id, video.pk])


class SamplingJobOutput(JobOutputBase):
    video = serializers.IntegerField(source="video_id")

    class Meta:
        model = FrameSamplingJob
        fields = [
            "id",
            "video",
            "strategy",
            "params",
            "status",
            "is_finished",
            "progress",
            "message",
            "error",
            "frames_created",
            "created_at",
            "started_at",
            "finished_at",
        ]


class FileJobOutput(JobOutputBase):
    """What every job turning an uploaded file into a frame source answers (image sets,
    chunked videos): status, progress, links. Subclasses name their ``Meta.model``, their
    ``KIND`` and ``URL_NAME`` (its cancel URL is ``URL_NAME + "-cancel"``), and list
    ``COMMON_FIELDS``, their own, then ``LINK_FIELDS``."""

    KIND = ""
    URL_NAME = ""
    COMMON_FIELDS = (
        "id",
        "kind",
        "project",
        "source_name",
        "upload_bytes",
        "status",
        "is_finished",
        "progress",
        "message",
        "error",
        "video",
    )
    LINK_FIELDS = ("page_url", "url", "cancel_url", "created_at", "finished_at")

    kind = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    cancel_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    def get_kind(self, job) -> str:
        return self.KIND

    def get_url(self, job) -> str:
        return reverse(self.URL_NAME, args=[job.pk])

    def get_cancel_url(self, job) -> str:
        return reverse(f"{self.URL_NAME}-cancel", args=[job.pk])

    def get_page_url(self, job) -> str | None:
        if not job.video_id:
            return None
        return reverse("video-detail", args=[job.project_id, job.video_id])


class ImageSetJobOutput(FileJobOutput):
    KIND = "imageset_job"
    URL_NAME = "api-imageset-job"

    frame_count = serializers.SerializerMethodField()
    retry_url = serializers.SerializerMethodField(
        help_text="Set when its worker died and it can be queued again (POST)."
    )

    class Meta:
        model = ImageSetImportJob
        fields = [
            *FileJobOutput.COMMON_FIELDS,
            "frame_count",
            "retry_url",
            *FileJobOutput.LINK_FIELDS,
        ]

    def get_frame_count(self, job) -> int | None:
        return job.video.frame_count if job.video_id else None

    def get_retry_url(self, job) -> str | None:
        if not imageset_services.imageset_job_retryable(job=job):
            return None
        return reverse("api-imageset-job-retry", args=[job.pk])


class VideoUploadOutput(VideoOutput):
    sampling_job = serializers.SerializerMethodField()
    sampling_error = serializers.SerializerMethodField()

    class Meta(VideoOutput.Meta):
        fields = [*VideoOutput.Meta.fields, "sampling_job", "sampling_error"]

    def get_sampling_job(self, video: Video) -> int | None:
        job = self.context.get("sampling_job")
        return job.pk if job is not None else None

    def get_sampling_error(self, video: Video) -> str | None:
        return self.context.get("sampling_error")


class VideoRegisterOutput(VideoUploadOutput):
    reach_warnings = serializers.SerializerMethodField(
        help_text="Queues whose workers cannot read the file in place, and what would fail."
    )

    class Meta(VideoUploadOutput.Meta):
        fields = [*VideoUploadOutput.Meta.fields, "reach_warnings"]

    def get_reach_warnings(self, video: Video) -> list[str]:
        return video_reach_warnings(video=video)


# --- input ----------------------------------------------------------------------------
class VideoUploadInput(serializers.Serializer):
    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        help_text="One video, one zip of images, or several images (an image set).",
    )
    sample_every = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0.01,
        max_value=3600,
        help_text="Start sampling a frame every this many seconds once the video is in.",
    )


class VideoRegisterInput(serializers.Serializer):
    path = serializers.CharField(max_length=4096, trim_whitespace=True)
    sample_every = serializers.FloatField(
        required=False, allow_null=True, min_value=0.01, max_value=3600
    )


class SamplingInput(serializers.Serializer):
    strategy = serializers.ChoiceField(choices=FrameSamplingJob.Strategy.choices)
    seconds = serializers.FloatField(
        required=False, allow_null=True, help_text="every_seconds: the interval (default 1.5)."
    )
    n = serializers.IntegerField(
        required=False, allow_null=True, help_text="uniform, kmeans: how many frames."
    )
    indices = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        max_length=sampling_services.MAX_INDICES,
        help_text="indices: the frames to take (0-based).",
    )
    skip_similar = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Skip frames whose mean difference from the last kept one is below this "
        "fraction of full scale (0.02 is about 5 grey levels).",
    )


def _added(output: type[VideoUploadOutput], *, video: Video, user, seconds: float | None):
    """201 with the new frame source, and the sampling job started on it every ``seconds``
    (or why it could not start)."""
    job, error = sampling_services.sampling_job_start_after_upload(
        video=video, user=user, seconds=seconds
    )
    context = {"sampling_job": job, "sampling_error": error}
    out = output(video_with_counts(video=video), context=context)
    return Response(out.data, status=status.HTTP_201_CREATED)


# --- views ----------------------------------------------------------------------------
class VideoListApi(ProjectUploadMixin, APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=VideoOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        return Response(VideoOutput(video_list_with_counts(project=project), many=True).data)

    @extend_schema(
        request={"multipart/form-data": VideoUploadInput},
        responses={201: VideoUploadOutput, 202: ImageSetJobOutput},
        description="A video or a few loose images: 201 with the frame source. A zip of "
        "images, or more loose images than IMAGESET_IN_REQUEST_MAX_FILES (20): 202 with the "
        "job that checks every image and makes the image set.",
    )
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        uploads = []
        try:
            uploads = request.FILES.getlist("file")
            payload = VideoUploadInput(
                data={
                    "file": uploads,
                    **(
                        {"sample_every": request.data["sample_every"]}
                        if request.data.get("sample_every") not in (None, "")
                        else {}
                    ),
                }
            )
            payload.is_valid(raise_exception=True)
            files = [
                IncomingFile(path=upload_temp_path(f), name=f.name or "", size=f.size or 0)
                for f in uploads
            ]
            if len(files) == 1 and archives.is_zip(files[0].path):
                # A zip of images: every image is decoded in a job (202, follow its url).
                job = imageset_services.imageset_job_start(
                    project=project,
                    user=request.user,
                    path=files[0].path,
                    name=files[0].name,
                    upload=uploads[0],
                )
                return Response(ImageSetJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
            if len(files) > settings.IMAGESET_IN_REQUEST_MAX_FILES and services.are_loose_images(
                files
            ):
                # Many loose images: checked and stored by a job too, as a zip of them.
                job = imageset_services.imageset_job_start_for_images(
                    project=project, user=request.user, files=files
                )
                return Response(ImageSetJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
            video = services.frame_source_upload(project=project, user=request.user, files=files)
        finally:
            self.release_uploads(uploads)
        seconds = payload.validated_data.get("sample_every")
        return _added(VideoUploadOutput, video=video, user=request.user, seconds=seconds)


class VideoRegisterApi(APIView):
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(request=VideoRegisterInput, responses={201: VideoRegisterOutput})
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        data = validated(VideoRegisterInput, request.data)
        video = services.video_register(project=project, user=request.user, path=data["path"])
        seconds = data.get("sample_every")
        return _added(VideoRegisterOutput, video=video, user=request.user, seconds=seconds)


class VideoDeletionOutput(serializers.Serializer):
    hidden = serializers.BooleanField()
    deleted_frames = serializers.IntegerField()
    kept_frames = serializers.IntegerField()
    kept_for = serializers.ListField(child=serializers.CharField(), help_text="dataset versions")
    detail = serializers.CharField(source="message")


class VideoDetailApi(APIView):
    @extend_schema(responses=VideoOutput)
    def get(self, request, video_id: int):
        video = video_for_user(user=request.user, video_id=video_id)
        return Response(VideoOutput(video_with_counts(video=video)).data)

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "confirm",
                str,
                description="labels,runs: the video's labels and tracking runs go with it",
            )
        ],
        responses={204: None, 200: VideoDeletionOutput},
    )
    def delete(self, request, video_id: int):
        """204 when everything went; 200 with what was kept (and why) when dataset versions
        still list some of its frames (the video is then hidden from the project). A labeled
        or tracked video needs ``?confirm=labels,runs``."""
        video = video_for_user(user=request.user, video_id=video_id, role=Role.ANNOTATOR)
        confirm = confirm_parse(request.query_params.get("confirm"))
        deletion = services.video_delete(video=video, confirm=confirm)
        if not deletion.hidden:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(VideoDeletionOutput(deletion).data)


class VideoSampleApi(APIView):
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(request=SamplingInput, responses={202: SamplingJobOutput})
    def post(self, request, video_id: int):
        video = video_for_user(user=request.user, video_id=video_id, role=Role.ANNOTATOR)
        params = dict(validated(SamplingInput, request.data))
        strategy = params.pop("strategy")
        job = sampling_services.sampling_job_start(
            video=video, user=request.user, strategy=strategy, params=params
        )
        return Response(SamplingJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class VideoSamplingJobListApi(APIView):
    @extend_schema(responses=SamplingJobOutput(many=True))
    def get(self, request, video_id: int):
        video = video_for_user(user=request.user, video_id=video_id)
        jobs = video.sampling_jobs.order_by("-created_at", "-id")[:50]
        return Response(SamplingJobOutput(jobs, many=True).data)


SamplingJobDetailApi, SamplingJobCancelApi = job_apis(
    "SamplingJob",
    output=SamplingJobOutput,
    job_for=sampling_job_for_user,
    cancel=sampling_services.sampling_job_cancel,
)


ImageSetJobDetailApi, ImageSetJobCancelApi, ImageSetJobRetryApi = job_apis(
    "ImageSetJob",
    output=ImageSetJobOutput,
    job_for=imageset_job_for_user,
    cancel=imageset_services.imageset_job_cancel,
    retry=imageset_services.imageset_job_retry,
)
