from django.urls import include, path

from . import apis

run_routes = [
    path("", apis.EvaluationRunDetailApi.as_view(), name="api-evaluation-detail"),
    path(
        "predictions/",
        apis.EvaluationPredictionListApi.as_view(),
        name="api-evaluation-predictions",
    ),
    path("metrics.csv", apis.EvaluationMetricsCsvApi.as_view(), name="api-evaluation-metrics-csv"),
    path(
        "metrics.json",
        apis.EvaluationMetricsJsonApi.as_view(),
        name="api-evaluation-metrics-json",
    ),
]

urlpatterns = [
    path(
        "models/<id:model_id>/evaluations/",
        apis.ModelEvaluationListApi.as_view(),
        name="api-model-evaluations",
    ),
    path("evaluations/<id:run_id>/", include(run_routes)),
    path(
        "projects/<id:project_id>/compare/",
        apis.ProjectCompareApi.as_view(),
        name="api-project-compare",
    ),
    path(
        "projects/<id:project_id>/compare.csv",
        apis.ProjectCompareCsvApi.as_view(),
        name="api-project-compare-csv",
    ),
]
