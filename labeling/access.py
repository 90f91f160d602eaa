"""Project-scoped access for pages and API views.

Pages and endpoints never look a row up by id alone: they first resolve the project
through :func:`labeling.selectors.project_for_user`, which answers 404 to non-members.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Project, Role
from .selectors import has_role, project_for_user, role_of


def project_page(role: str = Role.VIEWER) -> Callable:
    """Decorate a view taking ``project_id``: it receives ``project`` instead.

    The request also gets ``request.project_role`` for templates (can the user write?).
    """

    def decorator(view: Callable) -> Callable:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, project_id: int, *args, **kwargs):
            project = project_for_user(user=request.user, project_id=project_id, role=role)
            request.project_role = role_of(user=request.user, project=project)
            return view(request, project, *args, **kwargs)

        return wrapper

    return decorator


def can_write(request: HttpRequest) -> bool:
    return getattr(request, "project_role", None) in (Role.ANNOTATOR, Role.OWNER)


def project_render(
    request: HttpRequest, template: str, *, project: Project, nav: str, status: int = 200, **context
) -> HttpResponse:
    """A page of ``project`` under the ``nav`` tab: the template gets ``project``, ``nav``
    and ``can_write`` (annotator or owner) besides ``context``."""
    if hasattr(request, "project_role"):  # the page came through project_page
        writes = can_write(request)
    else:
        writes = has_role(user=request.user, project=project, role=Role.ANNOTATOR)
    page = {"project": project, "nav": nav, "can_write": writes, **context}
    return render(request, template, page, status=status)
