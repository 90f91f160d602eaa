"""Reads of proposals and machine-made frames, scoped like every labeling read."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, QuerySet

from labeling.annotations.selectors import frame_list
from labeling.models import Frame, Project, Role
from labeling.selectors import object_for_user
from webapp.bounds import bounded_int

from .models import HardFrameJob, MachineLabel, PrelabelJob, Proposal

#: ``?proposals=`` values of the assisted frame list.
PROPOSAL_FILTERS = ("pending", "machine", "any", "hard")


def pending_proposals(*, frame: Frame) -> QuerySet[Proposal]:
    return Proposal.objects.filter(frame=frame, status=Proposal.Status.PENDING).order_by(
        "-score", "id"
    )


def machine_label_of(*, frame: Frame) -> MachineLabel | None:
    """The frame's mark if its boxes are still the accepted proposals (no person's save since)."""
    return MachineLabel.objects.filter(
        frame_id=frame.pk, annotation_version=frame.annotation_version
    ).first()


def machine_made_frames(queryset: QuerySet[Frame]) -> QuerySet[Frame]:
    return queryset.filter(
        machine_label__isnull=False, machine_label__annotation_version=F("annotation_version")
    )


def frames_with_pending(queryset: QuerySet[Frame]) -> QuerySet[Frame]:
    pending = Proposal.objects.filter(frame=OuterRef("pk"), status=Proposal.Status.PENDING)
    return queryset.filter(Exists(pending))


def assisted_frame_list(
    *,
    project: Project,
    proposals: str = "pending",
    status: str = "",
    video: str = "",
    split: str = "",
    ordering: str = "",
    hard_job: str = "",
) -> QuerySet[Frame]:
    """The editor's frame list (same filters) narrowed to frames with pending proposals
    (``pending``), machine-made frames (``machine``), either (``any``), or the frames a
    hard-frame job of this project chose (``hard`` with ``hard_job``, its id)."""
    if proposals not in PROPOSAL_FILTERS:
        raise ValidationError({"proposals": f"Must be one of {', '.join(PROPOSAL_FILTERS)}."})
    frames = frame_list(project=project, status=status, video=video, split=split, ordering=ordering)
    if proposals == "hard":
        job_id = bounded_int(hard_job)
        job = HardFrameJob.objects.filter(project=project, pk=job_id).first() if job_id else None
        if job is None:
            raise ValidationError({"hard_job": "Must be a hard-frame job of this project."})
        chosen = [int(c["frame"]) for c in job.chosen]
        if job.tracking_run_id:
            return frames.filter(video_id=job.tracking_run.video_id, frame_index__in=chosen)
        return frames.filter(pk__in=chosen)
    if proposals == "pending":
        return frames_with_pending(frames)
    if proposals == "machine":
        return machine_made_frames(frames)
    pending = Proposal.objects.filter(frame=OuterRef("pk"), status=Proposal.Status.PENDING)
    machine = MachineLabel.objects.filter(
        frame=OuterRef("pk"), annotation_version=OuterRef("annotation_version")
    )
    return frames.filter(Exists(pending) | Exists(machine))


def prelabel_job_for_user(*, user, job_id: int | str, role: str = Role.VIEWER) -> PrelabelJob:
    return object_for_user(
        PrelabelJob.objects.select_related("project", "model"),
        user=user,
        pk=job_id,
        role=role,
        what="pre-label job",
    )


def prelabel_jobs_of_project(*, project: Project) -> QuerySet[PrelabelJob]:
    return PrelabelJob.objects.filter(project=project).select_related("model")
