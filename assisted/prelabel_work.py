"""Pre-label jobs in a worker: the bootstrap (``default`` queue) and a model (``gpu`` queue).

Both read the frames' stored images (the sampled JPEGs), write proposals with
:func:`assisted.services.proposals_replace` frame by frame (so a cancelled or killed job keeps
what it made and a redelivery redoes the rest without duplicates), beat with progress and,
when asked, end with :func:`assisted.services.proposals_accept_above`.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from django.conf import settings

from labeling.models import Frame, Video
from webapp.jobs import JobRun, job_run
from webapp.storage import local_copy, scratch_dir

from . import bootstrap
from .models import PrelabelJob, ProposalSource
from .services import ProposalInput, class_for_name, proposals_accept_above, proposals_replace

log = logging.getLogger(__name__)
MODEL_BATCH = 16


def _read_image(frame: Frame) -> np.ndarray:
    import cv2

    with local_copy(frame.image.name) as path:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"the image of frame {frame.pk} cannot be read")
    return image


def _targets(job: PrelabelJob):
    """The job's unlabeled frames, by video (all the project's videos when none chosen)."""
    videos = list(job.videos.all()) or list(Video.objects.filter(project_id=job.project_id))
    frames = Frame.objects.filter(
        project_id=job.project_id, video__in=videos, status=Frame.Status.UNLABELED
    ).order_by("video_id", "frame_index")
    return videos, frames


class _Beat:
    """Progress of a pre-label job: its counters are stored at the pace of its beats."""

    def __init__(self, run: JobRun) -> None:
        self.run = run
        self.job = run.job

    def __call__(self, message: str, force: bool = False) -> None:
        job = self.job

        def counted() -> None:
            PrelabelJob.objects.filter(pk=job.pk).update(
                frames_total=job.frames_total,
                frames_done=job.frames_done,
                proposals_created=job.proposals_created,
            )

        progress = job.frames_done / job.frames_total if job.frames_total else 0.0
        self.run.beat(progress=min(progress, 0.99), message=message, force=force, before=counted)


def _run_bootstrap(job: PrelabelJob, beat: _Beat) -> None:
    expected = int(job.params.get("expected", 1))
    label_class = job.project.classes.order_by("index").first()
    videos, frames = _targets(job)
    job.frames_total = frames.count()
    for video in videos:
        todo = list(frames.filter(video=video))
        if not todo:
            continue
        # The background comes from every sampled frame of the video, labeled or not.
        sampled = list(Frame.objects.filter(video=video).order_by("frame_index"))
        step = max(1, len(sampled) // bootstrap.MAX_BACKGROUND_FRAMES)
        images = [_read_image(f) for f in sampled[::step][: bootstrap.MAX_BACKGROUND_FRAMES]]
        if len(images) < 3:
            job.frames_done += len(todo)
            log.info("prelabel %s: video %s has %d frames, too few", job.pk, video.pk, len(images))
            continue
        model = bootstrap.background_model(images)
        polarity = "dark" if model.dark_animals else "bright"
        ref = f"background of {len(images)} frames ({polarity} animals)"
        for frame in todo:
            boxes = bootstrap.propose_boxes(_read_image(frame), model, expected=expected)
            made = proposals_replace(
                frame=frame,
                source=ProposalSource.BOOTSTRAP,
                proposals=[
                    ProposalInput(label_class.pk, b.x, b.y, b.w, b.h, b.score) for b in boxes
                ],
                model_ref=ref,
                job=job,
            )
            job.frames_done += 1
            job.proposals_created += len(made)
            beat(f"Frame {job.frames_done:,} of {job.frames_total:,}: {video.original_name}")


def _run_model(job: PrelabelJob, beat: _Beat) -> None:
    from training.runtime import Detector
    from training.ultralytics_setup import configure_offline

    configure_offline(Path(settings.VAR_DIR))
    conf = float(job.params.get("conf", 0.25))
    model = job.model
    if model is None:
        raise ValueError("the model of this pre-label job was deleted")
    ref = f"model #{model.pk} “{model.name}”"
    _, frames = _targets(job)
    todo = list(frames)
    job.frames_total = len(todo)
    beat("Loading the model", force=True)
    with ExitStack() as stack:
        weights = stack.enter_context(local_copy(model.weights.name))
        detector = Detector(
            weights,
            device=job.params.get("device", "auto"),
            threads=settings.CPU_THREADS,
            onnx_cache_dir=scratch_dir("onnx-cache"),
        )
        names = detector.class_names
        classes = {i: class_for_name(project=job.project, name=n) for i, n in enumerate(names)}
        for start in range(0, len(todo), MODEL_BATCH):
            chunk = todo[start : start + MODEL_BATCH]
            detections = detector.predict(
                [_read_image(f) for f in chunk], imgsz=model.imgsz or 640, conf=conf
            )
            for frame, det in zip(chunk, detections, strict=True):
                proposals = [
                    ProposalInput(classes[int(c)].pk, *map(float, box), float(s))
                    for box, s, c in zip(det.boxes_xywh, det.scores, det.classes, strict=True)
                    if classes.get(int(c)) is not None
                ]
                made = proposals_replace(
                    frame=frame,
                    source=ProposalSource.MODEL,
                    proposals=proposals,
                    model_ref=ref,
                    job=job,
                )
                job.frames_done += 1
                job.proposals_created += len(made)
            beat(f"Frame {job.frames_done:,} of {job.frames_total:,}")


def prelabel_job_execute(*, job_id: int) -> None:
    """Claim and run one pre-label job (idempotent: a second delivery does nothing)."""
    from .jobs import PRELABEL_BOOTSTRAP  # the kinds module imports this one

    # Both kinds share the model and the work; the kind differs only by task and queue.
    job_run(PRELABEL_BOOTSTRAP, job_id=job_id)


def prelabel_job_work(run: JobRun) -> str:
    """Make proposals frame by frame, then accept those above the asked score."""
    job = run.job
    job.frames_done = job.proposals_created = 0
    beat = _Beat(run)
    if job.source == ProposalSource.MODEL:
        _run_model(job, beat)
    else:
        _run_bootstrap(job, beat)
    beat("Proposals made", force=True)
    summary = f"Done: {job.proposals_created} proposals on {job.frames_done} frames"
    accept_above = job.params.get("accept_above")
    if accept_above is not None:
        result = proposals_accept_above(
            project=job.project,
            user=job.created_by,
            score=float(accept_above),
            frame_ids=list(_targets(job)[1].values_list("pk", flat=True)),
        )
        job.frames_accepted = result["accepted"]
        PrelabelJob.objects.filter(pk=job.pk).update(frames_accepted=result["accepted"])
        summary += f"; {result['accepted']} frames accepted above {accept_above:g}"
    return summary + "."


def prelabel_job_after(run: JobRun) -> None:
    """However it ended, the job keeps the counts of what it made (proposals stay)."""
    job = run.job
    PrelabelJob.objects.filter(pk=job.pk).update(
        frames_done=job.frames_done, proposals_created=job.proposals_created
    )
