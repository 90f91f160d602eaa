from django.urls import path

from . import views

urlpatterns = [
    path("projects/<id:project_id>/evaluation/", views.evaluation_home, name="evaluation-home"),
    path("projects/<id:project_id>/compare/", views.evaluation_compare, name="evaluation-compare"),
    path("models/<id:model_id>/evaluation/", views.model_evaluation, name="model-evaluation"),
    path("models/<id:model_id>/evaluations/new/", views.evaluation_start, name="evaluation-start"),
    path("evaluations/<id:run_id>/errors/", views.evaluation_errors, name="evaluation-errors"),
]
