"""Reads shared by pages, the API and tasks: above all, what a user may see."""

from __future__ import annotations

from typing import Generic, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, Q, QuerySet
from django.http import Http404

from webapp.bounds import bounded_int

from .models import ROLE_RANK, Project, ProjectMembership, Role

M = TypeVar("M", bound=Model)


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


def require_role(*, user, project: Project | int, role: str) -> None:
    """Raise :class:`PermissionDenied` (403) unless ``user`` holds at least ``role``."""
    if not has_role(user=user, project=project, role=role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in the project.")


def project_for_user(*, user, project_id: int | str, role: str = Role.VIEWER) -> Project:
    """The project if ``user`` holds at least ``role`` in it.

    A non-member gets 404 (the project's existence is not revealed); a member with too
    small a role gets :class:`PermissionDenied` (403).
    """
    return object_for_user(
        Project.objects.all(),
        user=user,
        pk=project_id,
        role=role,
        what="project",
        project_path="",
    )


def object_for_user(
    queryset: QuerySet[M],
    *,
    user,
    pk: int | str,
    what: str,
    role: str = Role.VIEWER,
    project_path: str = "project",
) -> M:
    """The row ``pk`` of ``queryset`` if ``user`` holds at least ``role`` in its project.

    ``project_path`` is the lookup from the row to its project (``"video__project"``;
    ``""`` for a project itself). A non-member gets 404 "No such <what>." whether or not
    the row exists; a member with too small a role gets 403. Every id-bearing page and
    endpoint goes through here, so lists and details are scoped the same way.
    """
    in_visible = f"{project_path}__in" if project_path else "pk__in"
    # Ids past the database's range (a <int:> path, a query string) are a 404 here, not an
    # OverflowError (SQLite) or DataError (PostgreSQL) from the query.
    if (row_id := bounded_int(pk)) is None:
        raise Http404(f"No such {what}.")
    try:
        obj = queryset.filter(**{in_visible: projects_visible_to(user)}).get(pk=row_id)
    except queryset.model.DoesNotExist:
        raise Http404(f"No such {what}.") from None
    if role != Role.VIEWER:  # being a member, which the filter checked, is enough to read
        require_role(user=user, project=_project_id_of(obj, project_path), role=role)
    return obj


class RowForUser(Generic[M]):
    """A permission-scoped lookup declared once: ``lookup(user=..., <id_name>=...,
    role=...)`` is :func:`object_for_user` on ``queryset`` (404 "No such <what>." to
    non-members, 403 below ``role``). Every ``<thing>_for_user`` of the apps is one of
    these, so each says only what it looks up, its id's name and its path to the project.
    """

    def __init__(
        self, queryset: QuerySet[M], *, id_name: str, what: str, project_path: str = "project"
    ) -> None:
        self.queryset = queryset
        self.id_name = id_name
        self.what = what
        self.project_path = project_path

    def __call__(self, *, user, role: str = Role.VIEWER, **row_id: int | str) -> M:
        if set(row_id) != {self.id_name}:
            raise TypeError(f"Looking up a {self.what} takes user, {self.id_name} and role.")
        return object_for_user(
            self.queryset,
            user=user,
            pk=row_id[self.id_name],
            role=role,
            what=self.what,
            project_path=self.project_path,
        )


def _project_id_of(obj: Model, project_path: str) -> int:
    """Follow ``project_path`` (``"video__project"``) from ``obj`` to its project's id."""
    if not project_path:
        return obj.pk
    *hops, last = project_path.split("__")
    for hop in hops:
        obj = getattr(obj, hop)
    return getattr(obj, f"{last}_id")


def project_list_with_counts(*, user) -> QuerySet[Project]:
    return projects_visible_to(user).annotate(
        video_count=Count("videos", distinct=True),
        frame_count=Count("frames", distinct=True),
        labeled_count=Count("frames", filter=~Q(frames__status="unlabeled"), distinct=True),
    )
