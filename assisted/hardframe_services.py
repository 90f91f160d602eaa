"""Hard frames back to labeling: choose the frames a model struggled with (a tracking run's
misses, low confidence, outlier jumps and suspected swaps; an evaluation's false positives,
misses and low-IoU matches), add them to the project, and propose the model's boxes there.

Boxes are in original-image pixels, ``(x, y)`` top-left corner plus ``w``/``h``. A frame a
person already labeled keeps its labels; it gets proposals only from an evaluation, where
reviewing the labels against the model is the point (accepting never duplicates a label:
see :func:`assisted.services.proposals_accept`).
"""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from labeling.models import Frame, LabelClass
from webapp.jobs import JobRun, job_dispatch, job_heartbeat, job_run
from webapp.models import JobStatus

from .hardframes import evaluation_hard_frames, sample_hard_frames, tracking_hard_frames
from .models import HardFrameJob, ProposalSource
from .services import ProposalInput, proposals_replace

log = logging.getLogger(__name__)
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


def hard_frames_job_execute(*, job_id: int) -> None:
    """Claim and run one hard-frame job (:data:`assisted.jobs.HARD_FRAMES`); idempotent
    (frames and proposals are replaced, never duplicated, on a second delivery)."""
    from .jobs import HARD_FRAMES  # the kinds module imports this one

    job_run(HARD_FRAMES, job_id=job_id)


def hard_frames_job_work(run: JobRun) -> str:
    job = run.job
    if job.source == ProposalSource.TRACKING:
        _from_tracking(job)
    else:
        _from_evaluation(job)
    HardFrameJob.objects.filter(pk=job.pk).update(
        chosen=job.chosen,
        frames_added=job.frames_added,
        frames_proposed=job.frames_proposed,
        proposals_created=job.proposals_created,
    )
    return (
        f"Done: {len(job.chosen)} hard frames ({job.frames_added} new), "
        f"{job.proposals_created} proposals."
    )


def _class_by_index(project_id: int) -> dict[int, LabelClass]:
    return {c.index: c for c in LabelClass.objects.filter(project_id=project_id)}


def _from_tracking(job: HardFrameJob) -> None:
    from labeling.videos.sampling_services import frame_store
    from labeling.videos.services import video_local_path
    from media.sampling import sample_indices
    from tracking.selectors import tracking_run_trajectory

    run = job.tracking_run
    p = job.params
    trajectory = tracking_run_trajectory(run=run)
    swaps = [(s["first_frame"], s["last_frame"]) for s in run.suspected_swaps or []]
    candidates = tracking_hard_frames(
        status=trajectory.status,
        confidence=trajectory.confidence,
        frames=trajectory.frames,
        flags=trajectory.flags,
        swaps=swaps,
        low_confidence=p["low_confidence"],
    )
    chosen = sample_hard_frames(
        candidates, n_frames=trajectory.n_frames, cap=p["cap"], min_gap=p["min_gap"]
    )
    job.chosen = [{"frame": c.frame, "reason": c.reason, "severity": c.severity} for c in chosen]
    job_heartbeat(job=job, progress=0.1, message=f"Adding {len(chosen)} hard frames")
    video = run.video
    existing = set(video.frames.values_list("frame_index", flat=True))
    wanted = sorted({c.frame for c in chosen} - existing)
    if wanted:
        with video_local_path(video=video) as path:
            for sampled in sample_indices(
                path, wanted, timeout_s=float(settings.DEFAULT_QUEUE_SOFT_TIME_LIMIT)
            ):
                if frame_store(video=video, sampled=sampled) is not None:
                    job.frames_added += 1
                job_heartbeat(job=job, progress=0.1 + 0.8 * job.frames_added / len(wanted))
    classes = _class_by_index(job.project_id)
    label_class = classes.get(0)
    row_of = {int(f): i for i, f in enumerate(trajectory.frames)}
    frames = Frame.objects.filter(video=video, frame_index__in=[c.frame for c in chosen])
    by_index = {f.frame_index: f for f in frames}
    for c in chosen:
        frame = by_index.get(c.frame)
        if frame is None or frame.status != Frame.Status.UNLABELED or label_class is None:
            continue
        row = row_of[c.frame]
        proposals = []
        for a in range(trajectory.n_animals):
            x1, y1, x2, y2 = (float(v) for v in trajectory.boxes[row, a])
            if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
                continue  # missing: nothing to propose, the person draws it
            conf = float(trajectory.confidence[row, a])
            score = conf if math.isfinite(conf) else 0.0  # interpolated: no detection
            proposals.append(ProposalInput(label_class.pk, x1, y1, x2 - x1, y2 - y1, score))
        made = proposals_replace(
            frame=frame,
            source=ProposalSource.TRACKING,
            proposals=proposals,
            model_ref=f"tracking run #{run.pk} ({c.reason.replace('_', ' ')})",
        )
        job.frames_proposed += bool(made)
        job.proposals_created += len(made)


def _from_evaluation(job: HardFrameJob) -> None:
    from evaluation.models import FramePrediction

    run = job.evaluation_run
    p = job.params
    predictions = list(
        FramePrediction.objects.filter(run=run).select_related("frame").order_by("frame_id")
    )
    by_id = {pred.frame_id: pred for pred in predictions}
    candidates = evaluation_hard_frames(
        (
            {
                "frame": pred.frame_id,
                "false_positives": pred.false_positives,
                "misses": pred.misses,
                "min_iou": pred.min_iou,
            }
            for pred in predictions
        ),
        low_iou=p["low_iou"],
    )
    n = (max(by_id) + 1) if by_id else 1
    chosen = sample_hard_frames(candidates, n_frames=n, cap=p["cap"], min_gap=0)
    job.chosen = [{"frame": c.frame, "reason": c.reason, "severity": c.severity} for c in chosen]
    classes = _class_by_index(job.project_id)
    ref = f"evaluation #{run.pk} of model #{run.model_id}"
    for c in chosen:
        pred = by_id[c.frame]
        proposals = []
        for b in pred.boxes:
            label_class = classes.get(int(b.get("class_index", -1)))
            score = b.get("score")
            if label_class is None or not isinstance(score, int | float):
                continue
            proposals.append(
                ProposalInput(label_class.pk, b["x"], b["y"], b["w"], b["h"], float(score))
            )
        made = proposals_replace(
            frame=pred.frame,
            source=ProposalSource.EVALUATION,
            proposals=proposals,
            model_ref=f"{ref} ({c.reason.replace('_', ' ')})",
        )
        job.frames_proposed += bool(made)
        job.proposals_created += len(made)
    job_heartbeat(job=job, progress=0.9)
