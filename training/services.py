"""Every write to training jobs and the model registry.

``training_job_create`` checks the request (preset, hyperparameters, dataset version,
starting weights), stores an uploaded checkpoint, creates the row and hands it to the ``gpu``
queue after the commit. ``training_job_execute`` is what the worker runs (see
:mod:`training.tasks`); ``training_job_cancel`` and ``training_job_retry`` are the buttons.

How a run survives trouble:

- A redelivered message does nothing: ``webapp.jobs.job_claim`` takes the row first.
- A background thread beats ``heartbeat_at`` every ``JOB_HEARTBEAT_INTERVAL`` seconds while
  Ultralytics trains; a killed worker stops beating and ``webapp.jobs.jobs_fail_stale``
  (Celery beat, every minute) marks the job FAILED.
- After every epoch ``last.pt`` (resumable, with optimizer state) is copied into storage as
  ``TrainingJob.checkpoint``, and ``best.pt`` as ``best_checkpoint`` whenever it changed, so a
  retry on any worker resumes at the next epoch.
- Cancel: the heartbeat thread sees ``cancel_requested``; Ultralytics stops after the current
  batch, validates and saves; the best weights so far are registered as a *partial*
  :class:`TrainedModel` and the resumable checkpoint is kept (a retry continues training).
- Celery's soft time limit: the checkpoint of the last finished epoch is kept, the best
  weights so far are registered as a partial model, status TIMED_OUT, GPU memory released.

A model becomes visible (and downloadable) only in the transaction that finishes its job,
after its files are completely stored and hashed.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling.dataset_versions import dataset_version_create, dataset_version_write_yolo
from labeling.models import DatasetVersion, Project
from webapp.jobs import (
    BrokerUnavailable,
    JobCancelled,
    job_claim,
    job_dispatch,
    job_heartbeat,
    job_request_cancel,
)
from webapp.models import TERMINAL_STATUSES, JobStatus
from webapp.storage import delete_quietly, local_copy, scratch_dir, sha256_of_file, store_file

from . import checkpoint_probe
from .model_card import card_build
from .models import EpochMetric, TrainedModel, TrainingJob
from .presets import PRESETS, HyperparameterError, Hyperparameters, preset_get

log = logging.getLogger(__name__)

# Short names for the seed paper's two models (the `train` command and the API accept them).
PRESET_ALIASES = {"tiny": "yolov3-tiny", "full": "yolov3"}
MAX_CHECKPOINT_BYTES = 2 * 1024**3
LOG_TAIL_LINES = 200
RETRYABLE_STATUSES = (JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.CANCELLED)


@dataclass(frozen=True)
class IncomingCheckpoint:
    """An uploaded ``.pt`` file: a local temp file; ``name`` is display text only."""

    path: Path
    name: str
    size: int


def _trainer():
    """``training.trainer``, configured to work offline with its files under var/."""
    from . import trainer

    trainer.configure_offline(Path(settings.VAR_DIR))
    return trainer


def preset_resolve(key: str) -> str:
    """The PRESETS key for ``key`` or an alias (``tiny``, ``full``); ValidationError if none."""
    key = PRESET_ALIASES.get(key, key)
    try:
        return preset_get(key).key
    except KeyError as exc:
        choices = ", ".join([*PRESETS, *PRESET_ALIASES])
        raise ValidationError(
            {"preset": f"Unknown preset “{key}”; choose one of {choices}."}
        ) from exc


def _preset_for_architecture(architecture: str) -> str:
    """The preset whose model YAML built a checkpoint, else the YAML's stem ("custom")."""
    for preset in PRESETS.values():
        if preset.model_yaml == architecture:
            return preset.key
    return (Path(architecture).stem or "custom")[:32]


def _hyperparameters(preset: str, values: dict[str, Any]) -> Hyperparameters:
    base = PRESETS[preset].hyperparameters if preset in PRESETS else Hyperparameters()
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return Hyperparameters.from_dict(given, base=base)
    except HyperparameterError as exc:
        raise ValidationError(exc.errors) from exc


