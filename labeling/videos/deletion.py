"""What deleting a video would take and keep, said before it happens (the video page's
confirmation and ``GET``-free previews); :func:`labeling.videos.services.video_delete` does it.

Goes: the video file and thumbnail, its frames and their labels, its tracking runs (with
their files), its arena and subject details. Stays: the frames (images and boxes) that
dataset versions list, hidden from the project, and every model.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q

from webapp.models import JobStatus

from ..models import Box, Frame, Video
from .selectors import video_annotated_frame_count

# What a caller may confirm will go with the video (the API's ?confirm=labels,runs).
CONFIRMABLE = frozenset({"labels", "runs"})


@dataclass(frozen=True)
class VideoDeletionPreview:
    frames: int
    labeled_frames: int
    boxes: int
    runs: tuple[int, ...]
    active_runs: tuple[int, ...]
    kept_frames: int
    kept_for: tuple[str, ...]
    has_arena: bool

    @property
    def needs(self) -> frozenset[str]:
        """What the person must confirm before the video can go."""
        return frozenset(
            name for name, present in (("labels", self.labeled_frames), ("runs", self.runs))
            if present
        )  # fmt: skip

    @property
    def statement(self) -> str:
        goes = [f"the video file, {self.frames - self.kept_frames} frame(s)"]
        if self.labeled_frames:
            goes.append(f"{self.labeled_frames} labeled frame(s) with {self.boxes} box(es)")
        if self.runs:
            listed = ", ".join(f"tracking run #{pk}" for pk in self.runs)
            goes.append(f"{listed} (trajectories, edits, exports, rendered videos)")
        if self.has_arena:
            goes.append("its arena, zones and subject details")
        text = "Goes: " + "; ".join(goes) + ". "
        if self.kept_frames:
            names = ", ".join(f"“{name}”" for name in self.kept_for)
            text += (
                f"Kept: {self.kept_frames} frame(s) with their images and boxes, because "
                f"dataset version(s) {names} list them (hidden from the project); "
            )
        else:
            text += "Kept: "
        text += "every model, including those trained or run on this video."
        if self.active_runs:
            listed = ", ".join(f"#{pk}" for pk in self.active_runs)
            text += f" Run(s) {listed} are still queued or running: cancel them first."
        return text


def video_deletion_preview(
    *, video: Video, labeled_frames: int | None = None
) -> VideoDeletionPreview:
    """What deleting ``video`` removes and keeps; ``labeled_frames``: the count when the
    caller (the video page) already has it."""
    from labeling.datasets.versions import dataset_versions_listing_frames

    frame_ids = list(Frame.all_objects.filter(video=video).values_list("pk", flat=True))
    kept_by = dataset_versions_listing_frames(project_id=video.project_id, frame_ids=frame_ids)
    kept = set().union(*kept_by.values()) if kept_by else set()
    runs = list(video.tracking_runs.order_by("pk").values_list("pk", "status"))
    active = (JobStatus.QUEUED, JobStatus.RUNNING)
    return VideoDeletionPreview(
        frames=len(frame_ids),
        labeled_frames=(
            video_annotated_frame_count(video=video) if labeled_frames is None else labeled_frames
        ),
        boxes=Box.objects.filter(frame__video=video).count(),
        runs=tuple(pk for pk, _ in runs),
        active_runs=tuple(pk for pk, status in runs if status in active),
        kept_frames=len(kept),
        kept_for=tuple(sorted(kept_by)),
        has_arena=type(video)
        .objects.filter(pk=video.pk)
        .filter(Q(arena_setup__isnull=False) | Q(subject_info__isnull=False))
        .exists(),
    )


def confirm_parse(raw: str | None) -> frozenset[str]:
    """``"labels,runs"`` -> {"labels", "runs"}; anything else is a 400 naming ``confirm``."""
    words = frozenset(w.strip() for w in (raw or "").split(",") if w.strip())
    if not words <= CONFIRMABLE:
        raise ValidationError({"confirm": "Use labels, runs or labels,runs."})
    return words
