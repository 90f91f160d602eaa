"""Pages of arenas: a video's arena editor and the still it is drawn on.

Pages render the frame of the page; the data comes from the JSON API through
static/tracking/arena.js (no inline script: the CSP forbids it).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from behavior.models import ArenaTemplate, CalibrationMethod, Membership
from labeling.access import project_page, project_render
from labeling.models import Role, Video
from tracking.selectors import finished_runs_of_project

from .frames import arena_background_jpeg

NAV = "experiment"  # the navigation entry the behaviour pages sit under


@project_page(Role.VIEWER)
def arena_page(request: HttpRequest, project, video_id: int):
    """Draw a video's zones and calibration over a still of it."""
    video = get_object_or_404(project.videos, pk=video_id, kind=Video.Kind.VIDEO)
    run = finished_runs_of_project(project=project).filter(video=video).first()
    return project_render(
        request,
        "tracking/arena.html",
        project=project,
        nav=NAV,
        video=video,
        run=run,
        templates=ArenaTemplate.objects.filter(project=project),
        calibration_methods=CalibrationMethod.choices,
        memberships=Membership.choices,
    )


@require_safe
@project_page(Role.VIEWER)
def arena_background(request: HttpRequest, project, video_id: int):
    """A still of the video at its original size (the arena editor's background)."""
    video = get_object_or_404(project.videos, pk=video_id, kind=Video.Kind.VIDEO)
    jpeg = arena_background_jpeg(video=video)
    if jpeg is None:
        raise Http404("The video has no stored image yet.")
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response