def _probe_message(exc: Exception, *, path: Path, display: str) -> str:
    # The checker names the temp file it read: show the person's own file name instead.
    return str(exc).replace(str(path), display).replace(path.name, display)


# --------------------------------------------------------------------------------------
# Create, cancel, retry


def training_job_create(
    *,
    project: Project,
    created_by,
    preset: str = "",
    hyperparameters: dict[str, Any] | None = None,
    dataset_version: DatasetVersion | None = None,
    start_from: str = TrainingJob.StartFrom.SCRATCH,
    start_model: TrainedModel | None = None,
    checkpoint: IncomingCheckpoint | None = None,
    start_weights_name: str = "",
    name: str = "",
) -> TrainingJob:
    """Check the request, create the job and queue it on the ``gpu`` queue.

    ``dataset_version`` None: a version is made from the current labels. Starting from
    weights (a model trained here, an uploaded ``.pt`` or official weights installed on the
    workers), the architecture is the checkpoint's, and ``preset`` records it.
    Raises ``ValidationError`` naming the field (nothing stored) or ``BrokerUnavailable``
    (nothing kept either: the job, an uploaded file or a version made for it are removed).
    """
    name = (name or "").strip()
    if len(name) > 120:
        raise ValidationError({"name": "A name has at most 120 characters."})
    if start_from not in TrainingJob.StartFrom.values:
        raise ValidationError({"start_from": f"Choose one of {', '.join(TrainingJob.StartFrom)}."})
    if dataset_version is not None and dataset_version.project_id != project.pk:
        raise ValidationError({"dataset_version": "That dataset version is not in this project."})

    start_label = ""
    stored_checkpoint = ""
    checkpoint_name = ""
    weights_name = ""
    if start_from == TrainingJob.StartFrom.SCRATCH:
        if not preset:
            raise ValidationError({"preset": "Choose a model preset."})
        preset = preset_resolve(preset)
        start_model = None
        start_label = f"from scratch ({PRESETS[preset].model_yaml})"
    elif start_from == TrainingJob.StartFrom.MODEL:
        if start_model is None or start_model.project_id != project.pk:
            raise ValidationError({"start_model": "Choose a model trained in this project."})
        preset = start_model.preset
        start_label = f"model #{start_model.pk} “{start_model.name}”"
    elif start_from == TrainingJob.StartFrom.OFFICIAL:
        weights_name = (start_weights_name or "").strip()
        if not weights_name:
            raise ValidationError({"start_weights_name": "Name the weights file, e.g. yolo11n.pt."})
        try:
            summary = checkpoint_probe.probe_official_weights(
                weights_name, var_dir=Path(settings.VAR_DIR)
            )
        except (checkpoint_probe.WeightsUnavailable, checkpoint_probe.CheckpointRejected) as exc:
            raise ValidationError({"start_weights_name": str(exc)}) from exc
        preset = _preset_for_architecture(summary.architecture)
        start_model = None
        start_label = f"official weights {weights_name}"
    else:  # UPLOAD
        start_model = None
        if checkpoint is None:
            raise ValidationError({"checkpoint": "Upload a .pt checkpoint."})
        checkpoint_name = _display_name(checkpoint.name)
        summary = _checked_upload(checkpoint, display=checkpoint_name)
        preset = _preset_for_architecture(summary.architecture)
        start_label = f"uploaded {checkpoint_name}"

    hp = _hyperparameters(preset, hyperparameters or {})
    preset_label = PRESETS[preset].label if preset in PRESETS else preset

    made_version = None
    try:
        if checkpoint is not None and start_from == TrainingJob.StartFrom.UPLOAD:
            stored_checkpoint = store_file(
                local_path=checkpoint.path,
                name=f"training/{project.pk}/uploads/{uuid.uuid4().hex}.pt",
            )
        with transaction.atomic():
            if dataset_version is None:
                made_version = dataset_version = dataset_version_create(
                    project=project, name="", created_by=created_by
                )
            job = TrainingJob.objects.create(
                project=project,
                dataset_version=dataset_version,
                preset=preset,
                start_from=start_from,
                start_model=start_model,
                start_checkpoint=stored_checkpoint,
                start_checkpoint_name=checkpoint_name,
                start_weights_name=weights_name,
                name=name,
                hyperparameters=hp.to_dict(),
                epochs_total=hp.epochs,
                created_by=created_by,
                queued_at=timezone.now(),
                message="Waiting for a GPU worker",
                log_tail=_log_line(
                    f"Queued: {preset_label}, {start_label}, dataset “{dataset_version.name}”"
                ),
            )
    except BaseException:
        # The transaction rolled back: the files written for it must go too.
        delete_quietly(stored_checkpoint, made_version.manifest.name if made_version else "")
        raise
    try:
        _dispatch(job)
    except BrokerUnavailable:
        delete_quietly(stored_checkpoint)
        if made_version is not None:
            delete_quietly(made_version.manifest.name)
            made_version.delete()
        raise
    return job


