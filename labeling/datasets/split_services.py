"""Writes to frames' train/val/test split, from the project's split settings.

The assignment itself is :func:`labeling.datasets.splits.assign_splits` (seeded, stable; split
sizes within one frame of the ratios, or with ``split_by_video`` as close as the videos' sizes
allow, frames already assigned counted in). Only annotated
frames (labeled or reviewed) get a split here: they are what exports and dataset versions
take; an unlabeled frame gets its split once it is labeled and this runs again.
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Frame, Project
from .splits import assign_splits

_UPDATE_CHUNK = 500  # ids per UPDATE (SQLite limits bound variables)


@transaction.atomic
def frames_assign_splits(*, project: Project, reassign: bool = False) -> int:
    """Give every annotated frame of ``project`` without a split one; return how many frames
    changed.

    Stable: frames that already have a split keep it, so adding frames later assigns only
    the new ones, which fill each split up to its share of the new total. With
    ``project.split_by_video`` a video whose frames already have a split keeps it for its new
    frames, so no recording spans two splits. ``reassign=True`` first
    clears every frame's split (after a change of ratios, seed or by-video setting) and
    assigns all annotated frames afresh.
    """
    ratios = (project.split_train, project.split_val, project.split_test)
    rows = list(
        Frame.objects.select_for_update()
        .filter(project=project)
        .values_list("id", "video_id", "split", "status")
    )
    before = {fid: split for fid, _, split, _ in rows}
    if reassign:
        target = dict.fromkeys(before, "")
        existing: dict[int, str] = {}
        items = {fid: vid for fid, vid, _, status in rows if status != Frame.Status.UNLABELED}
    else:
        target = dict(before)
        existing = {fid: split for fid, split in before.items() if split}
        # Frames that already hold a split take part too, so a video keeps its split.
        items = {
            fid: vid
            for fid, vid, split, status in rows
            if split or status != Frame.Status.UNLABELED
        }
    try:
        target.update(
            assign_splits(
                items,
                ratios=ratios,
                seed=project.split_seed,
                by_group=project.split_by_video,
                existing=existing,
            )
        )
    except ValueError as exc:
        raise ValidationError(
            {"split_train": f"The project's split settings are unusable: {exc}."}
        ) from None
    changes: dict[str, list[int]] = defaultdict(list)
    for fid, split in target.items():
        if before[fid] != split:
            changes[split].append(fid)
    for split, ids in changes.items():
        for start in range(0, len(ids), _UPDATE_CHUNK):
            Frame.objects.filter(id__in=ids[start : start + _UPDATE_CHUNK]).update(split=split)
    return sum(len(ids) for ids in changes.values())
