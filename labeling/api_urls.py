from django.urls import path

from webapp.jobs.apis import job_urls

from . import apis
from .annotations import apis as annotation_apis
from .annotations import skeleton_apis
from .datasets import apis as dataset_apis
from .datasets import job_apis as dataset_job_apis
from .datasets import version_apis as dataset_version_apis
from .videos import apis as video_apis
from .videos import chunked_apis

urlpatterns = [
    path("projects/", apis.ProjectListApi.as_view(), name="api-project-list"),
    path("projects/<id:project_id>/", apis.ProjectDetailApi.as_view(), name="api-project-detail"),
    path("projects/<id:project_id>/members/", apis.MemberListApi.as_view(), name="api-member-list"),
    path(
        "projects/<id:project_id>/accounts/",
        apis.MemberAccountCreateApi.as_view(),
        name="api-member-account-create",
    ),
    path(
        "projects/<id:project_id>/members/<id:user_id>/",
        apis.MemberDetailApi.as_view(),
        name="api-member-detail",
    ),
    path(
        "projects/<id:project_id>/classes/",
        apis.LabelClassListApi.as_view(),
        name="api-class-list",
    ),
    path(
        "projects/<id:project_id>/classes/<id:class_id>/",
        apis.LabelClassDetailApi.as_view(),
        name="api-class-detail",
    ),
    path(
        "projects/<id:project_id>/skeleton/",
        skeleton_apis.SkeletonApi.as_view(),
        name="api-project-skeleton",
    ),
    # The labeling editor: frames, counts, one frame's annotation and image.
    path(
        "projects/<id:project_id>/frames/",
        annotation_apis.FrameListApi.as_view(),
        name="api-frame-list",
    ),
    path(
        "projects/<id:project_id>/frames/counts/",
        annotation_apis.FrameCountsApi.as_view(),
        name="api-frame-counts",
    ),
    path(
        "frames/<id:frame_id>/annotation/",
        annotation_apis.FrameAnnotationApi.as_view(),
        name="api-frame-annotation",
    ),
    path(
        "frames/<id:frame_id>/image/",
        annotation_apis.FrameImageApi.as_view(),
        name="api-frame-image",
    ),
    # Frame sources (videos, image sets) and frame sampling.
    path(
        "projects/<id:project_id>/videos/",
        video_apis.VideoListApi.as_view(),
        name="api-video-list",
    ),
    path(
        "projects/<id:project_id>/videos/register/",
        video_apis.VideoRegisterApi.as_view(),
        name="api-video-register",
    ),
    path("videos/<id:video_id>/", video_apis.VideoDetailApi.as_view(), name="api-video-detail"),
    path(
        "videos/<id:video_id>/sample/",
        video_apis.VideoSampleApi.as_view(),
        name="api-video-sample",
    ),
    path(
        "videos/<id:video_id>/sampling-jobs/",
        video_apis.VideoSamplingJobListApi.as_view(),
        name="api-video-sampling-jobs",
    ),
    job_urls(
        "sampling-jobs/<id:job_id>/",
        "api-sampling-job",
        video_apis.SamplingJobDetailApi,
        video_apis.SamplingJobCancelApi,
        detail_name="api-sampling-job-detail",
    ),
    # Dataset versions (labeling.datasets.versions).
    path(
        "projects/<id:project_id>/dataset-versions/",
        dataset_version_apis.DatasetVersionListApi.as_view(),
        name="api-dataset-version-list",
    ),
    path(
        "dataset-versions/<id:version_id>/",
        dataset_version_apis.DatasetVersionDetailApi.as_view(),
        name="api-dataset-version-detail",
    ),
    # Dataset export (zip), import (zip upload) and counts (labeling.datasets).
    path(
        "projects/<id:project_id>/dataset/export/",
        dataset_apis.DatasetExportApi.as_view(),
        name="api-dataset-export",
    ),
    path(
        "projects/<id:project_id>/dataset/import/",
        dataset_apis.DatasetImportApi.as_view(),
        name="api-dataset-import",
    ),
    path(
        "projects/<id:project_id>/dataset/stats/",
        dataset_apis.DatasetStatsApi.as_view(),
        name="api-dataset-stats",
    ),
    # Dataset import and export jobs (labeling.datasets.job_apis).
    path(
        "projects/<id:project_id>/dataset/jobs/",
        dataset_job_apis.DatasetJobListApi.as_view(),
        name="api-dataset-jobs",
    ),
    path(
        "projects/<id:project_id>/dataset/exports/",
        dataset_job_apis.ExportJobStartApi.as_view(),
        name="api-dataset-export-start",
    ),
    job_urls(
        "dataset-import-jobs/<id:job_id>/",
        "api-dataset-import-job",
        dataset_job_apis.ImportJobDetailApi,
        dataset_job_apis.ImportJobCancelApi,
        dataset_job_apis.ImportJobRetryApi,
    ),
    job_urls(
        "dataset-export-jobs/<id:job_id>/",
        "api-dataset-export-job",
        dataset_job_apis.ExportJobDetailApi,
        dataset_job_apis.ExportJobCancelApi,
    ),
    path(
        "dataset-export-jobs/<id:job_id>/download/",
        dataset_job_apis.ExportJobDownloadApi.as_view(),
        name="api-dataset-export-job-download",
    ),
    # Resumable chunked uploads (labeling.videos.chunked).
    path(
        "projects/<id:project_id>/uploads/",
        chunked_apis.ChunkedUploadStartApi.as_view(),
        name="api-chunked-upload-start",
    ),
    path(
        "uploads/<uuid:upload_id>/",
        chunked_apis.ChunkedUploadApi.as_view(),
        name="api-chunked-upload",
    ),
    path(
        "uploads/<uuid:upload_id>/complete/",
        chunked_apis.ChunkedUploadCompleteApi.as_view(),
        name="api-chunked-upload-complete",
    ),
    job_urls(
        "video-upload-jobs/<id:job_id>/",
        "api-video-upload-job",
        chunked_apis.VideoUploadJobDetailApi,
        chunked_apis.VideoUploadJobCancelApi,
    ),
    job_urls(
        "imageset-jobs/<id:job_id>/",
        "api-imageset-job",
        video_apis.ImageSetJobDetailApi,
        video_apis.ImageSetJobCancelApi,
        video_apis.ImageSetJobRetryApi,
    ),
]
