from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:project_id>/training/", views.training_list, name="training-list"),
]
