"""Frame sampling jobs: their parameters, the job's life (create, dispatch, execute in a
Celery worker, cancel) and storing each sampled frame.

Frames are decoded by :mod:`media.sampling` (a limited subprocess) and stored as
JPEG at quality 95: the source is already lossy (H.264), and at q95 the re-encoding error
is far below the codec's own, while a file is about a third of the PNG's size (40 KB
against 114 KB for a 640x480 open-field frame), which matters for thousands of frames read
again by every training run.
"""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from media.probe import VideoError, VideoSampleError
from media.sampling import (
    SampledFrame,
    SampleProgress,
    sample_every_seconds,
    sample_indices,
    sample_kmeans,
    sample_uniform,
)
from webapp.jobs import (
    BrokerUnavailable,
    JobCancelled,
    JobFailed,
    JobRun,
    job_cancel,
    job_dispatch,
    job_run,
)
from webapp.storage import delete_quietly

from ..models import Frame, FrameSamplingJob, Video
from .services import video_local_path

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_SECONDS = 1.5  # the seed paper's rate
FRAME_JPEG_QUALITY = 95
# Bounds on sampling parameters (a person picks them; these stop accidents).
MAX_SAMPLE_COUNT = 10_000
MAX_KMEANS_COUNT = 1_000
MAX_INDICES = 1_000
MIN_SECONDS, MAX_SECONDS = 0.01, 3600.0


def sampling_params_clean(*, video: Video, strategy: str, params: dict) -> dict:
    """The parameters a job of ``strategy`` keeps, checked; ValidationError names the field."""
    if video.kind != Video.Kind.VIDEO:
        raise ValidationError(
            {"strategy": "An image set has no video to sample: its images are its frames."}
        )
    if strategy not in FrameSamplingJob.Strategy.values:
        choices = ", ".join(FrameSamplingJob.Strategy.values)
        raise ValidationError({"strategy": f"Must be one of {choices}."})
    clean: dict = {}
    if strategy == FrameSamplingJob.Strategy.EVERY_SECONDS:
        seconds = params.get("seconds")
        clean["seconds"] = _number(
            DEFAULT_SAMPLE_SECONDS if seconds is None else seconds,
            "seconds",
            MIN_SECONDS,
            MAX_SECONDS,
        )
    elif strategy in (FrameSamplingJob.Strategy.UNIFORM, FrameSamplingJob.Strategy.KMEANS):
        limit = (
            MAX_KMEANS_COUNT if strategy == FrameSamplingJob.Strategy.KMEANS else (MAX_SAMPLE_COUNT)
        )
        if params.get("n") is None:
            raise ValidationError({"n": "How many frames? Give a number."})
        clean["n"] = _whole(params["n"], "n", 1, limit)
    else:
        indices = params.get("indices")
        if not isinstance(indices, list | tuple) or not indices:
            raise ValidationError({"indices": "Give a list of frame indices."})
        if len(indices) > MAX_INDICES:
            raise ValidationError({"indices": f"At most {MAX_INDICES} frames at a time."})
        last = max(video.frame_count - 1, 0)
        clean["indices"] = sorted({_whole(i, "indices", 0, last) for i in indices})
    skip = params.get("skip_similar")
    if skip not in (None, "", 0, 0.0):
        clean["skip_similar"] = _number(skip, "skip_similar", 0.0, 1.0)
    return clean


def _number(value, field: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Must be a number."}) from None
    if isinstance(value, bool) or not np.isfinite(number) or not low <= number <= high:
        raise ValidationError({field: f"Must be a number from {low:g} to {high:g}."})
    return number


def _whole(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: "Must be a whole number."})
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 parses as inf
        raise ValidationError({field: "Must be a whole number."}) from None
    if number != value and str(number) != str(value).strip():
        raise ValidationError({field: "Must be a whole number."})
    if not low <= number <= high:
        raise ValidationError({field: f"Must be from {low} to {high}."})
    return number


def sampling_job_create(*, video: Video, user, strategy: str, params: dict) -> FrameSamplingJob:
    """Record a sampling job (QUEUED); :func:`sampling_job_dispatch` sends it."""
    clean = sampling_params_clean(video=video, strategy=strategy, params=params)
    return FrameSamplingJob.objects.create(
        video=video, strategy=strategy, params=clean, created_by=user
    )


def sampling_job_dispatch(*, job: FrameSamplingJob) -> None:
    """Hand the job to the ``default`` queue; on a broker outage the row is deleted and
    :class:`webapp.jobs.BrokerUnavailable` raised (the API answers 503)."""
    from ..tasks import frame_sampling_run  # the task module imports this one

    job_dispatch(job=job, task=frame_sampling_run)


def sampling_job_start(*, video: Video, user, strategy: str, params: dict) -> FrameSamplingJob:
    job = sampling_job_create(video=video, user=user, strategy=strategy, params=params)
    sampling_job_dispatch(job=job)
    return job


def sampling_job_start_after_upload(
    *, video: Video, user, seconds: float | None
) -> tuple[FrameSamplingJob | None, str | None]:
    """``(job, error)`` for the optional "sample a frame every ``seconds`` after upload":
    a broker outage does not undo the upload, the error says sampling was not started."""
    if seconds is None or video.kind != Video.Kind.VIDEO:
        return None, None
    try:
        job = sampling_job_start(
            video=video,
            user=user,
            strategy=FrameSamplingJob.Strategy.EVERY_SECONDS,
            params={"seconds": seconds},
        )
    except BrokerUnavailable as exc:
        return None, f"Sampling was not started: {exc}"
    return job, None


