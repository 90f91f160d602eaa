"""Writes to a frame's annotation: versioned, idempotent, all-or-nothing.

A frame's annotation is its boxes (with their keypoints, in a project with a skeleton) plus
``is_negative`` and ``status``; every accepted save replaces all of them at once and
increments ``Frame.annotation_version``. Boxes are in original-image pixels, ``(x, y)``
top-left corner plus ``w``/``h``; keypoints as :mod:`labeling.annotations.keypoints` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Box, Frame
from .geometry import PixelBox, clip_box, short_sides
from .keypoints import carried_keypoints, keypoints_clean
from .skeletons import skeleton_spec

MAX_BOXES_PER_FRAME = 1000


@dataclass(frozen=True)
class BoxInput:
    """A box as a client sent it: a LabelClass id and original-image pixels."""

    class_id: int
    x: float
    y: float
    w: float
    h: float
    # [[x, y, v], ...] in skeleton order; [] none; None (not sent): keep the stored box's
    # (see keypoints.carried_keypoints).
    keypoints: list | None = None


@dataclass(frozen=True)
class AnnotationState:
    """What the server holds for one frame; ``request_id`` is the last accepted save's."""

    frame_id: int
    version: int
    boxes: list[dict]  # [{"class_id", "x", "y", "w", "h"[, "keypoints"]}], image pixels
    is_negative: bool
    status: str
    request_id: str
    annotated_by: str | None
    annotated_at: datetime | None


class AnnotationConflict(Exception):
    """The save was based on an older version; ``current`` is the server's state.

    ``replayed`` marks a save reusing the last accepted save's ``request_id`` with other
    content: answering it with the stored result would silently drop the new content.
    """

    def __init__(self, current: AnnotationState, *, replayed: bool = False):
        super().__init__(f"Frame {current.frame_id} is at version {current.version}.")
        self.current = current
        self.replayed = replayed


def _same_content(
    state: AnnotationState,
    *,
    clipped: list[tuple[int, PixelBox]],
    points: list[list],
    is_negative: bool,
    status: str,
) -> bool:
    """Whether a save would store exactly ``state``'s boxes, flag and status."""
    stored = sorted(
        (b["class_id"], b["x"], b["y"], b["w"], b["h"], b.get("keypoints", [])) for b in state.boxes
    )
    sent = sorted(
        (class_id, b.x, b.y, b.w, b.h, kp)
        for (class_id, b), kp in zip(clipped, points, strict=True)
    )
    return (stored, state.is_negative, state.status) == (sent, is_negative, status)


def annotation_state(*, frame: Frame) -> AnnotationState:
    boxes = [
        # "keypoints" only on a box that has some: a boxes-only project's answers stay as
        # they were before pose.
        {
            "class_id": b.label_class_id,
            "x": b.x,
            "y": b.y,
            "w": b.w,
            "h": b.h,
            **({"keypoints": b.keypoints} if b.keypoints else {}),
        }
        for b in Box.objects.filter(frame_id=frame.pk).order_by("id")
    ]
    return AnnotationState(
        frame_id=frame.pk,
        version=frame.annotation_version,
        boxes=boxes,
        is_negative=frame.is_negative,
        status=frame.status,
        request_id=frame.last_request_id,
        annotated_by=frame.annotated_by.get_username() if frame.annotated_by else None,
        annotated_at=frame.annotated_at,
    )


def _validated_boxes(*, frame: Frame, boxes: list[BoxInput]) -> list[tuple[int, PixelBox]]:
    if len(boxes) > MAX_BOXES_PER_FRAME:
        raise ValidationError({"boxes": f"At most {MAX_BOXES_PER_FRAME} boxes per frame."})
    class_ids = set(frame.project.classes.values_list("id", flat=True))
    errors: dict[str, str] = {}
    clipped = []
    for i, box in enumerate(boxes):
        if box.class_id not in class_ids:
            errors[f"boxes[{i}].class_id"] = "No such class in this project."
            continue
        try:
            pixels = clip_box(
                PixelBox(box.x, box.y, box.w, box.h), width=frame.width, height=frame.height
            )
        except ValueError as exc:
            errors[f"boxes[{i}]"] = str(exc)
            continue
        clipped.append((box.class_id, pixels))
    if errors:
        raise ValidationError(errors)
    return clipped


