"""Reads of proposals and machine-made frames, scoped like every labeling read."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from labeling.annotations.selectors import frame_list
from labeling.models import Frame, Project, Video
from labeling.selectors import RowForUser
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


prelabel_job_for_user = RowForUser(
    PrelabelJob.objects.select_related("project", "model"), id_name="job_id", what="pre-label job"
)
hard_frame_job_for_user = RowForUser(
    HardFrameJob.objects.all(), id_name="job_id", what="hard-frame job"
)


def prelabel_jobs_of_project(*, project: Project) -> QuerySet[PrelabelJob]:
    return PrelabelJob.objects.filter(project=project).select_related("model")


#: The video page suggests the bootstrap ("Find mice without labels") while the project has
#: no registered model or fewer labeled frames than this: past it a model trained on the
#: project's own labels proposes better boxes than a background model does.
BOOTSTRAP_SUGGESTED_BELOW = 50


@dataclass(frozen=True)
class PrelabelPanel:
    """What the video page's proposals panel shows: the project's registered models (newest
    first), whether to suggest the bootstrap, the video's unlabeled frames (the ones a
    pre-label job proposes boxes for), and its latest pre-label job (to resume polling)."""

    models: list
    suggest_bootstrap: bool
    unlabeled_frames: int
    labeled_frames: int
    job: PrelabelJob | None


def prelabel_panel(*, project: Project, video: Video) -> PrelabelPanel:
    from training.selectors import trained_models_of_project

    models = list(trained_models_of_project(project=project).order_by("-created_at", "-id"))
    labeled = project.frames.exclude(status=Frame.Status.UNLABELED).count()
    # A job for this video, or for all the project's videos (no video chosen).
    job = (
        PrelabelJob.objects.filter(project=project)
        .filter(Q(videos=video) | Q(videos__isnull=True))
        .select_related("model")
        .order_by("-created_at", "-id")
        .first()
    )
    return PrelabelPanel(
        models=models,
        suggest_bootstrap=not models or labeled < BOOTSTRAP_SUGGESTED_BELOW,
        unlabeled_frames=video.frames.filter(status=Frame.Status.UNLABELED).count(),
        labeled_frames=labeled,
        job=job,
    )
