from django.urls import path

from webapp.jobs.apis import job_urls

from . import apis

urlpatterns = [
    path(
        "frames/<id:frame_id>/proposals/",
        apis.FrameProposalsApi.as_view(),
        name="api-frame-proposals",
    ),
    path(
        "frames/<id:frame_id>/proposals/accept/",
        apis.FrameProposalsAcceptApi.as_view(),
        name="api-frame-proposals-accept",
    ),
    path(
        "frames/<id:frame_id>/proposals/reject/",
        apis.FrameProposalsRejectApi.as_view(),
        name="api-frame-proposals-reject",
    ),
    path(
        "projects/<id:project_id>/proposals/frames/",
        apis.ProposalFrameListApi.as_view(),
        name="api-proposal-frame-list",
    ),
    path(
        "projects/<id:project_id>/proposals/accept-above/",
        apis.ProposalAcceptAboveApi.as_view(),
        name="api-proposal-accept-above",
    ),
    path(
        "projects/<id:project_id>/prelabel-jobs/",
        apis.PrelabelJobListApi.as_view(),
        name="api-prelabel-job-list",
    ),
    job_urls(
        "prelabel-jobs/<id:job_id>/",
        "api-prelabel-job",
        apis.PrelabelJobDetailApi,
        apis.PrelabelJobCancelApi,
        detail_name="api-prelabel-job-detail",
    ),
    path(
        "tracking-runs/<id:run_id>/hard-frames/",
        apis.TrackingRunHardFramesApi.as_view(),
        name="api-tracking-run-hard-frames",
    ),
    path(
        "evaluations/<id:run_id>/hard-frames/",
        apis.EvaluationHardFramesApi.as_view(),
        name="api-evaluation-hard-frames",
    ),
    job_urls(
        "hard-frame-jobs/<id:job_id>/",
        "api-hard-frame-job",
        apis.HardFrameJobDetailApi,
        detail_name="api-hard-frame-job-detail",
    ),
    path("models/<id:model_id>/improve/", apis.ModelImproveApi.as_view(), name="api-model-improve"),
]
