from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:project_id>/training/", views.training_list, name="training-list"),
    path("projects/<id:project_id>/training/new/", views.training_new, name="training-new"),
    path("training/jobs/<id:job_id>/", views.training_job_detail, name="training-job-detail"),
    path(
        "training/jobs/<id:job_id>/cancel/", views.training_job_cancel, name="training-job-cancel"
    ),
    path("training/jobs/<id:job_id>/retry/", views.training_job_retry, name="training-job-retry"),
    path("training/models/<id:model_id>/", views.trained_model_detail, name="trained-model-detail"),
    path(
        "training/models/<id:model_id>/delete/",
        views.trained_model_delete,
        name="trained-model-delete",
    ),
]
