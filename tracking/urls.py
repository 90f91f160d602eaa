from django.urls import path

from . import behavior_views, views

urlpatterns = [
    path("projects/<int:project_id>/tracking/", views.tracking_home, name="tracking-home"),
    path("tracking-runs/<int:run_id>/", views.tracking_run_detail, name="tracking-run-detail"),
    path(
        "tracking-runs/<int:run_id>/cancel/",
        views.tracking_run_cancel,
        name="tracking-run-cancel",
    ),
    path("tracking-runs/<int:run_id>/retry/", views.tracking_run_retry, name="tracking-run-retry"),
    # Behaviour analysis pages.
    path(
        "projects/<int:project_id>/experiment/",
        behavior_views.experiment_page,
        name="experiment",
    ),
    path(
        "projects/<int:project_id>/videos/<int:video_id>/arena/",
        behavior_views.arena_page,
        name="arena-setup",
    ),
    path(
        "projects/<int:project_id>/videos/<int:video_id>/arena/background.jpg",
        behavior_views.arena_background,
        name="arena-background",
    ),
    path(
        "tracking-runs/<int:run_id>/analysis/",
        behavior_views.run_analysis_page,
        name="run-analysis",
    ),
]