def _display_name(name: str) -> str:
    return (Path(str(name or "")).name or "checkpoint.pt")[:255]


def _checked_upload(checkpoint: IncomingCheckpoint, *, display: str):
    """Refuse anything but a loadable detection checkpoint, checked in a limited child."""
    if not display.lower().endswith(".pt"):
        raise ValidationError({"checkpoint": f"“{display}” is not a .pt file."})
    if checkpoint.size <= 0:
        raise ValidationError({"checkpoint": f"“{display}” is empty."})
    if checkpoint.size > MAX_CHECKPOINT_BYTES:
        raise ValidationError({"checkpoint": f"“{display}” is larger than 2 GB."})
    # The checker sees a server-chosen name: the person's file name is display text only.
    with tempfile.TemporaryDirectory(dir=scratch_dir("tmp")) as tmp:
        path = Path(tmp) / "upload.pt"
        try:
            path.hardlink_to(checkpoint.path)
        except OSError:
            shutil.copyfile(checkpoint.path, path)
        try:
            return checkpoint_probe.probe_checkpoint(path, var_dir=Path(settings.VAR_DIR))
        except checkpoint_probe.CheckpointRejected as exc:
            raise ValidationError(
                {"checkpoint": _probe_message(exc, path=path, display=display)}
            ) from exc


def _dispatch(job: TrainingJob) -> None:
    from .tasks import training_job_run

    job_dispatch(job=job, task=training_job_run)


def training_job_cancel(*, job: TrainingJob) -> TrainingJob:
    """Stop a job: a queued one at once, a running one within one epoch (best weights kept)."""
    if job.status in TERMINAL_STATUSES:
        raise ValidationError({"status": f"The job already ended ({job.get_status_display()})."})
    job_request_cancel(job=job)
    if job.status == JobStatus.CANCELLED:
        _append_log(job.pk, "Cancelled before it started")
    return job


def training_job_retry(*, job: TrainingJob) -> TrainingJob:
    """Queue a failed, timed-out or cancelled job again; it resumes from its checkpoint."""
    previous = {
        "status": job.status,
        "attempts": job.attempts,
        "error": job.error,
        "finished_at": job.finished_at,
        "cancel_requested": job.cancel_requested,
        "message": job.message,
        "queued_at": job.queued_at,
    }
    resume = f" (resumes after epoch {job.epochs_done})" if job.checkpoint else ""
    fields = {
        "status": JobStatus.QUEUED,
        # attempts counts automatic redeliveries of one request; a person asking again
        # starts a new count.
        "attempts": 0,
        "error": "",
        "finished_at": None,
        "cancel_requested": False,
        "message": f"Queued again{resume}",
        "queued_at": timezone.now(),
    }
    with transaction.atomic():
        updated = TrainingJob.objects.filter(pk=job.pk, status__in=RETRYABLE_STATUSES).update(
            **fields
        )
    if not updated:
        job.refresh_from_db()
        raise ValidationError(
            {
                "status": f"Only failed, timed-out or cancelled jobs can be retried; this one is "
                f"{job.get_status_display().lower()}."
            }
        )
    _append_log(job.pk, f"Retry requested{resume}")
    from .tasks import training_job_run

    try:
        result = training_job_run.apply_async(args=[job.pk], retry=False)
    except Exception as exc:  # kombu and redis raise their own errors
        # Unlike a new job, a retried one has history worth keeping: put it back as it was.
        TrainingJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(**previous)
        job.refresh_from_db()
        raise BrokerUnavailable("The job queue (Redis) is not reachable; try again.") from exc
    TrainingJob.objects.filter(pk=job.pk).update(celery_task_id=result.id or "")
    job.refresh_from_db()
    return job


