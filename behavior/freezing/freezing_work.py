"""The worker side of freezing jobs (:data:`behavior.jobs.FREEZING`): measure a run's
per-frame motion inside each box and store it as ``.npy``. Starting, reusing and reading a
job is :mod:`behavior.freezing.services`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from behavior.core.freezing import FreezingParams
from behavior.freezing.motion import measure_motion
from behavior.freezing.services import BEAT_EVERY_FRAMES
from behavior.models import FreezingJob
from webapp.jobs import JobRun, job_heartbeat, job_run
from webapp.storage import delete_quietly, scratch_tempdir, store_file


def freezing_job_execute(*, job_id: int) -> None:
    """Claim the job and measure the motion (:data:`behavior.jobs.FREEZING`); a duplicate
    delivery returns at once."""
    from behavior.jobs import FREEZING  # the kinds module imports this one

    job_run(FREEZING, job_id=job_id)


def freezing_job_work(job_run_: JobRun) -> str:
    from tracking.selectors import tracking_run_trajectory

    job = job_run_.job
    run = job.run

    def beat(done: int, total: int) -> None:
        if done % BEAT_EVERY_FRAMES == 0:
            job_heartbeat(job=job, progress=done / max(total, 1), message=f"Frame {done:,}")

    params = FreezingParams(**job.params).checked()
    trajectory = tracking_run_trajectory(run=run)
    motion = measure_motion(run=run, trajectory=trajectory, params=params, on_frame=beat)
    buffer = io.BytesIO()
    np.save(buffer, motion)
    with scratch_tempdir() as tmp:
        local = Path(tmp) / "motion.npy"
        local.write_bytes(buffer.getvalue())
        stored = store_file(
            local_path=local, name=f"tracking/{run.project_id}/{run.pk}/motion-{job.pk}.npy"
        )
    try:
        FreezingJob.objects.filter(pk=job.pk).update(motion=stored)
    except BaseException:
        delete_quietly(stored)
        raise
    return "Measured"
