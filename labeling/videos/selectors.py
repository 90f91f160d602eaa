"""Reads for the video pages and API: frame sources, sampling jobs, counts; always scoped
through the user's projects (non-members get 404, too small a role 403)."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from webapp.models import TERMINAL_STATUSES

from ..models import Box, Frame, FrameSamplingJob, ImageSetImportJob, Project, Video, VideoUploadJob
from ..selectors import RowForUser

# The frame source (a video or an image set).
video_for_user = RowForUser(
    Video.objects.select_related("project", "created_by"), id_name="video_id", what="video"
)
sampling_job_for_user = RowForUser(
    FrameSamplingJob.objects.select_related("video", "video__project"),
    id_name="job_id",
    what="sampling job",
    project_path="video__project",
)
imageset_job_for_user = RowForUser(
    ImageSetImportJob.objects.select_related("project", "video"),
    id_name="job_id",
    what="image set job",
)
video_upload_job_for_user = RowForUser(
    VideoUploadJob.objects.select_related("project", "video"),
    id_name="job_id",
    what="upload job",
)


def video_list_with_counts(*, project: Project) -> QuerySet[Video]:
    """The project's frame sources, newest first, with frames sampled and labeled."""
    return (
        project.videos.select_related("created_by")
        .annotate(
            frames_sampled=Count("frames", distinct=True),
            frames_labeled=Count(
                "frames",
                filter=~Q(frames__status=Frame.Status.UNLABELED),
                distinct=True,
            ),
            active_jobs=Count(
                "sampling_jobs",
                filter=~Q(sampling_jobs__status__in=TERMINAL_STATUSES),
                distinct=True,
            ),
        )
        .order_by("-created_at", "-id")
    )


def video_with_counts(*, video: Video) -> Video:
    return video_list_with_counts(project=video.project).get(pk=video.pk)


def video_frames(*, video: Video) -> QuerySet[Frame]:
    """The video's frames in index order, each with its box count."""
    return video.frames.annotate(box_count=Count("boxes")).order_by("frame_index")


def video_annotated_frame_count(*, video: Video) -> int:
    """Frames a person said something about: boxes, a labeled negative, or a status past
    "unlabeled". Those are never deleted silently."""
    has_boxes = Exists(Box.objects.filter(frame=OuterRef("pk")))
    return video.frames.filter(
        has_boxes | Q(is_negative=True) | ~Q(status=Frame.Status.UNLABELED)
    ).count()


def sampling_jobs_of(*, video: Video, limit: int = 10) -> list[FrameSamplingJob]:
    return list(video.sampling_jobs.order_by("-created_at", "-id")[:limit])


def active_sampling_job(*, video: Video) -> FrameSamplingJob | None:
    return (
        video.sampling_jobs.exclude(status__in=TERMINAL_STATUSES)
        .order_by("-created_at", "-id")
        .first()
    )


# What each queue does with a registered file, read in place by its workers.
_READ_IN_PLACE_BY = {"default": "sampling frames", "gpu": "tracking and pre-labeling"}


def video_reach_warnings(*, video: Video) -> list[str]:
    """For a video registered in place: which queues' workers cannot read its file (they
    report the shared folders they can read), each as a sentence for the user."""
    from webapp.worker_devices import queues_unable_to_read

    if not video.external_path:
        return []
    queues = queues_unable_to_read(video.external_path, tuple(_READ_IN_PLACE_BY))
    return [
        f"No worker on the '{queue}' queue can read {video.external_path} (it is outside the "
        f"shared folders those workers can read), so {_READ_IN_PLACE_BY[queue]} of this video "
        "would fail: mount the folder on those machines and list it in their "
        "SHARED_VIDEO_ROOTS."
        for queue in queues or []
    ]
