"""The worker side of hard-frame jobs (:data:`assisted.jobs.HARD_FRAMES`): choose the
frames a model struggled with (:mod:`assisted.hardframes`), add them to the project, and
propose the model's boxes there. Starting a job is :mod:`assisted.hardframe_services`.

Boxes are in original-image pixels, ``(x, y)`` top-left corner plus ``w``/``h``. A frame a
person already labeled keeps its labels; it gets proposals only from an evaluation, where
reviewing the labels against the model is the point (accepting never duplicates a label:
see :func:`assisted.services.proposals_accept`).
"""

from __future__ import annotations

import math

from django.conf import settings

from labeling.models import Frame, LabelClass
from webapp.jobs import JobRun, job_heartbeat, job_run

from .hardframes import evaluation_hard_frames, sample_hard_frames, tracking_hard_frames
from .models import HardFrameJob, ProposalSource
from .services import ProposalInput, proposals_replace


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
    from labeling.videos.sampling_work import frame_store
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
