"""Every write of the tracking app except the run itself (see ``tracking.execution``).

``tracking_runs_create`` checks a request (model, videos, animals, parameters) and queues
one run per video on the ``gpu`` queue; ``tracking_run_cancel`` / ``tracking_run_retry``
act on a run; ``tracking_edit_*`` store a user's corrections of a trajectory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labeling.models import Project, Video
from training.models import TrainedModel
from webapp.jobs import (
    BrokerUnavailable,
    job_cancel,
    job_dispatch,
    job_retry,
)
from webapp.models import JobStatus

from .models import TrackingBatch, TrackingEdit, TrackingRender, TrackingRun
from .tasks import tracking_render_execute_task, tracking_run_execute_task

MAX_ANIMALS = 20
MAX_VIDEOS_PER_BATCH = 200
DEVICES = ("auto", "cpu") + tuple(str(i) for i in range(16))
BACKENDS = ("auto", "torch", "onnx")

# Engine parameters a user may set: (default, low, high). Everything is recorded per run.
_NUMBER_PARAMS: dict[str, tuple[float, float, float]] = {
    "conf": (0.25, 0.01, 1.0),  # detector confidence a detection needs to be kept
    "iou": (0.7, 0.05, 0.95),  # NMS overlap
    "max_gap_s": (0.5, 0.0, 10.0),  # longest gap interpolated; longer ones stay missing
    "outlier_factor": (1.0, 0.1, 20.0),  # a jump longer than this × body length is flagged
}


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError({field: f"Must be a whole number from {low} to {high}."})
    try:
        number = float(value)
    except ValueError:
        raise ValidationError({field: f"Must be a whole number from {low} to {high}."}) from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise ValidationError({field: f"Must be a whole number from {low} to {high}."})
    return int(number)


def _number(value: Any, field: str, low: float, high: float) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not low <= number <= high:
        raise ValidationError({field: f"Must be a number from {low} to {high}."})
    return number


def tracking_params_clean(*, params: Mapping[str, Any] | None, model: TrainedModel) -> dict:
    """The engine parameters with defaults filled in; ``ValidationError`` names the field."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(_NUMBER_PARAMS) - {"imgsz", "crop", "device", "backend"})
    if unknown:
        raise ValidationError({f"params.{unknown[0]}": "Unknown parameter."})
    clean: dict[str, Any] = {}
    for name, (default, low, high) in _NUMBER_PARAMS.items():
        clean[name] = _number(params.get(name, default), f"params.{name}", low, high)
    trained_at = int(model.imgsz or 640)
    imgsz = _whole(params.get("imgsz", trained_at), "params.imgsz", 32, 4096)
    if imgsz % 32:
        raise ValidationError({"params.imgsz": "Must be a multiple of 32 (the model's stride)."})
    clean["imgsz"] = imgsz
    crop = params.get("crop", True)
    if not isinstance(crop, bool):
        raise ValidationError({"params.crop": "Must be true or false."})
    clean["crop"] = crop
    device = str(params.get("device", "auto"))
    if device not in DEVICES:
        raise ValidationError({"params.device": "Use auto, cpu or a GPU index."})
    clean["device"] = device
    backend = str(params.get("backend", "auto"))
    if backend not in BACKENDS:
        raise ValidationError({"params.backend": f"Use one of {', '.join(BACKENDS)}."})
    clean["backend"] = backend
    return clean


