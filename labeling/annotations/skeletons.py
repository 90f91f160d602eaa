"""A project's pose skeleton: read it, set it, remove it.

Keypoints are stored on each box by position in the skeleton (see
:mod:`labeling.annotations.keypoints`), so a change that would remove or move a keypoint
that has labels is refused (a ValidationError naming ``keypoints``); renaming one, changing
edges and pairs, and adding keypoints at the end are allowed, and stored keypoint lists
are padded or cut to the new length in the same transaction.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Box, Project, Skeleton
from .keypoints import (
    SkeletonError,
    SkeletonSpec,
    keypoints_resized,
    labeled_indices,
    skeleton_change_problems,
    skeleton_from,
)


def skeleton_spec(*, project: Project) -> SkeletonSpec | None:
    """The project's skeleton, or None for a boxes-only project."""
    row = Skeleton.objects.filter(project_id=project.pk).first()
    return spec_of(row) if row else None


def spec_of(row: Skeleton) -> SkeletonSpec:
    return SkeletonSpec(
        tuple(row.keypoints),
        tuple(tuple(e) for e in row.edges),
        tuple(tuple(p) for p in row.flip_pairs),
    )


def project_labeled_keypoints(*, project: Project) -> set[int]:
    """Positions of the skeleton that at least one box of the project has labeled."""
    labeled: set[int] = set()
    rows = Box.objects.filter(frame__project_id=project.pk).exclude(keypoints=[])
    for points in rows.values_list("keypoints", flat=True).iterator():
        labeled |= labeled_indices(points)
    return labeled


def skeleton_set(*, project: Project, keypoints, edges=(), flip_pairs=()) -> SkeletonSpec:
    """Give ``project`` this skeleton (or replace its own); see the module docstring.

    ``edges``/``flip_pairs`` are pairs of keypoint names or indices. ValidationError names
    the bad field (``keypoints[2]``, ``edges[0]``...); nothing changes then.
    """
    try:
        new = skeleton_from(keypoints=keypoints, edges=edges, flip_pairs=flip_pairs)
    except SkeletonError as exc:
        raise ValidationError(exc.errors) from None
    with transaction.atomic():
        # The project row lock serialises skeleton changes with each other.
        list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))
        row = Skeleton.objects.filter(project_id=project.pk).first()
        old = spec_of(row) if row else None
        problems = skeleton_change_problems(
            old=old, new=new, labeled=project_labeled_keypoints(project=project)
        )
        if problems:
            raise ValidationError(problems)
        if old is not None and len(old.keypoints) != len(new.keypoints):
            _resize_stored(project=project, count=len(new.keypoints))
        Skeleton.objects.update_or_create(project=project, defaults=new.to_dict())
    return new


def skeleton_remove(*, project: Project) -> None:
    """Make the project boxes-only again; refused while any keypoint is labeled."""
    with transaction.atomic():
        list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))
        row = Skeleton.objects.filter(project_id=project.pk).first()
        if row is None:
            return
        problems = skeleton_change_problems(
            old=spec_of(row), new=None, labeled=project_labeled_keypoints(project=project)
        )
        if problems:
            raise ValidationError(problems)
        row.delete()


def _resize_stored(*, project: Project, count: int) -> None:
    changed = []
    for box in Box.objects.filter(frame__project_id=project.pk).exclude(keypoints=[]):
        box.keypoints = keypoints_resized(box.keypoints, count)
        changed.append(box)
    Box.objects.bulk_update(changed, ["keypoints"], batch_size=500)
