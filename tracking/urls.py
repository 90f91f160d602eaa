from django.urls import path

from . import behavior_views, views

urlpatterns = [
    path("projects/<int:project_id>/tracking/", views.tracking_home, name="tracking-home"),
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
