from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:project_id>/evaluation/", views.evaluation_home, name="evaluation-home"),
    path("projects/<int:project_id>/compare/", views.evaluation_compare, name="evaluation-compare"),
    path("models/<int:model_id>/evaluation/", views.model_evaluation, name="model-evaluation"),
    path("models/<int:model_id>/evaluations/new/", views.evaluation_start, name="evaluation-start"),
    path("evaluations/<int:run_id>/errors/", views.evaluation_errors, name="evaluation-errors"),
]
