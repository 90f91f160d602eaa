"""Every write of the tracking app except the run itself (see ``tracking.run_work``).

``tracking_runs_create`` checks a request (model, videos, animals, parameters) and queues
one run per video on the ``gpu`` queue; ``tracking_run_cancel`` / ``tracking_run_retry``
act on a run; ``tracking_edit_*`` store a user's corrections of a trajectory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labeling.models import Project, Video
from training.models import TrainedModel
from webapp.job_refs import job_label, jobs_active_referring_to
from webapp.jobs import (
    BrokerUnavailable,
    job_cancel,
    job_dispatch,
    job_retry,
)
from webapp.models import JobStatus
from webapp.storage import delete_quietly, delete_tree_quietly

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
        # Locking the videos serializes parallel starts on them (PostgreSQL; SQLite's
        # IMMEDIATE transactions already do), so 20 identical requests queue one run.
        # (In id order: two batches sharing videos lock them in the same order, no deadlock.)
        locked = Video.objects.select_for_update().filter(pk__in=[v.pk for v in videos])
        list(locked.order_by("pk"))
        for video in videos:
            same = tracking_run_identical_active(
                model=model,
                video=video,
                n_animals=overrides.get(video.pk, n_animals),
                params=clean,
            )
            if same is not None:
                raise ValidationError({"videos": _already_tracking(video, same)})
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


def tracking_run_identical_active(
    *, model: TrainedModel, video: Video, n_animals: int, params: Mapping[str, Any]
) -> TrackingRun | None:
    """A queued or running run of ``video`` with the same model, animals and parameters.

    A second identical run would only redo the same work (a double click, a client retry),
    so it is refused while one is on its way; once that one ended, the same request is
    allowed again (e.g. to re-track with a retrained model of the same name).
    """
    wanted = {k: v for k, v in params.items() if k != "engine"}
    active = TrackingRun.objects.filter(
        video=video,
        model=model,
        n_animals=n_animals,
        status__in=(JobStatus.QUEUED, JobStatus.RUNNING),
    ).order_by("pk")
    for run in active:
        # The worker adds the engine's full records under "engine"; the request is the rest.
        if {k: v for k, v in run.params.items() if k != "engine"} == wanted:
            return run
    return None


def _already_tracking(video: Video, run: TrackingRun) -> str:
    return (
        f"“{video.original_name}” is already being tracked with this model, animals and "
        f"parameters: run #{run.pk} ({run.get_status_display().lower()})."
    )


def _dispatch(run: TrackingRun) -> None:
    job_dispatch(job=run, task=tracking_run_execute_task)


def tracking_run_cancel(*, run: TrackingRun) -> TrackingRun:
    """Stop a run: a queued one at once, a running one after its current chunk."""
    return job_cancel(job=run, what="run", refuse_ended=True)


def tracking_run_retry(*, run: TrackingRun) -> TrackingRun:
    """Queue a failed, timed-out or cancelled run again; it resumes from its stored chunks.

    Refused while an identical run (same video, model, animals, parameters) is queued or
    running: both would do the same work.
    """
    with transaction.atomic():
        video = Video.all_objects.select_for_update().get(pk=run.video_id)
        same = tracking_run_identical_active(
            model=run.model, video=video, n_animals=run.n_animals, params=run.params
        )
        if same is not None and same.pk != run.pk:
            raise ValidationError({"status": _already_tracking(video, same)})
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
) -> tuple[TrackingEdit, bool]:
    """Store "swap identities A and B from ``from_frame`` on (to ``to_frame``, inclusive)".

    Idempotent: when the same swap is already active (a double click, a retried request)
    that edit is returned and nothing is added; two identical swaps would cancel out.
    Returns ``(edit, created)``.
    """
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
    same = {
        "kind": TrackingEdit.Kind.SWAP,
        "animal_a": min(a, b),
        "animal_b": max(a, b),
        "from_frame": start,
        "to_frame": end,
    }
    with transaction.atomic():
        # The run's row is the lock that serializes edits of one run (PostgreSQL; SQLite's
        # IMMEDIATE transactions serialize anyway), so the check and the insert are one step.
        TrackingRun.objects.select_for_update().filter(pk=run.pk).first()
        existing = run.edits.filter(reverted_at__isnull=True, **same).order_by("pk").first()
        if existing is not None:
            return existing, False
        return TrackingEdit.objects.create(run=run, created_by=created_by, **same), True


def tracking_edit_revert(*, edit: TrackingEdit) -> TrackingEdit:
    """Undo an edit (kept in the history); the trajectory is as if it never happened."""
    if edit.reverted_at is None:
        edit.reverted_at = timezone.now()
        edit.save(update_fields=["reverted_at"])
    return edit


# Checks another part of the app adds (e.g. the experiment table's per-video run choice):
# each takes a run and returns why it cannot be deleted, or None.
RUN_DELETE_CHECKS: list[Callable[[TrackingRun], str | None]] = []


def tracking_run_delete_blockers(*, run: TrackingRun) -> list[str]:
    """Why ``run`` cannot be deleted now (empty: it can)."""
    reasons = []
    if run.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        reasons.append(
            f"Run #{run.pk} is {run.get_status_display().lower()}; cancel it first (a running "
            "run stops after its current chunk)."
        )
    active = jobs_active_referring_to(run)
    if active:
        listed = ", ".join(job_label(job) for job in active)
        reasons.append(f"Work on this run is not finished: {listed}.")
    for check in RUN_DELETE_CHECKS:
        reason = check(run)
        if reason:
            reasons.append(reason)
    return reasons


def tracking_run_delete(*, run: TrackingRun) -> None:
    """Delete a run with its edits, renders and stored files (chunks, trajectory, MP4s).

    Refused (ValidationError on ``run``) while it is queued or running, while a job works
    on it (a render, hard frames) or while a check of ``RUN_DELETE_CHECKS`` objects. Its
    model and video stay. The files go once the transaction has committed.
    """
    with transaction.atomic():
        locked = TrackingRun.objects.select_for_update().filter(pk=run.pk).first()
        if locked is None:
            return
        reasons = tracking_run_delete_blockers(run=locked)
        if reasons:
            raise ValidationError({"run": " ".join(reasons)})
        names = [locked.trajectory.name or ""]
        names += [r.file.name for r in locked.renders.all() if r.file]
        prefix = f"tracking/{locked.project_id}/{locked.pk}"
        batch_id = locked.batch_id
        locked.delete()
        # A batch is only its runs: the last one takes it along (batches PROTECT models).
        TrackingBatch.objects.filter(pk=batch_id, runs__isnull=True).delete()

        def remove_files() -> None:
            delete_quietly(*names)
            delete_tree_quietly(prefix)

        transaction.on_commit(remove_files)


def tracking_render_create(*, run: TrackingRun, created_by) -> TrackingRender:
    """Queue the annotated MP4 of a finished run (with its current edits)."""
    _finished_run(run)
    render = TrackingRender.objects.create(
        run=run, created_by=created_by, message="Waiting for a worker"
    )
    job_dispatch(job=render, task=tracking_render_execute_task)
    return render