# --------------------------------------------------------------------------------------
# The run on the worker


def _log_line(text: str) -> str:
    return f"{timezone.now():%H:%M:%S} {text}"


def _append_log(job_id: int, text: str) -> None:
    job = TrainingJob.objects.filter(pk=job_id).only("log_tail").first()
    if job is None:
        return
    lines = (job.log_tail.splitlines() + [_log_line(text)])[-LOG_TAIL_LINES:]
    TrainingJob.objects.filter(pk=job_id).update(log_tail="\n".join(lines))


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class _Heartbeat:
    """Beats the job's heartbeat from a thread while Ultralytics holds the main one.

    ``stop_requested`` is set once the job should stop: a person cancelled it, or the row is
    no longer RUNNING (the stale check gave up on it, so another attempt may take over).
    """

    def __init__(self, job_id: int, interval_s: float):
        self.job_id = job_id
        self.interval_s = max(0.2, float(interval_s))
        self.stop_requested = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def beat(self, **fields: Any) -> None:
        try:
            job_heartbeat(job=TrainingJob(pk=self.job_id), **fields)
        except JobCancelled:
            self.stop_requested.set()

    def _run(self) -> None:
        try:
            while not self._done.wait(self.interval_s):
                try:
                    self.beat()
                except Exception:  # a locked or restarting database: try again next beat
                    log.exception("heartbeat of training job %s failed", self.job_id)
        finally:
            connection.close()  # this thread's own database connection


