from django.urls import path

from . import views

urlpatterns = [
    path("projects/<int:project_id>/tracking/", views.tracking_home, name="tracking-home"),
]
