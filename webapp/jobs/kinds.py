"""A job kind declared once, and the worker runner that every kind shares.

A kind names its model, its Celery task and queue, and its work function; :func:`job_run`
gives it the rest: claim (a second delivery does nothing), the outcome of every way the
work can end (success, cancel, the queue's soft time limit, an expected failure, a bug),
the failure text, and finishing the row. The work function receives a :class:`JobRun`
(the claimed job, throttled progress beats, a keep-alive thread for steps with no
progress hook) and returns the success message; what is really its own (training's
checkpoint resume, tracking's chunks) stays in it.

A work function that returns None has ended the job itself (``job_finish``: training
registers its model first, tracking may end FAILED with the frames before a decoding
error kept), or found it taken over by another attempt: the runner then leaves it as is.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection
from django.utils import timezone

from webapp.models import Job, JobStatus

from .lifecycle import JobCancelled, job_claim, job_finish, job_heartbeat

log = logging.getLogger(__name__)

#: A message, or how to say it from the run (e.g. "12 frames stored before it stopped").
Text = str | Callable[["JobRun"], str] | None


class JobFailed(Exception):
    """The work cannot be done as asked; the text is shown to the user as the job's error.
    ``message`` (optional) replaces the job's progress message."""

    def __init__(self, error: str, *, message: str | None = None) -> None:
        super().__init__(error)
        self.message = message


@dataclass(frozen=True)
class JobKind:
    """One kind of background job: what the shared machinery needs to run it.

    ``failures``: exceptions the work raises for a user's reason (bad input, a broken
    file): the job ends FAILED with their text, without a traceback in the log.
    ``cancelled`` / ``not_done``: the job's message when it is cancelled / did not finish
    otherwise (None keeps the last progress message). ``on_stop`` undoes what an attempt
    that did not succeed leaves (e.g. half-written predictions; ``run.ending``,
    ``ending_error`` and ``ending_message`` say how it ends); ``after`` runs however
    the attempt ended (drop a received upload, store counters). What happens after a
    stale failure and whether a lost job resumes are the model's (``Job.resume_task``,
    ``Job.after_stale_failure``), because the stale check finds jobs by model.
    """

    name: str  # in logs and wording: "sampling job", "import", "evaluation run"
    model: type[Job]
    task: str  # the Celery task's registered name
    queue: str  # webapp.celery.QUEUE_DEFAULT or QUEUE_GPU
    work: Callable[[JobRun], str | None]  # the success message; None: see the docstring
    failures: tuple[type[BaseException], ...] = (ValidationError, JobFailed)
    cancelled: Text = "Cancelled."
    not_done: Text = None
    on_stop: Callable[[JobRun], None] | None = None
    after: Callable[[JobRun], None] | None = None
    # How an unexpected exception is shown: "Unexpected error: KeyError: 'x'" (the type
    # helps a bug report), or, False, the exception's own words (``explain`` if given).
    typed_errors: bool = True
    explain: Callable[[BaseException], str] | None = None
    # Added to the timed-out error ("; Retry resumes where it stopped").
    timed_out_note: str = ""

    def timed_out_error(self) -> str:
        return f"The {self.name} ran past the queue's time limit{self.timed_out_note}."


@dataclass
class JobRun:
    """The attempt under way: the claimed ``job`` and its throttled progress beats.
    ``state`` holds what a work function counts, for its messages and ``after`` hook."""

    kind: JobKind
    job: Any
    state: dict[str, Any] = field(default_factory=dict)
    # While the runner ends a job that did not succeed (for ``on_stop`` and the texts):
    # the status it ends with and its error.
    ending: str = ""
    ending_error: str = ""
    ending_message: str | None = None
    _last_beat: float = 0.0

    @property
    def interval(self) -> float:
        # Each beat is two queries; at most one a second, often less.
        return min(1.0, float(settings.JOB_HEARTBEAT_INTERVAL))

    def beat(
        self,
        *,
        progress: float | None = None,
        message: str | None = None,
        force: bool = False,
        before: Callable[[], None] | None = None,
    ) -> None:
        """Beat the heartbeat with progress (throttled unless ``force``); raises
        :class:`JobCancelled` once a stop was asked. ``before`` runs only when the beat
        does (to store a kind's counters at the same pace)."""
        now = time.monotonic()
        if not force and now - self._last_beat < self.interval:
            return
        self._last_beat = now
        if before is not None:
            before()
        job_heartbeat(job=self.job, progress=progress, message=message)

    def stages(
        self, stages: dict[str, tuple[float, float]], words: dict[str, str] | None = None
    ) -> Callable[[str, int, int], None]:
        """A ``progress(stage, done, total)`` callback mapping each stage onto its share of
        the bar (``{"checking": (0.05, 0.7)}``), saying "Checking image 3 of 40"."""
        words = words or {}

        def progress(stage: str, done: int, total: int) -> None:
            low, high = stages.get(stage, (0.0, 0.99))
            word = words.get(stage, stage.capitalize())
            self.beat(
                progress=low + (high - low) * (done / total if total else 0.0),
                message=f"{word} {done:,} of {total:,}" if total else f"{word}…",
            )

        return progress

    def keep_alive(self, *, every_s: float | None = None):
        return keep_alive(self.job, every_s=every_s)

    def text(self, text: Text) -> str | None:
        return text(self) if callable(text) else text


