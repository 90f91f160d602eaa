from django.urls import path

from . import behavior_views, views

urlpatterns = [
    path("projects/<id:project_id>/tracking/", views.tracking_home, name="tracking-home"),
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
    # Behaviour analysis pages.
    path(
        "projects/<id:project_id>/experiment/",
        behavior_views.experiment_page,
        name="experiment",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/arena/",
        behavior_views.arena_page,
        name="arena-setup",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/arena/background.jpg",
        behavior_views.arena_background,
        name="arena-background",
    ),
    path(
        "tracking-runs/<id:run_id>/analysis/",
        behavior_views.run_analysis_page,
        name="run-analysis",
    ),
]