class _Run:
    """One attempt at one job on this worker."""

    def __init__(self, job: TrainingJob):
        self.job = job
        self.work = scratch_dir("training", f"job-{job.pk}")
        self.lines = job.log_tail.splitlines()
        self.heartbeat: _Heartbeat | None = None
        self._best_mtime: int | None = None
        self.run_dir = self.work / "run"
        self.started = time.monotonic()

    # -- logging and progress ----------------------------------------------------------
    def log(self, text: str) -> None:
        self.lines = (self.lines + [_log_line(text)])[-LOG_TAIL_LINES:]
        TrainingJob.objects.filter(pk=self.job.pk).update(log_tail="\n".join(self.lines))

    def should_stop(self) -> bool:
        return self.heartbeat is not None and self.heartbeat.stop_requested.is_set()

    # -- inputs ------------------------------------------------------------------------
    def _fetch(self, stored_name: str, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        with local_copy(stored_name) as path:
            shutil.copyfile(path, target)
        return target

    def _start_source(self) -> str | Path:
        job = self.job
        if job.start_from == TrainingJob.StartFrom.MODEL and job.start_model_id:
            return self._fetch(job.start_model.weights.name, self.work / "inputs" / "start.pt")
        if job.start_from == TrainingJob.StartFrom.UPLOAD and job.start_checkpoint:
            return self._fetch(job.start_checkpoint.name, self.work / "inputs" / "start.pt")
        if job.start_from == TrainingJob.StartFrom.OFFICIAL:
            return job.start_weights_name  # resolved in the offline weights folder, or refused
        return job.preset

    # -- per-epoch ---------------------------------------------------------------------
    def on_epoch_end(self, report) -> None:
        job = self.job
        EpochMetric.objects.update_or_create(
            job=job,
            epoch=report.epoch,
            defaults={
                "box_loss": report.box_loss,
                "cls_loss": report.cls_loss,
                "dfl_loss": report.dfl_loss,
                "precision": report.precision,
                "recall": report.recall,
                "map50": report.map50,
                "map50_95": report.map50_95,
                "epoch_time_s": report.epoch_time_s,
                "extra": {**report.extra, **({"partial": True} if report.partial else {})},
            },
        )
        updates: dict[str, Any] = {}
        replaced: list[str] = []
        # A checkpoint of the final epoch can't be resumed (nothing is left to train).
        if report.last_checkpoint is not None and report.epoch < report.epochs:
            updates["checkpoint"] = self._store(report.last_checkpoint, "last")
            replaced.append(job.checkpoint.name)
        best = self.run_dir / "weights" / "best.pt"
        if best.is_file() and best.stat().st_mtime_ns != self._best_mtime:
            self._best_mtime = best.stat().st_mtime_ns
            updates["best_checkpoint"] = self._store(best, "best")
            replaced.append(job.best_checkpoint.name)
        for field, value in updates.items():
            setattr(job, field, value)
        metrics = " ".join(
            f"{label} {value:.3f}"
            for label, value in (
                ("box", report.box_loss),
                ("cls", report.cls_loss),
                ("dfl", report.dfl_loss),
                ("P", report.precision),
                ("R", report.recall),
                ("mAP50", report.map50),
                ("mAP50-95", report.map50_95),
            )
            if value is not None
        )
        partial = " (cut short)" if report.partial else ""
        self.lines = (
            self.lines
            + [
                _log_line(
                    f"epoch {report.epoch}/{report.epochs}{partial}  {metrics}  "
                    f"{report.epoch_time_s:.1f} s"
                )
            ]
        )[-LOG_TAIL_LINES:]
        eta = f" · about {_duration(report.eta_s)} left" if report.eta_s > 0 else ""
        map50 = f" · mAP50 {report.map50:.3f}" if report.map50 is not None else ""
        TrainingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            epochs_done=report.epoch,
            epochs_total=report.epochs,
            eta_s=report.eta_s,
            log_tail="\n".join(self.lines),
            **{field: value for field, value in updates.items()},
        )
        # Only once the row names the new files: a worker killed in between leaves the row
        # pointing at complete files, never at deleted ones.
        delete_quietly(*replaced)
        if self.heartbeat is not None:
            self.heartbeat.beat(
                progress=report.epoch / max(1, report.epochs),
                message=f"Epoch {report.epoch}/{report.epochs}{map50}{eta}",
            )

    def _store(self, local: Path, kind: str) -> str:
        """Store ``local`` under a fresh name (the row is updated to it afterwards)."""
        return store_file(
            local_path=local,
            name=f"training/{self.job.project_id}/jobs/{self.job.pk}/{kind}-{uuid.uuid4().hex}.pt",
        )

    # -- the attempt -------------------------------------------------------------------
    def execute(self) -> None:
        job = self.job
        trainer = None
        result = None
        timed_out = False
        shutil.rmtree(self.work, ignore_errors=True)  # leftovers of an attempt killed here
        self.work.mkdir(parents=True)
        try:
            with _Heartbeat(job.pk, settings.JOB_HEARTBEAT_INTERVAL) as heartbeat:
                self.heartbeat = heartbeat
                self.log(f"Attempt {job.attempts} on {socket.gethostname()}")
                heartbeat.beat(message="Writing the dataset")
                data_yaml = dataset_version_write_yolo(
                    version=job.dataset_version, out_dir=self.work / "dataset"
                )
                counts = job.dataset_version.frame_counts
                self.log(
                    f"Dataset “{job.dataset_version.name}”: {counts.get('train', 0)} train, "
                    f"{counts.get('val', 0)} val frames"
                )
                trainer = _trainer()
                hp = Hyperparameters.from_dict(job.hyperparameters)
                resume_from = None
                if job.checkpoint:
                    resume_from = self._fetch(job.checkpoint.name, self.work / "inputs" / "last.pt")
                    if job.best_checkpoint:
                        self._fetch(job.best_checkpoint.name, self.run_dir / "weights" / "best.pt")
                        self._best_mtime = (self.run_dir / "weights" / "best.pt").stat().st_mtime_ns
                    self.log(f"Resuming after epoch {job.epochs_done} from the stored checkpoint")
                    source: str | Path = job.preset
                else:
                    source = self._start_source()
                if heartbeat.stop_requested.is_set():
                    # Cancelled while the dataset was being written: nothing trained yet.
                    raise JobCancelled()
                heartbeat.beat(message="Training")
                try:
                    result = trainer.train(
                        data_yaml=data_yaml,
                        preset_or_model=source,
                        hyperparameters=hp,
                        project_dir=self.run_dir,
                        on_epoch_end=self.on_epoch_end,
                        should_stop=self.should_stop,
                        resume_from=resume_from,
                    )
                except SoftTimeLimitExceeded:
                    timed_out = True
                self._finish(trainer, result, timed_out=timed_out)
        except SoftTimeLimitExceeded:
            # The limit struck outside training (writing the dataset, registering the model).
            self._end(JobStatus.TIMED_OUT, "The time limit was reached; the checkpoint is kept.")
        except JobCancelled:
            self._end(JobStatus.CANCELLED, "Cancelled")
        except Exception as exc:
            log.exception("training job %s failed", job.pk)
            self._end(JobStatus.FAILED, "Training failed", error=_error_text(exc))
        finally:
            self.heartbeat = None
            result = None
            _release_memory()
            shutil.rmtree(self.work, ignore_errors=True)

    def _end(self, status: str, message: str, *, error: str = "") -> None:
        """Finish without a model (no-op if the job already ended elsewhere)."""
        self.log(f"{message}{': ' + error.splitlines()[0] if error else ''}")
        TrainingJob.objects.filter(pk=self.job.pk).exclude(status__in=TERMINAL_STATUSES).update(
            status=status,
            finished_at=timezone.now(),
            error=error,
            message=message[:500],
            eta_s=None,
            training_time_s=F("training_time_s") + (time.monotonic() - self.started),
        )

    def _finish(self, trainer, result, *, timed_out: bool) -> None:
        job = self.job
        state = TrainingJob.objects.filter(pk=job.pk).values("status", "cancel_requested").first()
        if state is None or state["status"] != JobStatus.RUNNING:
            # The stale check gave up on this attempt (or the job was deleted): another
            # attempt owns the job now, so this one registers nothing.
            self.log("This attempt was taken off the job; nothing registered")
            return
        if result is not None:
            for warning in result.warnings[-20:]:
                self.log(f"Ultralytics: {warning}")
            if result.resume_checkpoint is not None:
                # The end of training stripped last.pt; the resumable copy replaces it.
                old = job.checkpoint.name
                job.checkpoint = self._store(result.resume_checkpoint, "last")
                TrainingJob.objects.filter(pk=job.pk).update(checkpoint=job.checkpoint)
                delete_quietly(old)
        if timed_out:
            status, stopped = JobStatus.TIMED_OUT, "timed_out"
            message = "The time limit was reached; the best weights so far are registered"
        elif result.stopped == "cancelled":
            status, stopped = JobStatus.CANCELLED, "cancelled"
            message = "Cancelled; the best weights so far are registered"
        else:
            status, stopped = JobStatus.SUCCEEDED, result.stopped
            message = "Finished" if stopped == "completed" else "Stopped early (no improvement)"
        weights = None
        if result is not None:
            weights = result.best if result.best.is_file() else result.last
        else:
            best = self.run_dir / "weights" / "best.pt"
            weights = best if best.is_file() else None
        if weights is None or not weights.is_file():
            self._end(status, f"{message.split(';')[0]}; no epoch finished, so no model")
            return
        model = _register(
            trainer=trainer,
            job=job,
            weights=weights,
            result=result,
            attempt_s=time.monotonic() - self.started,
            stopped=stopped,
            status=status,
            message=message,
            work=self.work / "register",
            log=self.log,
        )
        if model is not None:
            self.log(f"Registered model #{model.pk} ({'partial' if model.partial else 'final'})")
            if status == JobStatus.SUCCEEDED:
                # Every successful job ends with an evaluation on its test split (val if the
                # test split is empty), queued on the gpu queue; it never fails the job.
                from evaluation.services import evaluation_run_after_training

                evaluation = evaluation_run_after_training(model=model, user=job.created_by)
                if evaluation is not None:
                    self.log(f"Evaluation #{evaluation.pk} queued on the {evaluation.split} split")


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:4000]


