"""Reads for the labeling editor: frames scoped to the user's projects, filters, counts."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from webapp.bounds import bounded_int

from ..models import Box, Frame, Project, Role, Split
from ..selectors import object_for_user

#: ``?ordering=`` values the frame list accepts (each also with a leading ``-``), and the
#: columns they sort by. Anything else is refused so a query cannot order by, and so probe,
#: unrelated columns (``?ordering=project__created_by__password``).
FRAME_ORDERINGS: dict[str, tuple[str, ...]] = {
    "frame_index": ("video_id", "frame_index"),
    "video": ("video_id", "frame_index"),
    "timestamp": ("video_id", "timestamp_s"),
    "id": ("id",),
    "created_at": ("created_at",),
    "annotated_at": ("annotated_at",),
    "status": ("status",),
}
#: ``?split=`` values; ``none`` selects frames not assigned to a split.
SPLIT_FILTERS = {"train": Split.TRAIN, "val": Split.VAL, "test": Split.TEST, "none": Split.NONE}


def frame_for_user(
    *, user, frame_id: int | str, role: str = Role.VIEWER, include_hidden: bool = False
) -> Frame:
    """The frame if ``user`` holds at least ``role`` in its project (404 / 403 otherwise).
    ``include_hidden``: also a frame kept only for dataset versions (its video deleted)."""
    manager = Frame.all_objects if include_hidden else Frame.objects
    return object_for_user(
        manager.select_related("project", "video", "annotated_by"),
        user=user,
        pk=frame_id,
        role=role,
        what="frame",
    )


def frame_list(
    *, project: Project, status: str = "", video: str = "", split: str = "", ordering: str = ""
) -> QuerySet[Frame]:
    """The project's frames, filtered; raises a field-named ValidationError on bad values.

    ``box_count`` is a correlated subquery, not a join with GROUP BY: at 13,622 frames the
    grouped join made every page (and the paginator's count) aggregate the whole project
    before the offset, and far pages took about a second."""
    boxes = (
        Box.objects.filter(frame=OuterRef("pk"))
        .order_by()
        .values("frame")
        .annotate(n=Count("id"))
        .values("n")
    )
    frames = project.frames.select_related("video").annotate(
        box_count=Coalesce(Subquery(boxes, output_field=IntegerField()), 0)
    )
    if status:
        if status not in Frame.Status.values:
            raise ValidationError({"status": f"Must be one of {', '.join(Frame.Status)}."})
        frames = frames.filter(status=status)
    if video:
        if (video_id := bounded_int(video)) is None:
            raise ValidationError({"video": "Must be a video id."})
        frames = frames.filter(video_id=video_id)
    if split:
        if split not in SPLIT_FILTERS:
            raise ValidationError({"split": f"Must be one of {', '.join(SPLIT_FILTERS)}."})
        frames = frames.filter(split=SPLIT_FILTERS[split])
    key = ordering.removeprefix("-")
    if ordering and key not in FRAME_ORDERINGS:
        allowed = ", ".join(sorted(FRAME_ORDERINGS))
        raise ValidationError({"ordering": f"Must be one of {allowed} (optionally with -)."})
    columns = FRAME_ORDERINGS[key] if ordering else FRAME_ORDERINGS["frame_index"]
    sign = "-" if ordering.startswith("-") else ""
    return frames.order_by(*(sign + c for c in columns), sign + "id")


def annotation_counts(*, project: Project) -> dict:
    """Frames per status, split and video, and boxes/frames per class, for the editor."""
    by_status = dict(project.frames.values_list("status").annotate(n=Count("id")).order_by())
    by_split = dict(project.frames.values_list("split").annotate(n=Count("id")).order_by())
    labeled = ~Q(frames__status=Frame.Status.UNLABELED)
    videos = project.videos.annotate(
        n_frames=Count("frames"), n_labeled=Count("frames", filter=labeled)
    ).order_by("original_name", "id")
    per_class = {
        row["label_class_id"]: row
        for row in Box.objects.filter(frame__project=project)
        .values("label_class_id")
        .annotate(boxes=Count("id"), frames=Count("frame_id", distinct=True))
        .order_by()
    }
    return {
        "total": sum(by_status.values()),
        "status": {s: by_status.get(s, 0) for s in Frame.Status.values},
        "split": {name: by_split.get(value, 0) for name, value in SPLIT_FILTERS.items()},
        "classes": [
            {
                "id": c.pk,
                "name": c.name,
                "index": c.index,
                "color": c.color,
                "boxes": per_class.get(c.pk, {}).get("boxes", 0),
                "frames": per_class.get(c.pk, {}).get("frames", 0),
            }
            for c in project.classes.all()
        ],
        "videos": [
            {"id": v.pk, "name": v.original_name, "frames": v.n_frames, "labeled": v.n_labeled}
            for v in videos
        ],
    }