def _validated_keypoints(*, frame: Frame, boxes: list[BoxInput]) -> list[list | None]:
    """Each box's keypoints checked against the project's skeleton (None: not sent)."""
    if all(b.keypoints is None for b in boxes):
        return [None] * len(boxes)
    skeleton = skeleton_spec(project=frame.project)
    errors: dict[str, str] = {}
    out: list[list | None] = []
    for i, box in enumerate(boxes):
        if box.keypoints is None:
            out.append(None)
            continue
        if skeleton is None and box.keypoints:
            errors[f"boxes[{i}].keypoints"] = "This project has no skeleton (boxes only)."
            continue
        count = len(skeleton.keypoints) if skeleton else 0
        try:
            out.append(
                keypoints_clean(box.keypoints, count=count, width=frame.width, height=frame.height)
            )
        except ValueError as exc:
            errors[f"boxes[{i}].keypoints"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return out


def _resolved_keypoints(
    *, frame: Frame, clipped: list[tuple[int, PixelBox]], sent: list[list | None]
) -> list[list]:
    if all(kp is not None for kp in sent):
        return list(sent)
    stored = [
        (b.label_class_id, (b.x, b.y, b.w, b.h), b.keypoints)
        for b in Box.objects.filter(frame_id=frame.pk).exclude(keypoints=[])
    ]
    return carried_keypoints(
        [
            (class_id, (b.x, b.y, b.w, b.h), kp)
            for (class_id, b), kp in zip(clipped, sent, strict=True)
        ],
        stored,
    )


def _check_new_box_sizes(
    *, frame: Frame, clipped: list[tuple[int, PixelBox]], min_side: float
) -> None:
    """Refuse new or changed boxes under ``min_side`` px; boxes already stored exactly so
    (an import's small boxes) stay, so such a frame can still be edited."""
    stored = {(b.label_class_id, b.x, b.y, b.w, b.h) for b in Box.objects.filter(frame_id=frame.pk)}
    errors: dict[str, str] = {}
    for i, (class_id, box) in enumerate(clipped):
        if (class_id, box.x, box.y, box.w, box.h) in stored:
            continue
        for side in short_sides(box, min_side=min_side):
            size = box.w if side == "w" else box.h
            errors[f"boxes[{i}].{side}"] = (
                f"The box is {size:g} px {'wide' if side == 'w' else 'high'} inside the image; "
                f"a new box needs at least {min_side:g} px on each side (a smaller one is "
                "usually a slip of the mouse)."
            )
    if errors:
        raise ValidationError(errors)


def _validated_status(*, status: str | None, has_content: bool) -> str:
    """``None`` derives the status from the content; an explicit one must agree with it."""
    if status is None:
        return Frame.Status.LABELED if has_content else Frame.Status.UNLABELED
    if status not in Frame.Status.values:
        raise ValidationError({"status": f"Status must be one of {', '.join(Frame.Status)}."})
    if status != Frame.Status.UNLABELED and not has_content:
        raise ValidationError(
            {
                "status": "A frame with no boxes must be marked “no animal” (is_negative) "
                "before it can be labeled or reviewed."
            }
        )
    if status == Frame.Status.UNLABELED and has_content:
        raise ValidationError({"status": "A frame with boxes or “no animal” is not unlabeled."})
    return status


def annotation_save(
    *,
    frame: Frame,
    user,
    version: int,
    boxes: list[BoxInput],
    is_negative: bool,
    status: str | None = None,
    request_id: str = "",
    min_new_side_px: float | None = None,
) -> AnnotationState:
    """Replace the frame's annotation if ``version`` is still the current one.

    Raises :class:`ValidationError` (field-named, nothing written) for bad input and
    :class:`AnnotationConflict` when another save got there first. A retry whose
    ``request_id`` is the frame's last accepted save returns that save's result instead
    of writing again (an autosave whose response was lost); the same ``request_id`` with
    different content is an :class:`AnnotationConflict` with ``replayed`` set.

    ``min_new_side_px`` (the editor's saves): a box not already stored on the frame must
    have at least that many pixels on each side inside the image, else a
    :class:`ValidationError` naming ``boxes[i].w``/``.h``.
    """
    clipped = _validated_boxes(frame=frame, boxes=boxes)
    sent_points = _validated_keypoints(frame=frame, boxes=boxes)
    if is_negative and clipped:
        raise ValidationError({"is_negative": "A frame marked “no animal” cannot have boxes."})
    status = _validated_status(status=status, has_content=bool(clipped) or is_negative)

    with transaction.atomic():
        # The row lock serialises saves to one frame: a concurrent writer waits here, then
        # sees the new version and gets a conflict (PostgreSQL re-reads the locked row; on
        # SQLite the IMMEDIATE transaction already holds the write lock).
        # of=("self",): PostgreSQL cannot lock the nullable side of the annotated_by join.
        locked = (
            Frame.objects.select_for_update(of=("self",))
            .select_related("annotated_by")
            .get(pk=frame.pk)
        )
        points = _resolved_keypoints(frame=locked, clipped=clipped, sent=sent_points)
        if request_id and locked.last_request_id == request_id:
            stored = annotation_state(frame=locked)
            same = _same_content(
                stored, clipped=clipped, points=points, is_negative=is_negative, status=status
            )
            if not same or stored.version != version + 1:
                raise AnnotationConflict(stored, replayed=True)
            return stored
        if locked.annotation_version != version:
            raise AnnotationConflict(annotation_state(frame=locked))
        if min_new_side_px is not None:
            # Under the lock: "already stored" means in the version this save replaces.
            _check_new_box_sizes(frame=locked, clipped=clipped, min_side=min_new_side_px)
        Box.objects.filter(frame_id=locked.pk).delete()
        Box.objects.bulk_create(
            Box(
                frame_id=locked.pk,
                label_class_id=class_id,
                x=b.x,
                y=b.y,
                w=b.w,
                h=b.h,
                keypoints=kp,
            )
            for (class_id, b), kp in zip(clipped, points, strict=True)
        )
        locked.annotation_version = version + 1
        locked.is_negative = is_negative
        locked.status = status
        locked.last_request_id = request_id
        locked.annotated_by = user
        locked.annotated_at = timezone.now()
        locked.save(
            update_fields=[
                "annotation_version",
                "is_negative",
                "status",
                "last_request_id",
                "annotated_by",
                "annotated_at",
            ]
        )
        return annotation_state(frame=locked)
