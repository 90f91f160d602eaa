"""Pages of the behaviour analysis (included by webapp.urls; paths and names as they
were under the tracking app)."""

from django.urls import include, path

from .analysis import views as analysis_views
from .arenas import views as arena_views
from .experiment import views as experiment_views

arena_pages = [
    path("", arena_views.arena_page, name="arena-setup"),
    path("background.jpg", arena_views.arena_background, name="arena-background"),
]

urlpatterns = [
    path(
        "projects/<id:project_id>/experiment/", experiment_views.experiment_page, name="experiment"
    ),
    path("projects/<id:project_id>/videos/<id:video_id>/arena/", include(arena_pages)),
    path(
        "tracking-runs/<id:run_id>/analysis/", analysis_views.run_analysis_page, name="run-analysis"
    ),
]
