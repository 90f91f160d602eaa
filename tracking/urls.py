from django.urls import include, path

from . import views

run_pages = [
    path("", views.tracking_run_detail, name="tracking-run-detail"),
    path("cancel/", views.tracking_run_cancel, name="tracking-run-cancel"),
    path("retry/", views.tracking_run_retry, name="tracking-run-retry"),
    path("delete/", views.tracking_run_delete, name="tracking-run-delete"),
]

urlpatterns = [
    path("projects/<id:project_id>/tracking/", views.tracking_home, name="tracking-home"),
    path("tracking-runs/<id:run_id>/", include(run_pages)),
]
