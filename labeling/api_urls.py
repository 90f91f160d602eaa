from django.urls import path

from . import apis

urlpatterns = [
    path("projects/", apis.ProjectListApi.as_view(), name="api-project-list"),
    path("projects/<int:project_id>/", apis.ProjectDetailApi.as_view(), name="api-project-detail"),
    path("projects/<int:project_id>/members/", apis.MemberListApi.as_view(),
         name="api-member-list"),
    path("projects/<int:project_id>/members/<int:user_id>/", apis.MemberDetailApi.as_view(),
         name="api-member-detail"),
    path("projects/<int:project_id>/classes/", apis.LabelClassListApi.as_view(),
         name="api-class-list"),
    path("projects/<int:project_id>/classes/<int:class_id>/", apis.LabelClassDetailApi.as_view(),
         name="api-class-detail"),
]