def sampling_job_execute(*, job_id: int) -> None:
    """Run a sampling job in a worker (:data:`labeling.jobs.FRAME_SAMPLING`). Safe to run
    twice: a second delivery finds the job claimed or finished, and frames already stored
    are never decoded again."""
    from ..jobs import FRAME_SAMPLING  # the kinds module imports this one

    job_run(FRAME_SAMPLING, job_id=job_id)


def sampling_job_work(run: JobRun) -> str:
    """Decode the wanted frames, store each new one, beat with progress."""
    job = run.job
    progress = run.state["sampling"] = _SamplingRun(run)
    try:
        video = Video.objects.get(pk=job.video_id)
    except Video.DoesNotExist:
        raise JobCancelled("The video was deleted.") from None
    try:
        with video_local_path(video=video) as path:
            existing = set(video.frames.values_list("frame_index", flat=True))
            for sampled in _sampler(job, path, skip=existing, progress=progress.on_progress):
                if frame_store(video=video, sampled=sampled) is not None:
                    progress.created += 1
                progress.beat()
    except VideoError as exc:
        if exc.detail:
            log.warning("sampling job %s: %s (%s)", job.pk, exc, exc.detail[-500:])
        raise JobFailed(str(exc)) from exc
    progress.beat(force=True)
    return progress.summary(done=True)


def sampling_job_stopped(run: JobRun) -> str:
    """The message of a job that did not finish: what it stored until then."""
    return run.state["sampling"].summary(done=False)


def sampling_job_after(run: JobRun) -> None:
    if "sampling" in run.state:
        FrameSamplingJob.objects.filter(pk=run.job.pk).update(
            frames_created=run.state["sampling"].created
        )


def frame_store(*, video: Video, sampled: SampledFrame) -> Frame | None:
    """Store one sampled frame; None when the video already has that frame (re-sampling
    and redelivered jobs never duplicate one) or no longer exists."""
    if Frame.objects.filter(video_id=video.pk, frame_index=sampled.index).exists():
        return None
    height, width = sampled.image.shape[:2]
    buffer = io.BytesIO()
    Image.fromarray(sampled.image[:, :, ::-1]).save(buffer, "JPEG", quality=FRAME_JPEG_QUALITY)
    name = default_storage.save(
        f"frames/{video.project_id}/{video.pk}/{sampled.index:07d}-{uuid.uuid4().hex[:8]}.jpg",
        ContentFile(buffer.getvalue()),
    )
    try:
        with transaction.atomic():
            return Frame.objects.create(
                project_id=video.project_id,
                video_id=video.pk,
                frame_index=sampled.index,
                timestamp_s=float(sampled.timestamp_s),
                image=name,
                width=width,
                height=height,
            )
    except IntegrityError:
        # Another job stored this frame first, or the video was deleted meanwhile.
        delete_quietly(name)
        return None
    except BaseException:
        delete_quietly(name)
        raise


def sampling_job_cancel(*, job: FrameSamplingJob) -> FrameSamplingJob:
    return job_cancel(job=job)


def _sampler(job: FrameSamplingJob, path: Path, *, skip: set[int], progress):
    params = job.params or {}
    common = {
        "skip_indices": skip,
        "skip_similar": params.get("skip_similar"),
        "progress": progress,
        "timeout_s": float(settings.DEFAULT_QUEUE_SOFT_TIME_LIMIT),
    }
    strategy = job.strategy
    if strategy == FrameSamplingJob.Strategy.EVERY_SECONDS:
        return sample_every_seconds(path, float(params["seconds"]), **common)
    if strategy == FrameSamplingJob.Strategy.UNIFORM:
        return sample_uniform(path, int(params["n"]), **common)
    if strategy == FrameSamplingJob.Strategy.KMEANS:
        return sample_kmeans(path, int(params["n"]), **common)
    if strategy == FrameSamplingJob.Strategy.INDICES:
        return sample_indices(path, [int(i) for i in params["indices"]], **common)
    raise VideoSampleError(f"Unknown sampling strategy {strategy!r}.")


class _SamplingRun:
    """Progress and heartbeats of one sampling job (beats are throttled: each one is
    two queries, and the page polls about once a second)."""

    def __init__(self, run: JobRun) -> None:
        self.run = run
        job = self.job = run.job
        self.created = 0
        self.progress = 0.0
        self.similar = 0
        self.failed = 0
        self.frames_read = ""
        self.kmeans = job.strategy == FrameSamplingJob.Strategy.KMEANS

    def on_progress(self, report: SampleProgress) -> None:
        fraction = report.frames_done / report.frame_count if report.frame_count else 0.0
        if self.kmeans:
            fraction = 0.5 * fraction + (0.5 if report.phase == "sample" else 0.0)
        self.progress = max(self.progress, min(fraction, 0.99))
        if report.phase == "sample":
            self.similar = report.frames_similar
            self.failed = report.frames_failed
        verb = "Scanning" if report.phase == "scan" else "Reading"
        self.frames_read = f"{verb} frame {report.frames_done:,} of {report.frame_count:,}"
        self.beat()

    def beat(self, force: bool = False) -> None:
        def counted() -> None:
            FrameSamplingJob.objects.filter(pk=self.job.pk).update(frames_created=self.created)

        message = f"{self.frames_read}: {self.created} new frames" if self.frames_read else None
        self.run.beat(progress=self.progress, message=message, force=force, before=counted)

    def summary(self, done: bool) -> str:
        parts = [f"{self.created} new frame{'s' if self.created != 1 else ''}"]
        if self.similar:
            parts.append(f"{self.similar} skipped as near-duplicates")
        if self.failed:
            parts.append(f"{self.failed} could not be decoded")
        return ("Done: " if done else "Stopped: ") + ", ".join(parts) + "."
