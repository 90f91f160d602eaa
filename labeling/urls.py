from django.urls import path

from . import views
from .annotations import skeleton_views
from .datasets import views as dataset_views
from .videos import views as video_views

urlpatterns = [
    path("projects/", views.project_list, name="project-list"),
    path("projects/<id:project_id>/", views.project_detail, name="project-detail"),
    path("projects/<id:project_id>/members/", views.member_add, name="member-add"),
    path(
        "projects/<id:project_id>/accounts/",
        views.member_account_create,
        name="member-account-create",
    ),
    path(
        "projects/<id:project_id>/members/<id:user_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path("projects/<id:project_id>/classes/", views.label_class_add, name="class-add"),
    path(
        "projects/<id:project_id>/classes/<id:class_id>/delete/",
        views.label_class_delete,
        name="class-delete",
    ),
    path("projects/<id:project_id>/split/", views.project_split_settings, name="project-split"),
    path(
        "projects/<id:project_id>/skeleton/",
        skeleton_views.project_skeleton_settings,
        name="project-skeleton",
    ),
    path("projects/<id:project_id>/videos/", video_views.video_list, name="video-list"),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/",
        video_views.video_detail,
        name="video-detail",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/file",
        video_views.video_file,
        name="video-file",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/thumbnail",
        video_views.video_thumbnail,
        name="video-thumbnail",
    ),
    path(
        "projects/<id:project_id>/videos/<id:video_id>/delete/",
        video_views.video_delete,
        name="video-delete",
    ),
    path("projects/<id:project_id>/label/", views.label_editor, name="label-editor"),
    # The dataset page: counts, export, import, split assignment.
    path("projects/<id:project_id>/dataset/", dataset_views.dataset_page, name="dataset"),
    path(
        "projects/<id:project_id>/dataset/export/",
        dataset_views.dataset_export,
        name="dataset-export",
    ),
    path(
        "projects/<id:project_id>/dataset/exports/",
        dataset_views.dataset_export_start,
        name="dataset-export-start",
    ),
    path(
        "projects/<id:project_id>/dataset/import/",
        dataset_views.dataset_import_upload,
        name="dataset-import",
    ),
    path(
        "projects/<id:project_id>/dataset/splits/",
        dataset_views.dataset_assign_splits,
        name="dataset-splits",
    ),
]
