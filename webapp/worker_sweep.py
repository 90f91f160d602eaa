"""Every worker tidies its own machine's scratch space, periodically.

Scratch space is local to a machine and the periodic beat runs on one machine only, so each
worker sweeps its own: what dead processes left (:func:`webapp.storage.scratch_sweep_dead`)
and the per-job folders no attempt here will use again (:func:`webapp.job_scratch.
job_scratch_sweep`). It runs on the worker's own timer, in its main process (a bootstep; no
extra thread to fork the pool from), every ``SCRATCH_SWEEP_INTERVAL`` seconds.
"""

from __future__ import annotations

import logging

from celery import bootsteps

log = logging.getLogger(__name__)


def sweep_this_machine() -> None:
    from django.db import close_old_connections

    from .job_scratch import job_scratch_sweep
    from .storage import scratch_sweep_dead

    try:
        close_old_connections()
        scratch_sweep_dead()
        job_scratch_sweep()
    except Exception:  # a failed sweep is retried at the next tick, never fatal
        log.exception("the periodic scratch sweep failed")
    finally:
        close_old_connections()


class ScratchSweep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs) -> None:
        self.tref = None

    def start(self, worker) -> None:
        from django.conf import settings

        self.tref = worker.timer.call_repeatedly(
            settings.SCRATCH_SWEEP_INTERVAL, sweep_this_machine
        )

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()