def _release_memory() -> None:
    """Free what a finished or interrupted run left on the GPU for the next job."""
    gc.collect()
    with contextlib.suppress(Exception):
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def training_job_execute(*, job_id: int) -> None:
    """Run the training job ``job_id`` on this worker (the ``gpu`` queue's task)."""
    job = job_claim(model=TrainingJob, job_id=job_id)
    if job is None:
        return  # finished, cancelled, or running elsewhere: a redelivered message
    job = TrainingJob.objects.select_related("dataset_version", "start_model", "project").get(
        pk=job.pk
    )
    _Run(job).execute()


# --------------------------------------------------------------------------------------
# The model registry


def _register(
    *,
    trainer,
    job: TrainingJob,
    weights: Path,
    result,
    attempt_s: float,
    stopped: str,
    status: str,
    message: str,
    work: Path,
    log: Callable[[str], None],
) -> TrainedModel | None:
    """Store the weights (and their ONNX export), then in one transaction create the model
    and finish the job; returns None (files removed) if the job ended elsewhere meanwhile."""
    trainer = trainer or _trainer()
    work.mkdir(parents=True, exist_ok=True)
    hp = Hyperparameters.from_dict(job.hyperparameters)
    # A private copy under a temporary name: what is hashed is exactly what is stored.
    local_pt = work / "model.pt.part"
    shutil.copyfile(weights, local_pt)
    local_pt = local_pt.rename(work / "model.pt")
    info = trainer.load_checkpoint_check(local_pt)
    imgsz = int(info.train_args.get("imgsz") or hp.imgsz)
    parameters = gflops = None
    try:
        parameters, gflops = trainer.model_info(local_pt, imgsz=imgsz)
    except Exception as exc:
        log(f"Could not count parameters/GFLOPs: {_error_text(exc)}")
    onnx_path, onnx_error = None, ""
    try:
        onnx_path = trainer.export_onnx(local_pt, imgsz, output=work / "model.onnx")
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        onnx_error = _error_text(exc)
        log(f"ONNX export failed: {onnx_error.splitlines()[0]}")

    stored: list[str] = []
    try:
        base = f"training/{job.project_id}/models/{uuid.uuid4().hex}"
        pt_sha = sha256_of_file(local_pt)
        pt_name = store_file(local_path=local_pt, name=f"{base}/model.pt")
        stored.append(pt_name)
        onnx_name = onnx_sha = ""
        onnx_size = 0
        if onnx_path is not None:
            onnx_sha = sha256_of_file(onnx_path)
            onnx_size = onnx_path.stat().st_size
            onnx_name = store_file(local_path=onnx_path, name=f"{base}/model.onnx")
            stored.append(onnx_name)

        metrics = {}
        if result is not None and result.metrics is not None:
            metrics = {
                "precision": result.metrics.precision,
                "recall": result.metrics.recall,
                "map50": result.metrics.map50,
                "map50_95": result.metrics.map50_95,
            }
        else:
            last = job.epoch_metrics.exclude(map50_95=None).order_by("-map50_95").first()
            if last is not None:
                metrics = {
                    "precision": last.precision,
                    "recall": last.recall,
                    "map50": last.map50,
                    "map50_95": last.map50_95,
                }
        epochs_done = (
            TrainingJob.objects.filter(pk=job.pk).values_list("epochs_done", flat=True).first() or 0
        )
        if result is not None:
            epochs_done = result.epochs_done
        training_time = job.training_time_s + (
            result.training_time_s if result is not None else attempt_s
        )
        device = f"{result.device} ({result.device_name})" if result is not None else ""
        partial = status != JobStatus.SUCCEEDED
        preset = PRESETS.get(job.preset)
        default_name = (
            f"{preset.label if preset else job.preset} · {job.dataset_version.name} · job {job.pk}"
        )
        model_name = (job.name or default_name)[:110] + (" (partial)" if partial else "")
        with transaction.atomic():
            locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != JobStatus.RUNNING:
                raise _JobEndedElsewhere()
            # A retried job that was registered as partial before: the old model stays in
            # the registry (it may be in use), no longer linked to the job.
            TrainedModel.objects.filter(job=locked).update(job=None)
            model = TrainedModel(
                project_id=job.project_id,
                job=locked,
                name=model_name,
                preset=job.preset,
                dataset_version=job.dataset_version,
                start_weights=_start_description(job),
                hyperparameters=job.hyperparameters,
                partial=partial,
                stopped=stopped,
                epochs_trained=epochs_done,
                device=device,
                weights=pt_name,
                weights_sha256=pt_sha,
                weights_size=local_pt.stat().st_size,
                onnx=onnx_name,
                onnx_sha256=onnx_sha,
                onnx_size=onnx_size,
                imgsz=imgsz,
                class_names=info.class_names,
                parameters=parameters,
                gflops=gflops,
                metrics=metrics,
                training_time_s=training_time,
            )
            model.card = card_build(
                model=_card_model_fields(model),
                job=_card_job_fields(locked, epochs_done=epochs_done, status=status),
                dataset=_card_dataset_fields(job.dataset_version),
                architecture=info.architecture,
                ultralytics_version=info.ultralytics_version,
                onnx_error=onnx_error,
            )
            model.save()
            TrainingJob.objects.filter(pk=job.pk).update(
                status=status,
                finished_at=timezone.now(),
                progress=1.0 if status == JobStatus.SUCCEEDED else locked.progress,
                message=message[:500],
                epochs_done=epochs_done,
                training_time_s=training_time,
                device=device[:32],
                eta_s=None,
                error="",
            )
        return model
    except _JobEndedElsewhere:
        delete_quietly(*stored)
        log("This attempt was taken off the job; nothing registered")
        return None
    except BaseException:
        delete_quietly(*stored)
        raise


