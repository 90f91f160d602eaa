"""Per-job scratch folders that outlive their attempt on purpose, and their removal.

A training job keeps its run folder (checkpoints) and a tracking run its detection chunks in
``scratch/<area>/<prefix><id>``, untagged (see :mod:`webapp.scratch`), so an attempt that
resumes on the same machine finds them. Everything in them is also in storage, so a folder
is only worth keeping while this machine may still work on the job: it goes once the job has
ended, is gone, or is running on another machine (a run killed here that another node took
over). Each worker sweeps its own machine's scratch periodically (:mod:`webapp.worker_sweep`)
because scratch is local: the beat's machine cannot see the others'.
"""

from __future__ import annotations

import logging
import shutil
import socket
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .jobs import job_models
from .models import TERMINAL_STATUSES, Job, JobStatus

log = logging.getLogger(__name__)


def job_scratch_folder(job: Job) -> Path:
    """The job's own scratch folder on this machine (created)."""
    path = Path(settings.SCRATCH_DIR) / job.scratch_area / f"{job.scratch_prefix}{job.pk}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_scratch_sweep() -> list[Path]:
    """Remove this machine's job folders that no attempt here will use again; return them."""
    removed: list[Path] = []
    for model in job_models():
        if model.scratch_area:
            removed += _sweep_kind(model)
    if removed:
        log.info("removed %d scratch folders of jobs that no longer need them", len(removed))
    return removed


def _sweep_kind(model: type[Job]) -> list[Path]:
    root = Path(settings.SCRATCH_DIR) / model.scratch_area
    if not root.is_dir():
        return []
    removed = []
    for folder in root.iterdir():
        job_id = _job_id(folder.name, model.scratch_prefix)
        if job_id is None or not folder.is_dir() or folder.is_symlink():
            continue
        trash = root / f".removing-{folder.name}-{uuid.uuid4().hex[:8]}"
        with transaction.atomic():
            # Under the row lock job_claim takes too: an attempt cannot start in this folder
            # between the check and the rename. The slow removal happens after the lock.
            state = (
                model.objects.select_for_update()
                .filter(pk=job_id)
                .values("status", "worker")
                .first()
            )
            if state is not None and not _done_here(state):
                continue
            try:
                folder.rename(trash)
            except OSError:
                continue  # another process here got there first
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(folder)
    for leftover in root.glob(".removing-*"):  # a sweep killed mid-removal
        shutil.rmtree(leftover, ignore_errors=True)
    return removed


def _done_here(state: dict) -> bool:
    if state["status"] in TERMINAL_STATUSES:
        return True
    return state["status"] == JobStatus.RUNNING and state["worker"] != socket.gethostname()


def _job_id(name: str, prefix: str) -> int | None:
    if not name.startswith(prefix):
        return None
    digits = name[len(prefix) :]
    return int(digits) if digits.isdigit() and len(digits) < 19 else None
