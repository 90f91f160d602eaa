from django.urls import path

from . import live_views, views

urlpatterns = [
    path("projects/<id:project_id>/tracking/", views.tracking_home, name="tracking-home"),
    path("projects/<id:project_id>/live/", live_views.live_home, name="live-home"),
    path("tracking-runs/<id:run_id>/", views.tracking_run_detail, name="tracking-run-detail"),
    path(
        "tracking-runs/<id:run_id>/cancel/",
        views.tracking_run_cancel,
        name="tracking-run-cancel",
    ),
    path("tracking-runs/<id:run_id>/retry/", views.tracking_run_retry, name="tracking-run-retry"),
    path(
        "tracking-runs/<id:run_id>/delete/",
        views.tracking_run_delete,
        name="tracking-run-delete",
    ),
]