class _JobEndedElsewhere(Exception):
    pass


def _start_description(job: TrainingJob) -> str:
    if job.start_from == TrainingJob.StartFrom.MODEL and job.start_model_id:
        return f"fine-tuned from model #{job.start_model_id} “{job.start_model.name}”"[:300]
    if job.start_from == TrainingJob.StartFrom.UPLOAD:
        return f"fine-tuned from the uploaded checkpoint “{job.start_checkpoint_name}”"[:300]
    if job.start_from == TrainingJob.StartFrom.OFFICIAL:
        return f"fine-tuned from official weights {job.start_weights_name}"[:300]
    preset = PRESETS.get(job.preset)
    return f"from scratch ({preset.model_yaml if preset else job.preset})"[:300]


def _card_model_fields(model: TrainedModel) -> dict[str, Any]:
    preset = PRESETS.get(model.preset)
    return {
        "name": model.name,
        "preset": model.preset,
        "preset_label": preset.label if preset else model.preset,
        "preset_description": preset.description if preset else "",
        "seed_paper_model": bool(preset and preset.paper),
        "class_names": model.class_names,
        "imgsz": model.imgsz,
        "parameters": model.parameters,
        "gflops": model.gflops,
        "partial": model.partial,
        "stopped": model.stopped,
        "metrics": model.metrics,
        "files": {
            "pt": {"sha256": model.weights_sha256, "bytes": model.weights_size},
            "onnx": {"sha256": model.onnx_sha256, "bytes": model.onnx_size}
            if model.onnx_sha256
            else None,
        },
        "start_weights": model.start_weights,
        "device": model.device,
        "training_time_s": model.training_time_s,
        "epochs_trained": model.epochs_trained,
    }


def _card_job_fields(job: TrainingJob, *, epochs_done: int, status: str) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": status,
        "epochs_planned": job.epochs_total,
        "epochs_done": epochs_done,
        "hyperparameters": job.hyperparameters,
        "attempts": job.attempts,
        "created_by": job.created_by.username if job.created_by_id else None,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": timezone.now().isoformat(),
        "worker": job.worker,
    }


def _card_dataset_fields(version: DatasetVersion) -> dict[str, Any]:
    return {
        "id": version.pk,
        "name": version.name,
        "content_hash": version.content_hash,
        "classes": version.classes,
        "frame_counts": version.frame_counts,
        "box_count": version.box_count,
        "project": version.project.name,
    }
