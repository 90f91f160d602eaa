"""Video pages: the project's frame sources with the upload drop zone, one video's page
(player, frame scrubber, sampling, frames), and the permission-checked media behind them.

Media is never served from MEDIA_URL: every file goes through a view that first resolves
the project through the user's memberships (non-members get 404).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST, require_safe

from webapp.ranged import local_file_ranges, ranged_response, stored_file_ranges

from ..access import can_write, project_page, project_render
from ..models import FrameSamplingJob, Role, Video
from . import sampling_services, services
from .deletion import confirm_parse, video_deletion_preview
from .selectors import (
    active_sampling_job,
    sampling_jobs_of,
    video_annotated_frame_count,
    video_frames,
    video_list_with_counts,
    video_reach_warnings,
    video_with_counts,
)

FRAMES_PER_PAGE = 96
# Served Content-Type by stored extension: chosen by the server, never sniffed.
VIDEO_CONTENT_TYPES = {
    "mp4": "video/mp4",
    # Registered files keep their own names; the probe already found an ISO-BMFF container.
    "mov": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
    "mkv": "video/x-matroska",
    "mpg": "video/mpeg",
    "ts": "video/mp2t",
}


@project_page(Role.VIEWER)
def video_list(request, project):
    videos = list(video_list_with_counts(project=project))
    return project_render(
        request,
        "labeling/video_list.html",
        project=project,
        nav="videos",
        videos=videos,
        # The page polls itself while frames are being sampled (static/labeling/videos.js).
        sampling=any(v.active_jobs for v in videos),
        max_upload_bytes=settings.MAX_UPLOAD_BYTES,
        max_files=settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        can_register=bool(settings.SHARED_VIDEO_ROOTS),
        shared_roots=[str(r) for r in settings.SHARED_VIDEO_ROOTS],
        default_seconds=sampling_services.DEFAULT_SAMPLE_SECONDS,
    )


@project_page(Role.VIEWER)
def video_detail(request, project, video_id: int):
    video = video_with_counts(video=get_object_or_404(project.videos, pk=video_id))
    frames_page = Paginator(video_frames(video=video), FRAMES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    active = active_sampling_job(video=video)
    annotated = video_annotated_frame_count(video=video)
    return project_render(
        request,
        "labeling/video_detail.html",
        project=project,
        nav="videos",
        video=video,
        frames_page=frames_page,
        jobs=sampling_jobs_of(video=video),
        active_job=active,
        annotated_count=annotated,
        deletion=(
            video_deletion_preview(video=video, labeled_frames=annotated)
            if can_write(request)
            else None
        ),
        strategies=FrameSamplingJob.Strategy,
        default_seconds=sampling_services.DEFAULT_SAMPLE_SECONDS,
        reach_warnings=video_reach_warnings(video=video),
    )


@require_POST
@project_page(Role.ANNOTATOR)
def video_delete(request, project, video_id: int):
    video = get_object_or_404(project.videos, pk=video_id)
    name = video.original_name
    try:
        confirm = confirm_parse(request.POST.get("confirm"))
        deletion = services.video_delete(video=video, confirm=confirm)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("video-detail", project.pk, video.pk)
    if deletion.hidden:
        messages.success(request, f"“{name}” was deleted. {deletion.message}")
    else:
        messages.success(request, f"“{name}” was deleted.")
    return redirect("video-list", project.pk)


@require_safe
@project_page(Role.VIEWER)
def video_file(request, project, video_id: int):
    """The video's bytes for the page's <video> player, with HTTP Range support (the
    player seeks by asking for byte ranges; Django's FileResponse ignores them).

    Served by the app on every storage, after the permission check above: on object
    storage each range is one ranged GET of the object, so the player works under the
    app's own CSP (``media-src 'self'``) and no bucket URL ever reaches the browser."""
    video = get_object_or_404(project.videos, pk=video_id, kind=Video.Kind.VIDEO)
    if video.external_path:
        try:
            path = services.shared_video_path(video.external_path)
        except ValidationError:
            raise Http404("The registered file is no longer available.") from None
        ext = path.suffix.lower().lstrip(".")
        source = local_file_ranges(path)
    else:
        if not video.file:
            raise Http404("No video file.")
        ext = video.file.name.rsplit(".", 1)[-1].lower()
        source = stored_file_ranges(video.file.name)
    if source is None:
        raise Http404("The video file is missing.")
    content_type = VIDEO_CONTENT_TYPES.get(ext, "application/octet-stream")
    return ranged_response(
        request, source, content_type=content_type, filename=f"video-{video.pk}.{ext}"
    )


@require_safe
@project_page(Role.VIEWER)
def video_thumbnail(request, project, video_id: int):
    video = get_object_or_404(project.videos, pk=video_id)
    if not video.thumbnail:
        raise Http404("No thumbnail.")
    try:
        handle = video.thumbnail.open("rb")
    except FileNotFoundError:
        raise Http404("The thumbnail is missing.") from None
    # Thumbnails are JPEGs the server wrote itself.
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response
