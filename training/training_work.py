"""Running a training job on a ``gpu`` worker (what :mod:`training.tasks` calls).

:func:`training_job_execute` claims the job, writes its dataset version to scratch, trains
with Ultralytics while a thread beats the heartbeat, records every epoch and stores its
checkpoints, then registers the weights (:mod:`training.registry`) and queues the
evaluation every successful job ends with.

How a run survives trouble:

- A redelivered message does nothing: ``webapp.jobs.job_claim`` takes the row first.
- A background thread beats ``heartbeat_at`` every ``JOB_HEARTBEAT_INTERVAL`` seconds while
  Ultralytics trains; a killed worker stops beating and ``webapp.jobs.jobs_fail_stale``
  (Celery beat, every minute) marks the job FAILED and queues it again (it resumes from its
  checkpoint) while attempts are left. The scratch folder it left on its machine goes at
  that machine's workers' next periodic sweep (``webapp.job_scratch``).
- After every epoch ``last.pt`` (resumable, with optimizer state) is copied into storage as
  ``TrainingJob.checkpoint``, and ``best.pt`` as ``best_checkpoint`` whenever it changed, so a
  retry on any worker resumes at the next epoch.
- Cancel: the heartbeat thread sees ``cancel_requested``; Ultralytics stops after the current
  batch, validates and saves; the best weights so far are registered as a *partial*
  :class:`TrainedModel` and the resumable checkpoint is kept (a retry continues training).
- Celery's soft time limit: the checkpoint of the last finished epoch is kept, the best
  weights so far are registered as a partial model, status TIMED_OUT, GPU memory released.
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from labeling.datasets.versions import dataset_version_write_yolo
from webapp.job_scratch import job_scratch_folder, job_scratch_sweep
from webapp.jobs import JobCancelled, JobRun, KeepAlive, job_run, keep_alive
from webapp.models import TERMINAL_STATUSES, JobStatus
from webapp.storage import delete_quietly, local_copy, store_file

from .joblog import log_lines_with
from .models import EpochMetric, TrainingJob
from .presets import PRESETS, Hyperparameters
from .registry import trained_model_register
from .ultralytics_setup import configure_offline, release_memory

log = logging.getLogger(__name__)


def training_job_execute(*, job_id: int) -> None:
    """Run the training job ``job_id`` on this worker (:data:`training.jobs.TRAINING`)."""
    from .jobs import TRAINING  # the kinds module imports this one

    try:
        job_scratch_sweep()  # also periodic in every worker; before a run is the sure moment
    except Exception:  # tidying up must never keep a job from running
        log.exception("could not remove the scratch folders of ended jobs")
    job_run(TRAINING, job_id=job_id)


def training_job_work(run: JobRun) -> None:
    """Train, resuming from the stored checkpoint; the attempt ends the job itself (with
    the model it registers), or leaves it to the attempt that took it over."""
    run.job = TrainingJob.objects.select_related("dataset_version", "start_model", "project").get(
        pk=run.job.pk
    )
    attempt = run.state["attempt"] = _Run(run.job)
    attempt.execute()


def training_job_stopped(run: JobRun) -> None:
    """A job that ends without a model (cancelled before training, the time limit outside
    training, a failure): its log says so and its training time counts this attempt."""
    attempt: _Run | None = run.state.get("attempt")
    if attempt is None:
        return
    error = run.ending_error
    attempt.log(f"{run.ending_message}{': ' + error.splitlines()[0] if error else ''}")
    TrainingJob.objects.filter(pk=run.job.pk).exclude(status__in=TERMINAL_STATUSES).update(
        eta_s=None, training_time_s=F("training_time_s") + (time.monotonic() - attempt.started)
    )


def training_job_stopped_message(run: JobRun) -> str:
    if run.ending == JobStatus.TIMED_OUT:
        return "The time limit was reached; the checkpoint is kept."
    return "Training failed"


def training_job_after(run: JobRun) -> None:
    attempt: _Run | None = run.state.get("attempt")
    release_memory()
    if attempt is not None:
        shutil.rmtree(attempt.work, ignore_errors=True)


def _trainer():
    """``training.trainer``, configured to work offline with its files under var/."""
    from . import trainer

    configure_offline(Path(settings.VAR_DIR))
    return trainer


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class _Run:
    """One attempt at one job on this worker."""

    def __init__(self, job: TrainingJob):
        self.job = job
        self.work = job_scratch_folder(job)
        self.lines = job.log_tail.splitlines()
        self.heartbeat: KeepAlive | None = None
        self._best_mtime: int | None = None
        self.run_dir = self.work / "run"
        self.started = time.monotonic()

    # -- logging and progress ----------------------------------------------------------
    def _log_tail_with(self, text: str) -> str:
        """Add ``text`` to this attempt's copy of the log tail; return the tail to store."""
        self.lines = log_lines_with(self.lines, text)
        return "\n".join(self.lines)

    def log(self, text: str) -> None:
        TrainingJob.objects.filter(pk=self.job.pk).update(log_tail=self._log_tail_with(text))

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
        log_tail = self._log_tail_with(
            f"epoch {report.epoch}/{report.epochs}{partial}  {metrics}  {report.epoch_time_s:.1f} s"
        )
        eta = f" · about {_duration(report.eta_s)} left" if report.eta_s > 0 else ""
        map50 = f" · mAP50 {report.map50:.3f}" if report.map50 is not None else ""
        TrainingJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            epochs_done=report.epoch,
            epochs_total=report.epochs,
            eta_s=report.eta_s,
            log_tail=log_tail,
            **updates,
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
        result = None
        timed_out = False
        shutil.rmtree(self.work, ignore_errors=True)  # leftovers of an attempt killed here
        self.work.mkdir(parents=True)
        every_s = max(0.2, float(settings.JOB_HEARTBEAT_INTERVAL))
        try:
            with keep_alive(job, every_s=every_s, watch_cancel=True) as heartbeat:
                self.heartbeat = heartbeat
                self.log(f"Attempt {job.attempt_number} on {socket.gethostname()}")
                heartbeat.beat(message="Writing the dataset")
                preset = PRESETS.get(job.preset)
                data_yaml = dataset_version_write_yolo(
                    version=job.dataset_version,
                    out_dir=self.work / "dataset",
                    pose=preset is not None and preset.task == "pose",
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
                        threads=settings.CPU_THREADS,
                    )
                except SoftTimeLimitExceeded:
                    # One of the two catches outside webapp.jobs: the limit struck
                    # mid-training, and the best weights so far are still registered (as a
                    # partial model) before the job ends TIMED_OUT. Outside training the
                    # runner (webapp.jobs.job_run) ends it, keeping the checkpoint.
                    timed_out = True
                self._finish(result, timed_out=timed_out)
        finally:
            self.heartbeat = None

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

    def _finish(self, result, *, timed_out: bool) -> None:
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
            if result.images_in_memory is not None:
                self.log(
                    "Training images were kept in memory"
                    if result.images_in_memory
                    else "Training images were read from disk each epoch"
                )
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
        if result is not None:
            candidates = [result.best, result.last]
        else:  # the time limit struck mid-training: what Ultralytics saved so far
            candidates = [self.run_dir / "weights" / "best.pt"]
        weights = next((path for path in candidates if path.is_file()), None)
        if weights is None:
            self._end(status, f"{message.split(';')[0]}; no epoch finished, so no model")
            return
        model = trained_model_register(
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
        if model is None:
            return
        self.log(f"Registered model #{model.pk} ({'partial' if model.partial else 'final'})")
        if status == JobStatus.SUCCEEDED:
            # Every successful job ends with an evaluation on its test split (val if the test
            # split is empty), queued on the gpu queue; it never fails the job. Imported here:
            # evaluation builds on training, not the other way round.
            from evaluation.services import evaluation_run_after_training

            evaluation = evaluation_run_after_training(model=model, user=job.created_by)
            if evaluation is not None:
                self.log(f"Evaluation #{evaluation.pk} queued on the {evaluation.split} split")