def tracking_runs_create(
    *,
    project: Project,
    created_by,
    model: TrainedModel,
    videos: Sequence[Video],
    n_animals: int = 1,
    animals_per_video: Mapping[int, int] | None = None,
    params: Mapping[str, Any] | None = None,
) -> TrackingBatch:
    """Queue one tracking run per video (a batch); nothing is kept if queueing fails.

    ``animals_per_video`` overrides ``n_animals`` for some videos ({video id: count}).
    Raises ``ValidationError`` naming the field, or ``BrokerUnavailable``.
    """
    if model.project_id != project.pk:
        raise ValidationError({"model": "That model is not in this project."})
    if not model.weights:
        raise ValidationError({"model": "That model has no weights file."})
    videos = list(dict.fromkeys(videos))
    if not videos:
        raise ValidationError({"videos": "Choose at least one video."})
    if len(videos) > MAX_VIDEOS_PER_BATCH:
        raise ValidationError({"videos": f"At most {MAX_VIDEOS_PER_BATCH} videos at once."})
    for video in videos:
        if video.project_id != project.pk:
            raise ValidationError({"videos": "A video is not in this project."})
        if video.kind != Video.Kind.VIDEO:
            raise ValidationError({"videos": f"“{video.original_name}” is an image set."})
    n_animals = _whole(n_animals, "n_animals", 1, MAX_ANIMALS)
    overrides = {}
    for key, value in (animals_per_video or {}).items():
        video_id = _whole(key, "animals_per_video", 1, 2**62)
        if video_id not in {v.pk for v in videos}:
            raise ValidationError({"animals_per_video": f"Video {video_id} is not in the batch."})
        overrides[video_id] = _whole(value, f"animals_per_video.{video_id}", 1, MAX_ANIMALS)
    clean = tracking_params_clean(params=params, model=model)

    with transaction.atomic():
        batch = TrackingBatch.objects.create(project=project, model=model, created_by=created_by)
        runs = [
            TrackingRun.objects.create(
                project=project,
                batch=batch,
                model=model,
                model_sha256=model.weights_sha256,
                video=video,
                n_animals=overrides.get(video.pk, n_animals),
                params=clean,
                frames_total=video.frame_count,
                created_by=created_by,
                message="Waiting for a GPU worker",
            )
            for video in videos
        ]
    try:
        for run in runs:
            _dispatch(run)
    except BrokerUnavailable:
        # job_dispatch deleted the run it failed on; the others of the batch go too.
        TrackingRun.objects.filter(batch=batch).delete()
        batch.delete()
        raise
    return batch


def _dispatch(run: TrackingRun) -> None:
    job_dispatch(job=run, task=tracking_run_execute_task)


def tracking_run_cancel(*, run: TrackingRun) -> TrackingRun:
    """Stop a run: a queued one at once, a running one after its current chunk."""
    return job_cancel(job=run, what="run", refuse_ended=True)


def tracking_run_retry(*, run: TrackingRun) -> TrackingRun:
    """Queue a failed, timed-out or cancelled run again; it resumes from its stored chunks."""
    return job_retry(
        job=run,
        task=tracking_run_execute_task,
        what="run",
        message="Queued again (resumes from the frames already tracked)",
        extra_fields={"failed_at_frame": None},
    )


def _finished_run(run: TrackingRun) -> None:
    if run.status != JobStatus.SUCCEEDED or not run.trajectory:
        raise ValidationError({"run": "The run has no trajectory yet."})


def tracking_edit_swap(
    *,
    run: TrackingRun,
    created_by,
    animal_a: Any,
    animal_b: Any,
    from_frame: Any,
    to_frame: Any = None,
) -> TrackingEdit:
    """Store "swap identities A and B from ``from_frame`` on (to ``to_frame``, inclusive)"."""
    _finished_run(run)
    a = _whole(animal_a, "animal_a", 1, run.n_animals)
    b = _whole(animal_b, "animal_b", 1, run.n_animals)
    if a == b:
        raise ValidationError({"animal_b": "Choose two different animals."})
    last = max(run.frames_total - 1, 0)
    start = _whole(from_frame, "from_frame", 0, last)
    end = None
    if to_frame not in (None, ""):
        end = _whole(to_frame, "to_frame", start, last)
    return TrackingEdit.objects.create(
        run=run,
        kind=TrackingEdit.Kind.SWAP,
        animal_a=min(a, b),
        animal_b=max(a, b),
        from_frame=start,
        to_frame=end,
        created_by=created_by,
    )


def tracking_edit_revert(*, edit: TrackingEdit) -> TrackingEdit:
    """Undo an edit (kept in the history); the trajectory is as if it never happened."""
    if edit.reverted_at is None:
        edit.reverted_at = timezone.now()
        edit.save(update_fields=["reverted_at"])
    return edit


def tracking_render_create(*, run: TrackingRun, created_by) -> TrackingRender:
    """Queue the annotated MP4 of a finished run (with its current edits)."""
    _finished_run(run)
    render = TrackingRender.objects.create(
        run=run, created_by=created_by, message="Waiting for a worker"
    )
    job_dispatch(job=render, task=tracking_render_execute_task)
    return render
