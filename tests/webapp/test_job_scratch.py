"""Per-job scratch folders (a training job's checkpoints, a tracking run's chunks) stay on a
machine only while an attempt there may use them, and every worker sweeps its own machine
periodically: the beat's machine cannot see the others' scratch."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from labeling.models import FrameSamplingJob, Video
from tests.conftest import wait_for
from tracking.models import TrackingRun
from training.models import TrainingJob
from webapp.job_scratch import job_scratch_folder, job_scratch_sweep
from webapp.models import JobStatus


@pytest.fixture
def kind(monkeypatch):
    """Frame sampling declared as a kind with per-job folders (the machinery is the same)."""
    monkeypatch.setattr(FrameSamplingJob, "scratch_area", "sweep-test")
    monkeypatch.setattr(FrameSamplingJob, "scratch_prefix", "job-")
    return FrameSamplingJob


def _job(project, **fields) -> FrameSamplingJob:
    video = Video.objects.create(project=project, original_name="clip.mp4")
    return FrameSamplingJob.objects.create(video=video, strategy="uniform", **fields)


def test_training_and_tracking_keep_their_folders_where_the_sweep_looks(settings):
    for model, area, name in ((TrainingJob, "training", "job-7"), (TrackingRun, "tracking", "7")):
        job = model(pk=7)
        assert job_scratch_folder(job) == Path(settings.SCRATCH_DIR) / area / name


@pytest.mark.django_db
def test_the_sweep_keeps_only_folders_an_attempt_here_may_use(kind, project, settings):
    here = socket.gethostname()
    jobs = {
        "ended": _job(project, status=JobStatus.SUCCEEDED),
        "failed": _job(project, status=JobStatus.FAILED),
        "running here": _job(project, status=JobStatus.RUNNING, worker=here),
        "running elsewhere": _job(project, status=JobStatus.RUNNING, worker="gpu-node-2"),
        "queued": _job(project, status=JobStatus.QUEUED),
    }
    folders = {what: job_scratch_folder(job) for what, job in jobs.items()}
    for folder in folders.values():
        (folder / "chunk-000000.npz").write_bytes(b"x")
    root = Path(settings.SCRATCH_DIR) / "sweep-test"
    gone = root / "job-987654321"  # its row was deleted
    gone.mkdir()
    other = root / "notes"  # not a job folder: never touched
    other.mkdir()

    removed = job_scratch_sweep()
    assert set(removed) == {folders["ended"], folders["failed"], folders["running elsewhere"], gone}
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [folders["running here"].name, folders["queued"].name, "notes"]
    )
    assert (folders["running here"] / "chunk-000000.npz").exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_every_worker_sweeps_its_own_scratch_periodically(start_worker, settings):
    folder = Path(settings.SCRATCH_DIR) / "training" / "job-987654321"  # no such job
    folder.mkdir(parents=True)
    (folder / "last.pt").write_bytes(b"checkpoint of a job that is gone")
    worker = start_worker(queues=("gpu",), env={"MOUSETRACK_SCRATCH_SWEEP_S": "1"})
    # The worker's start-up does not look at job folders: only its periodic sweep does.
    wait_for(lambda: not folder.exists(), timeout=60, what=f"the sweep\n{worker.log()[-2000:]}")
