"""The worker side of frame sampling jobs (:data:`labeling.jobs.FRAME_SAMPLING`): decode
the wanted frames through :mod:`media.sampling` (a limited subprocess) and store each new
one as a ``Frame`` (JPEG at :data:`labeling.videos.sampling_services.FRAME_JPEG_QUALITY`).
Creating, dispatching and cancelling a job is :mod:`labeling.videos.sampling_services`.
"""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

from PIL import Image

from django.conf import settings
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
from webapp.jobs import JobCancelled, JobFailed, JobRun, job_run
from webapp.storage import delete_quietly

from ..models import Frame, FrameSamplingJob, Video
from .sampling_services import FRAME_JPEG_QUALITY
from .services import video_local_path

log = logging.getLogger(__name__)


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
