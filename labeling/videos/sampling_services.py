"""Frame sampling jobs: their parameters and the job's life (create, dispatch, cancel). The
worker side (decoding, storing each sampled frame) is :mod:`labeling.videos.sampling_work`.

Frames are decoded by :mod:`media.sampling` (a limited subprocess) and stored as
JPEG at quality 95: the source is already lossy (H.264), and at q95 the re-encoding error
is far below the codec's own, while a file is about a third of the PNG's size (40 KB
against 114 KB for a 640x480 open-field frame), which matters for thousands of frames read
again by every training run.
"""

from __future__ import annotations

import numpy as np

from django.core.exceptions import ValidationError

from webapp.jobs import BrokerUnavailable, job_cancel, job_dispatch

from ..models import FrameSamplingJob, Video

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


def sampling_job_cancel(*, job: FrameSamplingJob) -> FrameSamplingJob:
    return job_cancel(job=job)
