"""Reads for the labeling editor: frames scoped to the user's projects, filters, counts."""

from __future__ import annotations

import operator
from functools import reduce

from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from webapp.bounds import DB_INT_MAX, bounded_int

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


# --- cursors: where a frame stands in a list, and the frames after or before it ---------
#: Columns a cursor cannot follow: they may be NULL, and databases disagree on where NULLs
#: sort, so "after this frame" would not be well defined.
_NULLABLE_COLUMNS = {"annotated_at"}


def _order_columns(frames: QuerySet[Frame]) -> list[tuple[str, bool]]:
    """The list's ORDER BY as ``(column, descending)``; it always ends with the id, so
    every frame has one place in it."""
    return [(c.removeprefix("-"), c.startswith("-")) for c in frames.query.order_by]


def _past(columns: list[tuple[str, bool]], values: dict, *, after: bool) -> Q:
    """Rows strictly after (or before) the row holding ``values`` in this order: the
    lexicographic comparison ``(c1, c2, ...) > (v1, v2, ...)`` spelled as an OR of ANDs."""
    clauses = []
    for i, (column, descending) in enumerate(columns):
        same = {c: values[c] for c, _ in columns[:i]}
        op = "gt" if after != descending else "lt"
        clauses.append(Q(**same, **{f"{column}__{op}": values[column]}))
    return reduce(operator.or_, clauses)


def frame_cursor(
    *, frames: QuerySet[Frame], scope: QuerySet[Frame], field: str, raw: str
) -> dict | None:
    """The ordering values of the frame ``raw`` names, for ``frames_past`` and
    ``frame_position``. The frame is looked up in ``scope`` (the project's frames): a frame
    that has left the filtered list since it was shown (it was labeled) still marks a place
    in it. None when there is no such frame; ValidationError on ``field`` for a value that
    is no frame id or an ordering a cursor cannot follow."""
    columns = _order_columns(frames)
    nullable = [c for c, _ in columns if c in _NULLABLE_COLUMNS]
    if nullable:
        raise ValidationError(
            {field: f"Cannot be combined with ordering by {nullable[0]} (it may be empty)."}
        )
    frame_id = bounded_int(raw, minimum=1, maximum=DB_INT_MAX)
    if frame_id is None:
        raise ValidationError({field: "Must be a frame id."})
    return scope.filter(pk=frame_id).values(*(c for c, _ in columns)).order_by().first()


def frame_order_values(frame: Frame, frames: QuerySet[Frame]) -> dict:
    """A fetched frame's values of the list's ordering columns (no query)."""
    return {c: getattr(frame, c) for c, _ in _order_columns(frames)}


def frames_past(frames: QuerySet[Frame], *, cursor: dict, before: bool = False) -> QuerySet:
    """The list's frames after the cursor, in list order; ``before``: those before it,
    nearest first (reverse list order), so that ``[:n]`` takes the n closest."""
    past = frames.filter(_past(_order_columns(frames), cursor, after=not before))
    return past.reverse() if before else past


def frame_position(frames: QuerySet[Frame], *, cursor: dict) -> int:
    """How many of the list's frames come before the cursor (its 0-based position when
    it is in the list): one COUNT, whatever the list's length."""
    return frames.filter(_past(_order_columns(frames), cursor, after=False)).count()


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