class KeepAlive:
    """What :func:`keep_alive` yields: ``stop_requested`` is set once the job should stop
    (a person cancelled it, or the row is no longer RUNNING: the stale check gave up on
    it, so another attempt may take over); only when it watches for cancel."""

    def __init__(self, job: Job, *, watch_cancel: bool) -> None:
        self.job = job
        self.watch_cancel = watch_cancel
        self.stop_requested = threading.Event()

    def beat(self, **fields: Any) -> None:
        """A heartbeat now (with ``progress``/``message`` when given)."""
        if not self.watch_cancel and not fields:
            type(self.job).objects.filter(pk=self.job.pk, status=JobStatus.RUNNING).update(
                heartbeat_at=timezone.now()
            )
            return
        try:
            job_heartbeat(job=type(self.job)(pk=self.job.pk), **fields)
        except JobCancelled:
            self.stop_requested.set()


@contextmanager
def keep_alive(
    job: Job, *, every_s: float | None = None, watch_cancel: bool = False
) -> Iterator[KeepAlive]:
    """Beat ``job``'s heartbeat from a thread while the body runs: steps with no progress
    hook (unpacking a 13,622-entry zip, parsing its annotations, Ultralytics holding the
    main thread) can outlast ``JOB_STALE_AFTER`` on a busy machine, and the stale check
    would fail a live job. Without ``watch_cancel`` the thread only refreshes
    ``heartbeat_at`` of a RUNNING row (cancel is seen by the work's own progress beats);
    with it, each beat also sets ``stop_requested`` once the job should stop (for work
    that cannot beat itself and polls that flag instead)."""
    every = every_s if every_s is not None else max(1.0, settings.JOB_STALE_AFTER / 4)
    alive = KeepAlive(job, watch_cancel=watch_cancel)
    done = threading.Event()

    def beat() -> None:
        try:
            while not done.wait(every):
                try:
                    alive.beat()
                except DatabaseError:  # busy database: the next beat will do
                    pass
                except Exception:  # a restarting database: try again next beat
                    log.exception("heartbeat of %s %s failed", type(job).__name__, job.pk)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"keep-alive-{job.pk}", daemon=True)
    thread.start()
    try:
        yield alive
    finally:
        done.set()
        thread.join(timeout=30)


def job_kinds() -> list[JobKind]:
    """Every kind declared in an installed app's ``<app>/jobs.py``."""
    from django.apps import apps

    kinds: list[JobKind] = []
    for config in apps.get_app_configs():
        name = f"{config.name}.jobs"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        kinds += [k for k in vars(module).values() if isinstance(k, JobKind) and k not in kinds]
    return kinds


def failure_text(exc: BaseException) -> str:
    """What a user reads for an expected failure: a ValidationError's messages, one a line."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "\n".join(m for errors in exc.message_dict.values() for m in errors)
        return "\n".join(exc.messages)
    return str(exc)


def job_run(kind: JobKind, *, job_id: int) -> JobRun | None:
    """Claim job ``job_id`` of ``kind`` and run its work to a terminal status (the one
    worker skeleton). Returns the run, or None when there was nothing to do."""
    job = job_claim(model=kind.model, job_id=job_id)
    if job is None:
        return None
    run = JobRun(kind=kind, job=job)
    try:
        try:
            message = kind.work(run)
        except JobCancelled as exc:
            _stop(run, JobStatus.CANCELLED, message=str(exc) or run.text(kind.cancelled))
        except SoftTimeLimitExceeded:
            _stop(run, JobStatus.TIMED_OUT, error=kind.timed_out_error())
        except kind.model.DoesNotExist:
            pass  # what owns the job (and with it the row) was deleted while it ran
        except kind.failures as exc:
            message = exc.message if isinstance(exc, JobFailed) else None
            _stop(run, JobStatus.FAILED, error=failure_text(exc), message=message)
        except Exception as exc:
            log.exception("%s %s failed", kind.name, job.pk)
            _stop(run, JobStatus.FAILED, error=_unexpected(kind, exc))
        else:
            if message is not None:
                _finish(run, status=JobStatus.SUCCEEDED, message=message)
    finally:
        if kind.after is not None:
            kind.after(run)
    return run


def _unexpected(kind: JobKind, exc: BaseException) -> str:
    if kind.explain is not None:
        return kind.explain(exc)
    text = f"{type(exc).__name__}: {exc}" if kind.typed_errors else str(exc)
    return f"Unexpected error: {text}"


def _stop(run: JobRun, status: str, *, error: str = "", message: str | None = None) -> None:
    run.ending, run.ending_error = status, error
    if message is None and status != JobStatus.CANCELLED:
        message = run.text(run.kind.not_done)
    run.ending_message = message
    if run.kind.on_stop is not None:
        run.kind.on_stop(run)
    _finish(run, status=status, error=error, message=message)


def _finish(run: JobRun, **fields: Any) -> None:
    try:
        job_finish(job=run.job, **fields)
    except run.kind.model.DoesNotExist:
        pass  # deleted while it ran (job_finish refreshes the row)
