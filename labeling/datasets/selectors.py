"""Reads for dataset export and the dataset page: which frames a dataset holds, and counts
per class, split and frame source."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from ..models import Box, Frame, Project

ANNOTATED_STATUSES = (Frame.Status.LABELED, Frame.Status.REVIEWED)
SPLIT_KEYS = ("train", "val", "test", "unassigned")


def dataset_frames(
    *, project: Project, split: str | None = None, include_unlabeled: bool = False
) -> QuerySet[Frame]:
    """The project's labeled and reviewed frames (negatives included), optionally of one
    split; in video, then frame order."""
    frames = Frame.objects.filter(project=project)
    if not include_unlabeled:
        frames = frames.filter(status__in=ANNOTATED_STATUSES)
    if split:
        frames = frames.filter(split=split)
    return frames.order_by("video_id", "frame_index")


def _split_key(split: str) -> str:
    return split or "unassigned"


def _by_split() -> dict[str, int]:
    return dict.fromkeys(SPLIT_KEYS, 0)


@dataclass
class ClassStats:
    id: int
    name: str
    index: int
    color: str
    boxes: dict[str, int] = field(default_factory=_by_split)  # per split key
    frames: int = 0  # annotated frames with at least one box of this class
    total: int = 0


@dataclass
class SourceStats:
    id: int
    name: str
    kind: str
    frames: int = 0  # all frames, unlabeled included
    annotated: int = 0
    negatives: int = 0
    boxes: int = 0
    splits: dict[str, int] = field(default_factory=_by_split)  # annotated frames per split


@dataclass
class DatasetStats:
    """Counts of what an export of the whole project would hold (annotated frames)."""

    frames: int = 0
    annotated: int = 0
    negatives: int = 0
    boxes: int = 0
    splits: dict[str, int] = field(default_factory=_by_split)  # annotated frames per split
    classes: list[ClassStats] = field(default_factory=list)
    sources: list[SourceStats] = field(default_factory=list)

    @property
    def unlabeled(self) -> int:
        return self.frames - self.annotated

    @property
    def unassigned(self) -> int:
        return self.splits["unassigned"]


def dataset_stats(*, project: Project) -> DatasetStats:
    """Counts per class × split, per split and per frame source, in a handful of queries."""
    stats = DatasetStats()
    classes = {
        c.pk: ClassStats(id=c.pk, name=c.name, index=c.index, color=c.color)
        for c in project.classes.order_by("index")
    }
    sources = {
        v.pk: SourceStats(id=v.pk, name=v.original_name, kind=v.kind)
        for v in project.videos.order_by("created_at", "id").only(
            "id", "project", "original_name", "kind"
        )
    }
    frame_rows = (
        Frame.objects.filter(project=project)
        .values_list("video_id", "split", "status", "is_negative")
        .annotate(n=Count("id"))
        .order_by()
    )
    for video_id, split, status, is_negative, n in frame_rows:
        source = sources.get(video_id)
        stats.frames += n
        if source:
            source.frames += n
        if status not in ANNOTATED_STATUSES:
            continue
        stats.annotated += n
        stats.splits[_split_key(split)] += n
        if source:
            source.annotated += n
            source.splits[_split_key(split)] += n
        if is_negative:
            stats.negatives += n
            if source:
                source.negatives += n
    box_rows = (
        Box.objects.filter(frame__project=project, frame__status__in=ANNOTATED_STATUSES)
        .values_list("label_class_id", "frame__split", "frame__video_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    class_frames = (
        Box.objects.filter(frame__project=project, frame__status__in=ANNOTATED_STATUSES)
        .values_list("label_class_id")
        .annotate(frames=Count("frame_id", distinct=True))
        .order_by()
    )
    for class_id, split, video_id, n in box_rows:
        stats.boxes += n
        if class_id in classes:
            classes[class_id].boxes[_split_key(split)] += n
            classes[class_id].total += n
        if video_id in sources:
            sources[video_id].boxes += n
    for class_id, n in class_frames:
        if class_id in classes:
            classes[class_id].frames = n
    stats.classes = list(classes.values())
    stats.sources = list(sources.values())
    return stats
