from django.urls import include, path

from . import views
from .datasets import views as dataset_views
from .videos import views as video_views

video_pages = [
    path("", video_views.video_detail, name="video-detail"),
    path("file", video_views.video_file, name="video-file"),
    path("thumbnail", video_views.video_thumbnail, name="video-thumbnail"),
    path("delete/", video_views.video_delete, name="video-delete"),
]

# The dataset page: counts, export, import, split assignment.
dataset_pages = [
    path("", dataset_views.dataset_page, name="dataset"),
    path("export/", dataset_views.dataset_export, name="dataset-export"),
    path("exports/", dataset_views.dataset_export_start, name="dataset-export-start"),
    path("import/", dataset_views.dataset_import_upload, name="dataset-import"),
    path("splits/", dataset_views.dataset_assign_splits, name="dataset-splits"),
]

project_pages = [
    path("", views.project_detail, name="project-detail"),
    path("members/", views.member_add, name="member-add"),
    path("accounts/", views.member_account_create, name="member-account-create"),
    path("members/<id:user_id>/remove/", views.member_remove, name="member-remove"),
    path("classes/", views.label_class_add, name="class-add"),
    path("classes/<id:class_id>/delete/", views.label_class_delete, name="class-delete"),
    path("split/", views.project_split_settings, name="project-split"),
    path("videos/", video_views.video_list, name="video-list"),
    path("videos/<id:video_id>/", include(video_pages)),
    path("label/", views.label_editor, name="label-editor"),
    path("dataset/", include(dataset_pages)),
]

urlpatterns = [
    path("projects/", views.project_list, name="project-list"),
    path("projects/<id:project_id>/", include(project_pages)),
]
