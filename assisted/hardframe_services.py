"""Hard frames back to labeling: starting a job that chooses the frames a model struggled
with (a tracking run's misses, low confidence, outlier jumps and suspected swaps; an
evaluation's false positives, misses and low-IoU matches), adds them to the project, and
proposes the model's boxes there. The worker side (what a frame gets, in which boxes) is
:mod:`assisted.hardframe_work`.
"""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError
from django.db import transaction

from webapp.jobs import job_dispatch
from webapp.models import JobStatus

from .models import HardFrameJob, ProposalSource

MAX_CAP = 500


def _params(*, cap, min_gap, low_confidence, low_iou) -> dict:
    for name, value, low, high in (("cap", cap, 1, MAX_CAP), ("min_gap", min_gap, 0, 100_000)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError({name: f"Must be a whole number from {low} to {high}."})
    for name, value in (("low_confidence", low_confidence), ("low_iou", low_iou)):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not 0 <= value <= 1:
            raise ValidationError({name: "Must be a number from 0 to 1."})
    return {
        "cap": cap,
        "min_gap": min_gap,
        "low_confidence": float(low_confidence),
        "low_iou": float(low_iou),
    }


def hard_frames_job_start(
    *,
    user,
    tracking_run=None,
    evaluation_run=None,
    cap: int = 30,
    min_gap: int = 15,
    low_confidence: float = 0.5,
    low_iou: float = 0.5,
) -> HardFrameJob:
    """Queue a hard-frame job for one finished tracking run or evaluation (exactly one)."""
    if (tracking_run is None) == (evaluation_run is None):
        raise ValidationError({"source": "Give a tracking run or an evaluation."})
    source_run = tracking_run or evaluation_run
    if source_run.status != JobStatus.SUCCEEDED:
        raise ValidationError({"run": "Only a finished (succeeded) run has hard frames."})
    if tracking_run is not None and not tracking_run.trajectory:
        raise ValidationError({"run": "The run has no trajectory."})
    params = _params(cap=cap, min_gap=min_gap, low_confidence=low_confidence, low_iou=low_iou)
    with transaction.atomic():
        job = HardFrameJob.objects.create(
            project_id=source_run.project_id,
            source=ProposalSource.TRACKING if tracking_run else ProposalSource.EVALUATION,
            tracking_run=tracking_run,
            evaluation_run=evaluation_run,
            params=params,
            created_by=user,
            message="Waiting for a worker",
        )
    from .tasks import hard_frames_run

    job_dispatch(job=job, task=hard_frames_run)
    return job
