"""Pages of the behaviour analysis (included by webapp.urls; paths and names as they
were under the tracking app)."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "projects/<id:project_id>/experiment/",
        views.experiment_page,
        name="experiment",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/arena/",
        views.arena_page,
        name="arena-setup",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/arena/background.jpg",
        views.arena_background,
        name="arena-background",
    ),
    path(
        "tracking-runs/<id:run_id>/analysis/",
        views.run_analysis_page,
        name="run-analysis",
    ),
]
