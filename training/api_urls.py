from django.urls import path

from webapp.jobs.apis import job_urls

from . import apis

urlpatterns = [
    path("training-presets/", apis.PresetListApi.as_view(), name="api-training-presets"),
    path(
        "projects/<id:project_id>/training-jobs/",
        apis.TrainingJobListApi.as_view(),
        name="api-training-job-list",
    ),
    job_urls(
        "training-jobs/<id:job_id>/",
        "api-training-job",
        apis.TrainingJobDetailApi,
        apis.TrainingJobCancelApi,
        apis.TrainingJobRetryApi,
        detail_name="api-training-job-detail",
    ),
    path(
        "projects/<id:project_id>/models/",
        apis.TrainedModelListApi.as_view(),
        name="api-model-list",
    ),
    path("models/<id:model_id>/", apis.TrainedModelDetailApi.as_view(), name="api-model-detail"),
    path(
        "models/<id:model_id>/download/",
        apis.TrainedModelDownloadApi.as_view(),
        name="api-model-download",
    ),
    path("models/<id:model_id>/card/", apis.TrainedModelCardApi.as_view(), name="api-model-card"),
]
