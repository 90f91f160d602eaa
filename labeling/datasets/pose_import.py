"""Keypoints of an imported dataset, put in the project's skeleton order.

A project without a skeleton takes the dataset's (boxes already there keep no keypoints).
A project with one maps the dataset's keypoints by name (ignoring case): a keypoint name the
project's skeleton lacks is a problem (ValidationError naming it, nothing imported), and
the project's keypoints the dataset lacks are "not labeled".
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from ..annotations.keypoints import SkeletonSpec
from ..annotations.skeletons import skeleton_spec
from ..models import Project, Skeleton
from .exchange import problem_messages
from .formats import Dataset


def pose_import_plan(*, project: Project, dataset: Dataset) -> SkeletonSpec | None:
    """Rewrite the dataset's keypoints in the project's skeleton order (in place); return
    the skeleton the project must be given (it has none), else None."""
    theirs = dataset.skeleton
    if theirs is None:
        return None
    ours = skeleton_spec(project=project)
    if ours is None:
        return theirs
    position = {name.casefold(): i for i, name in enumerate(ours.keypoints)}
    unknown = [name for name in theirs.keypoints if name.casefold() not in position]
    if unknown:
        listed = ", ".join(ours.keypoints)
        raise ValidationError(
            {
                "file": problem_messages(
                    [
                        f"keypoint {name!r} is not in the project's skeleton ({listed})"
                        for name in unknown
                    ]
                )
            }
        )
    target = [position[name.casefold()] for name in theirs.keypoints]
    if target == list(range(len(ours.keypoints))):
        return None
    for image in dataset.images:
        for box in image.boxes:
            if not box.keypoints:
                continue
            points = [[0.0, 0.0, 0] for _ in ours.keypoints]
            for j, point in zip(target, box.keypoints, strict=True):
                points[j] = list(point)
            box.keypoints = points
    return None


def pose_skeleton_create(*, project: Project, skeleton: SkeletonSpec | None) -> None:
    """Inside the import's transaction: give the project the dataset's skeleton."""
    if skeleton is not None:
        Skeleton.objects.update_or_create(project=project, defaults=skeleton.to_dict())
