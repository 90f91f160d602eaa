"""Writes of assisted labeling: storing proposals, accepting and rejecting them, and the
pre-label jobs that make them (their execution is in :mod:`assisted.prelabel_work`).

Boxes are in original-image pixels, ``(x, y)`` top-left corner plus ``w``/``h``. Accepting
goes through :func:`labeling.annotations.services.annotation_save`, so it is versioned (a stale
version is an ``AnnotationConflict``), clipped and validated exactly like a person's save.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labeling.annotations.geometry import EmptyBox, PixelBox, clip_box
from labeling.annotations.services import AnnotationState, BoxInput, annotation_save
from labeling.models import Frame, LabelClass, Project, Video
from webapp.jobs import job_cancel, job_dispatch

from .bootstrap import box_iou
from .models import MachineLabel, PrelabelJob, Proposal, ProposalSource
from .selectors import assisted_frame_list, pending_proposals

MAX_PROPOSALS_PER_FRAME = 100
MAX_EXPECTED_ANIMALS = 20
DUPLICATE_IOU = 0.5


@dataclass(frozen=True)
class ProposalInput:
    """A machine-made box: a LabelClass id, original-image pixels, a score in [0, 1]."""

    class_id: int
    x: float
    y: float
    w: float
    h: float
    score: float


def proposals_replace(
    *,
    frame: Frame,
    source: str,
    proposals: Sequence[ProposalInput],
    model_ref: str = "",
    job: PrelabelJob | None = None,
) -> list[Proposal]:
    """Replace the frame's pending proposals from ``source`` with ``proposals``.

    Boxes are clipped to the frame; empty ones and non-finite scores are dropped (machine
    output is not a person's input: nothing to refuse, only to clean). Decided proposals
    are kept. A re-run therefore never piles up duplicates.
    """
    if source not in ProposalSource.values:
        raise ValueError(f"unknown proposal source {source!r}")
    rows = []
    for p in list(proposals)[:MAX_PROPOSALS_PER_FRAME]:
        if not math.isfinite(p.score):
            continue
        try:
            box = clip_box(PixelBox(p.x, p.y, p.w, p.h), width=frame.width, height=frame.height)
        except (EmptyBox, ValueError):
            continue
        rows.append(
            Proposal(
                frame_id=frame.pk,
                label_class_id=p.class_id,
                x=box.x,
                y=box.y,
                w=box.w,
                h=box.h,
                score=min(1.0, max(0.0, float(p.score))),
                source=source,
                model_ref=model_ref[:200],
                job=job,
            )
        )
    with transaction.atomic():
        Proposal.objects.filter(
            frame_id=frame.pk, source=source, status=Proposal.Status.PENDING
        ).delete()
        return Proposal.objects.bulk_create(rows)


def _decide(proposals: Iterable[Proposal], *, status: str, user) -> int:
    ids = [p.pk for p in proposals]
    return Proposal.objects.filter(pk__in=ids, status=Proposal.Status.PENDING).update(
        status=status, decided_by=user, decided_at=timezone.now()
    )


def proposals_accept(*, frame: Frame, user, version: int) -> AnnotationState:
    """Add the frame's pending proposals to its boxes (a save based on ``version``);
    one that duplicates a box already there (same class, IoU >= :data:`DUPLICATE_IOU`) is
    not added twice.

    The frame becomes *labeled* and machine-made (:class:`MachineLabel`) until a person
    saves it again. Raises ``ValidationError`` when there is nothing to accept, and
    ``AnnotationConflict`` when ``version`` is stale (nothing changes then).
    """
    with transaction.atomic():
        locked = Frame.objects.select_for_update().get(pk=frame.pk)
        pending = list(pending_proposals(frame=locked))
        if not pending:
            raise ValidationError({"proposals": "This frame has no pending proposals."})
        return _accept(locked, pending, user=user, version=version)


def _accept(frame: Frame, pending: list[Proposal], *, user, version: int) -> AnnotationState:
    existing = [
        BoxInput(b.label_class_id, b.x, b.y, b.w, b.h) for b in frame.boxes.all().order_by("id")
    ]
    # A proposal on a box a person drew (same class, IoU >= DUPLICATE_IOU) would label the
    # animal twice: the person's box stays and the proposal only counts as accepted.
    added = [
        BoxInput(p.label_class_id, p.x, p.y, p.w, p.h, keypoints=p.keypoints or None)
        for p in pending
        if not any(
            b.class_id == p.label_class_id
            and box_iou((b.x, b.y, b.w, b.h), (p.x, p.y, p.w, p.h)) >= DUPLICATE_IOU
            for b in existing
        )
    ]
    state = annotation_save(
        frame=frame,
        user=user,
        version=version,
        boxes=existing + added,
        is_negative=False,
        status=Frame.Status.LABELED,
    )
    _decide(pending, status=Proposal.Status.ACCEPTED, user=user)
    first = pending[0]
    MachineLabel.objects.update_or_create(
        frame_id=frame.pk,
        defaults={
            "annotation_version": state.version,
            "source": first.source,
            "model_ref": first.model_ref,
            "min_score": min(p.score for p in pending),
            "accepted_by": user,
            "accepted_at": timezone.now(),
        },
    )
    return state


def proposals_reject(*, frame: Frame, user) -> int:
    """Reject the frame's pending proposals; its labels stay as they are. Returns how many."""
    return _decide(pending_proposals(frame=frame), status=Proposal.Status.REJECTED, user=user)


def _score(value, field: str = "score") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError({field: "Must be a number from 0 to 1."})
    if not 0.0 <= float(value) <= 1.0:
        raise ValidationError({field: "Must be a number from 0 to 1."})
    return float(value)


def proposals_accept_above(
    *,
    project: Project,
    user,
    score: float,
    status: str = "",
    video: str = "",
    split: str = "",
    frame_ids: Sequence[int] | None = None,
) -> dict[str, int]:
    """Accept the proposals of every unlabeled frame of the filtered list whose pending
    proposals all score at least ``score``.

    A frame with any proposal below ``score`` is left for a person (accepting only its
    confident boxes would label it with an animal missing), and frames a person already
    labeled are never touched. Each accepted frame is marked machine-made. Returns
    ``{"accepted": frames, "boxes": boxes, "skipped": frames left pending}``.
    """
    score = _score(score)
    frames = assisted_frame_list(
        project=project, proposals="pending", status=status, video=video, split=split
    ).filter(status=Frame.Status.UNLABELED)
    if frame_ids is not None:
        frames = frames.filter(pk__in=list(frame_ids))
    accepted = boxes = skipped = 0
    for frame_id in list(frames.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = Frame.objects.select_for_update().get(pk=frame_id)
            pending = list(pending_proposals(frame=locked))
            if (
                not pending
                or locked.status != Frame.Status.UNLABELED
                or min(p.score for p in pending) < score
            ):
                skipped += 1
                continue
            _accept(locked, pending, user=user, version=locked.annotation_version)
            accepted += 1
            boxes += len(pending)
    return {"accepted": accepted, "boxes": boxes, "skipped": skipped}


# --- pre-label jobs ------------------------------------------------------------------------
def prelabel_job_create(
    *,
    project: Project,
    user,
    model=None,
    video_ids: Sequence[int] | None = None,
    expected: int = 1,
    conf: float = 0.25,
    accept_above: float | None = None,
) -> PrelabelJob:
    """Record a pre-label job (QUEUED): the bootstrap without ``model``, else that model.

    Raises ``ValidationError`` naming the field; nothing is stored then.
    """
    if not project.classes.exists():
        raise ValidationError({"project": "Add a label class first: proposals need one."})
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise ValidationError({"expected": "Must be a whole number."})
    if not 1 <= expected <= MAX_EXPECTED_ANIMALS:
        raise ValidationError({"expected": f"Must be from 1 to {MAX_EXPECTED_ANIMALS}."})
    conf = _score(conf, "conf")
    if accept_above is not None:
        accept_above = _score(accept_above, "accept_above")
    if model is not None and model.project_id != project.pk:
        raise ValidationError({"model": "Choose a model of this project."})
    videos = list(Video.objects.filter(project=project, pk__in=list(video_ids or [])))
    if video_ids and len(videos) != len(set(video_ids)):
        raise ValidationError({"videos": "Every video must belong to this project."})
    with transaction.atomic():
        job = PrelabelJob.objects.create(
            project=project,
            source=ProposalSource.MODEL if model is not None else ProposalSource.BOOTSTRAP,
            model=model,
            params={"expected": expected, "conf": conf, "accept_above": accept_above},
            created_by=user,
            message="Waiting for a worker",
        )
        job.videos.set(videos)
    return job


def prelabel_job_dispatch(*, job: PrelabelJob) -> None:
    """Bootstrap on ``default``, a model on ``gpu``; a broker outage deletes the row and
    raises :class:`webapp.jobs.BrokerUnavailable`."""
    from .tasks import prelabel_bootstrap_run, prelabel_model_run

    task = prelabel_model_run if job.source == ProposalSource.MODEL else prelabel_bootstrap_run
    job_dispatch(job=job, task=task)


def prelabel_job_start(**kwargs) -> PrelabelJob:
    job = prelabel_job_create(**kwargs)
    prelabel_job_dispatch(job=job)
    return job


def prelabel_job_cancel(*, job: PrelabelJob) -> PrelabelJob:
    return job_cancel(job=job)


def class_for_name(*, project: Project, name: str) -> LabelClass | None:
    """The project's class of that name (any case); a one-class project's only class."""
    classes = list(project.classes.all())
    for c in classes:
        if c.name.lower() == (name or "").lower():
            return c
    return classes[0] if len(classes) == 1 else None
