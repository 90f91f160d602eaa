from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:project_id>/evaluation/", views.evaluation_home, name="evaluation-home"),
]
