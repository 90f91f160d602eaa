from django.urls import include, path

from . import views

job_pages = [
    path("", views.training_job_detail, name="training-job-detail"),
    path("cancel/", views.training_job_cancel, name="training-job-cancel"),
    path("retry/", views.training_job_retry, name="training-job-retry"),
]

urlpatterns = [
    path("projects/<id:project_id>/training/", views.training_list, name="training-list"),
    path("projects/<id:project_id>/training/new/", views.training_new, name="training-new"),
    path("training/jobs/<id:job_id>/", include(job_pages)),
    path("training/models/<id:model_id>/", views.trained_model_detail, name="trained-model-detail"),
    path(
        "training/models/<id:model_id>/delete/",
        views.trained_model_delete,
        name="trained-model-delete",
    ),
]
