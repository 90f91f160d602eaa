from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:project_id>/training/", views.training_list, name="training-list"),
    path("projects/<int:project_id>/training/new/", views.training_new, name="training-new"),
    path("training/jobs/<int:job_id>/", views.training_job_detail, name="training-job-detail"),
    path(
        "training/jobs/<int:job_id>/cancel/", views.training_job_cancel, name="training-job-cancel"
    ),
    path("training/jobs/<int:job_id>/retry/", views.training_job_retry, name="training-job-retry"),
    path(
        "training/models/<int:model_id>/", views.trained_model_detail, name="trained-model-detail"
    ),
]
