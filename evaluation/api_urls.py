from django.urls import path

from . import apis

urlpatterns = [
    path(
        "models/<id:model_id>/evaluations/",
        apis.ModelEvaluationListApi.as_view(),
        name="api-model-evaluations",
    ),
    path(
        "evaluations/<id:run_id>/",
        apis.EvaluationRunDetailApi.as_view(),
        name="api-evaluation-detail",
    ),
    path(
        "evaluations/<id:run_id>/predictions/",
        apis.EvaluationPredictionListApi.as_view(),
        name="api-evaluation-predictions",
    ),
    path(
        "evaluations/<id:run_id>/metrics.csv",
        apis.EvaluationMetricsCsvApi.as_view(),
        name="api-evaluation-metrics-csv",
    ),
    path(
        "evaluations/<id:run_id>/metrics.json",
        apis.EvaluationMetricsJsonApi.as_view(),
        name="api-evaluation-metrics-json",
    ),
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
