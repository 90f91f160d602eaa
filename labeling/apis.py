"""REST endpoints for projects, members and label classes (thin: services do the work)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import validated

from . import account_services, services
from .models import ProjectMembership, Role
from .selectors import project_for_user, projects_visible_to
from .serializers import (
    LabelClassInput,
    LabelClassOutput,
    MemberAccountInput,
    MemberAccountOutput,
    MemberRoleInput,
    MemberSetInput,
    MembershipOutput,
    ProjectCreateInput,
    ProjectOutput,
    ProjectUpdateInput,
)


def _roles(user) -> dict[int, str]:
    return dict(ProjectMembership.objects.filter(user=user).values_list("project_id", "role"))


class ProjectListApi(APIView):
    @extend_schema(responses=ProjectOutput(many=True))
    def get(self, request):
        projects = projects_visible_to(request.user).prefetch_related("classes")
        data = ProjectOutput(projects, many=True, context={"roles": _roles(request.user)}).data
        return Response(data)

    @extend_schema(request=ProjectCreateInput, responses={201: ProjectOutput})
    def post(self, request):
        data = validated(ProjectCreateInput, request.data)
        project = services.project_create(owner=request.user, **data)
        out = ProjectOutput(project, context={"roles": {project.pk: Role.OWNER}})
        return Response(out.data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    @extend_schema(responses=ProjectOutput)
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        return Response(ProjectOutput(project, context={"roles": _roles(request.user)}).data)

    @extend_schema(request=ProjectUpdateInput, responses=ProjectOutput)
    def patch(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        data = validated(ProjectUpdateInput, request.data, partial=True)
        project = services.project_update(project=project, **data)
        return Response(ProjectOutput(project, context={"roles": _roles(request.user)}).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        services.project_delete(project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListApi(APIView):
    @extend_schema(responses=MembershipOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        memberships = project.memberships.select_related("user")
        return Response(MembershipOutput(memberships, many=True).data)

    @extend_schema(request=MemberSetInput, responses={201: MembershipOutput})
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        data = validated(MemberSetInput, request.data)
        membership = services.member_set(project=project, **data)
        return Response(MembershipOutput(membership).data, status=status.HTTP_201_CREATED)


class MemberAccountCreateApi(APIView):
    @extend_schema(
        request=MemberAccountInput,
        responses={201: MemberAccountOutput},
        description="Owners: create an account for a labmate (never staff) and add it with "
        "a role. Without a password a temporary one is generated and answered once.",
    )
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        data = validated(MemberAccountInput, request.data)
        account = account_services.member_account_create(project=project, **data)
        response = Response(MemberAccountOutput(account).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"  # the answer may hold a password
        return response


class MemberDetailApi(APIView):
    @extend_schema(request=MemberRoleInput, responses=MembershipOutput)
    def patch(self, request, project_id: int, user_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        membership = get_object_or_404(project.memberships.select_related("user"), user_id=user_id)
        data = validated(MemberRoleInput, request.data)
        membership = services.member_set(
            project=project, username=membership.user.username, role=data["role"]
        )
        return Response(MembershipOutput(membership).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, project_id: int, user_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        get_object_or_404(project.memberships, user_id=user_id)
        services.member_remove(project=project, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelClassListApi(APIView):
    @extend_schema(responses=LabelClassOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        return Response(LabelClassOutput(project.classes.all(), many=True).data)

    @extend_schema(request=LabelClassInput, responses={201: LabelClassOutput})
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        data = validated(LabelClassInput, request.data)
        label_class = services.label_class_add(project=project, **data)
        return Response(LabelClassOutput(label_class).data, status=status.HTTP_201_CREATED)


class LabelClassDetailApi(APIView):
    @extend_schema(request=LabelClassInput, responses=LabelClassOutput)
    def patch(self, request, project_id: int, class_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        label_class = get_object_or_404(project.classes, pk=class_id)
        data = validated(LabelClassInput, request.data)
        label_class = services.label_class_rename(label_class=label_class, name=data["name"])
        return Response(LabelClassOutput(label_class).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, project_id: int, class_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        services.label_class_delete(label_class=get_object_or_404(project.classes, pk=class_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
