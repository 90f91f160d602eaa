from django.urls import path

from . import views

urlpatterns = [
    path("projects/", views.project_list, name="project-list"),
    path("projects/<int:project_id>/", views.project_detail, name="project-detail"),
    path("projects/<int:project_id>/members/", views.member_add, name="member-add"),
    path("projects/<int:project_id>/members/<int:user_id>/remove/", views.member_remove,
         name="member-remove"),
    path("projects/<int:project_id>/classes/", views.label_class_add, name="class-add"),
    path("projects/<int:project_id>/classes/<int:class_id>/delete/", views.label_class_delete,
         name="class-delete"),
    path("projects/<int:project_id>/split/", views.project_split_settings, name="project-split"),
    path("projects/<int:project_id>/videos/", views.video_list, name="video-list"),
    path("projects/<int:project_id>/label/", views.label_editor, name="label-editor"),
]
