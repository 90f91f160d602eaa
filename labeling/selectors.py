"""Reads shared by pages, the API and tasks: above all, what a user may see."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from .models import ROLE_RANK, Project, ProjectMembership, Role


def projects_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Project]:
    """Projects the user is a member of (staff see nothing extra: data is per lab)."""
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user)


def role_of(*, user: AbstractBaseUser | AnonymousUser, project: Project) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        ProjectMembership.objects.filter(project=project, user=user)
        .values_list("role", flat=True)
        .first()
    )


def has_role(*, user, project: Project, role: str) -> bool:
    actual = role_of(user=user, project=project)
    return actual is not None and ROLE_RANK[Role(actual)] >= ROLE_RANK[Role(role)]


def project_for_user(*, user, project_id: int | str, role: str = Role.VIEWER) -> Project:
    """The project if ``user`` holds at least ``role`` in it.

    A non-member gets 404 (the project's existence is not revealed); a member with too
    small a role gets :class:`PermissionDenied` (403).
    """
    from django.core.exceptions import PermissionDenied

    try:
        project = projects_visible_to(user).get(pk=int(project_id))
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("No such project.") from None
    if not has_role(user=user, project=project, role=role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in the project.")
    return project


def project_list_with_counts(*, user) -> QuerySet[Project]:
    return projects_visible_to(user).annotate(
        video_count=Count("videos", distinct=True),
        frame_count=Count("frames", distinct=True),
        labeled_count=Count("frames", filter=~Q(frames__status="unlabeled"), distinct=True),
    )
