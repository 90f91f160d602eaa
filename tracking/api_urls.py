from django.urls import path, re_path

from webapp.jobs.apis import job_urls

from . import apis, live_apis

urlpatterns = [
    path(
        "projects/<id:project_id>/tracking-runs/",
        apis.TrackingRunListApi.as_view(),
        name="api-tracking-run-list",
    ),
    path(
        "tracking-batches/<id:batch_id>/",
        apis.TrackingBatchDetailApi.as_view(),
        name="api-tracking-batch-detail",
    ),
    job_urls(
        "tracking-runs/<id:run_id>/",
        "api-tracking-run",
        apis.TrackingRunDetailApi,
        apis.TrackingRunCancelApi,
        apis.TrackingRunRetryApi,
        detail_name="api-tracking-run-detail",
    ),
    path(
        "tracking-runs/<id:run_id>/track/",
        apis.TrackingRunTrackApi.as_view(),
        name="api-tracking-run-track",
    ),
    re_path(
        r"^tracking-runs/(?P<run_id>[0-9]{1,18})/trajectory\.(?P<fmt>csv|nwb|mot\.txt|json|parquet)$",
        apis.TrackingRunExportApi.as_view(),
        name="api-tracking-run-export",
    ),
    path(
        "tracking-runs/<id:run_id>/edits/",
        apis.TrackingEditListApi.as_view(),
        name="api-tracking-edit-list",
    ),
    path(
        "tracking-edits/<id:edit_id>/revert/",
        apis.TrackingEditRevertApi.as_view(),
        name="api-tracking-edit-revert",
    ),
    path(
        "tracking-runs/<id:run_id>/renders/",
        apis.TrackingRenderListApi.as_view(),
        name="api-tracking-render-list",
    ),
    path(
        "tracking-renders/<id:render_id>/download/",
        apis.TrackingRenderDownloadApi.as_view(),
        name="api-tracking-render-download",
    ),
    path(
        "projects/<id:project_id>/live-sessions/",
        live_apis.LiveSessionListApi.as_view(),
        name="api-live-session-list",
    ),
    path(
        "live-sessions/<id:job_id>/",
        live_apis.LiveSessionDetailApi.as_view(),
        name="api-live-session-detail",
    ),
    path(
        "live-sessions/<id:job_id>/stop/",
        live_apis.LiveSessionStopApi.as_view(),
        name="api-live-session-stop",
    ),
    path(
        "live-sessions/<id:job_id>/events.jsonl",
        live_apis.LiveSessionEventsApi.as_view(),
        name="api-live-session-events",
    ),
]
