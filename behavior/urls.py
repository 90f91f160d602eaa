"""Pages of the behaviour analysis (included by webapp.urls; paths and names as they
were under the tracking app)."""

from django.urls import path

from .analysis import views as analysis_views
from .arenas import views as arena_views
from .experiment import views as experiment_views

urlpatterns = [
    path(
        "projects/<id:project_id>/experiment/",
        experiment_views.experiment_page,
        name="experiment",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/arena/",
        arena_views.arena_page,
        name="arena-setup",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/arena/background.jpg",
        arena_views.arena_background,
        name="arena-background",
    ),
    path(
        "tracking-runs/<id:run_id>/analysis/",
        analysis_views.run_analysis_page,
        name="run-analysis",
    ),
]
