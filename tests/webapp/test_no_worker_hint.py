"""``manage.py train`` and ``add_video --sample-every`` say at once when no worker listens
on the queue their job went to, and how to start one; ``add_video --wait`` follows the
sampling like ``train --wait`` (issue 13)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from django.core.management import CommandError, call_command

from labeling import tasks as labeling_tasks
from labeling.models import FrameSamplingJob
from tests.labeling.video_helpers import write_video
from tests.training.helpers import make_frames, record_dispatch
from training.models import TrainingJob
from webapp import commands as job_follow
from webapp import worker_devices
from webapp.models import JobStatus


class _Recorded:
    id = "recorded"


@pytest.fixture
def nobody_listens(monkeypatch):
    monkeypatch.setattr(worker_devices, "queue_consumers", lambda queue, **kw: [])


def _sleep_then(model, effect, *, err, seen):
    """A time.sleep for the commands' shared follow loop (webapp.commands): checks what was
    said before any wait, then ends the job as a worker would."""

    def sleep(_seconds):
        seen.append(err.getvalue())
        model.objects.update(**effect)

    return SimpleNamespace(sleep=sleep)


@pytest.mark.django_db
def test_the_real_health_check_knows_when_nobody_listens_on_a_queue(broker):
    hint = worker_devices.no_worker_hint("nobody-listens-here")
    assert hint and "No worker is listening on the 'nobody-listens-here' queue" in hint
    assert worker_devices.queue_consumers("nobody-listens-here") == []


def test_a_broker_that_cannot_be_asked_is_said_too(monkeypatch):
    monkeypatch.setattr(worker_devices, "queue_consumers", lambda queue, **kw: None)
    assert "could not be asked" in worker_devices.no_worker_hint("gpu")
    monkeypatch.setattr(worker_devices, "queue_consumers", lambda queue, **kw: ["celery@gpu1"])
    assert worker_devices.no_worker_hint("gpu") is None


@pytest.mark.django_db(transaction=True)
def test_train_wait_says_at_once_that_no_worker_listens(project, monkeypatch, nobody_listens):
    record_dispatch(monkeypatch)
    make_frames(project)
    out, err, seen = io.StringIO(), io.StringIO(), []
    effect = {"status": JobStatus.CANCELLED}
    monkeypatch.setattr(job_follow, "time", _sleep_then(TrainingJob, effect, err=err, seen=seen))
    with pytest.raises(CommandError, match="ended cancelled"):
        call_command(
            "train", "--project", "Open field", "--preset", "yolo11n", "--wait",
            stdout=out, stderr=err,
        )  # fmt: skip
    # Said before the first wait, with the command that starts a worker.
    assert "No worker is listening on the 'gpu' queue" in seen[0]
    assert "make worker" in seen[0]


@pytest.mark.django_db(transaction=True)
def test_add_video_says_so_and_wait_follows_the_sampling(
    project, tmp_path, monkeypatch, nobody_listens
):
    monkeypatch.setattr(
        labeling_tasks.frame_sampling_run, "apply_async", lambda *a, **k: _Recorded()
    )
    path = write_video(tmp_path / "cage.mp4", frames=12, fps=10)
    out, err, seen = io.StringIO(), io.StringIO(), []
    effect = {"status": JobStatus.SUCCEEDED, "frames_created": 3, "progress": 1.0}
    monkeypatch.setattr(
        job_follow, "time", _sleep_then(FrameSamplingJob, effect, err=err, seen=seen)
    )
    call_command(
        "add_video", "--project", "Open field", str(path), "--sample-every", "0.5", "--wait",
        stdout=out, stderr=err,
    )  # fmt: skip
    assert "No worker is listening on the 'default' queue" in seen[0]
    assert "make worker QUEUES=default" in seen[0]
    assert "sampling succeeded: 3 frame(s), 100%" in err.getvalue()
    assert out.getvalue().strip().isdigit()


@pytest.mark.django_db(transaction=True)
def test_add_video_wait_fails_when_the_sampling_fails_and_needs_sample_every(
    project, tmp_path, monkeypatch, nobody_listens
):
    monkeypatch.setattr(
        labeling_tasks.frame_sampling_run, "apply_async", lambda *a, **k: _Recorded()
    )
    path = write_video(tmp_path / "cage.mp4", frames=12, fps=10)
    with pytest.raises(CommandError, match="give --sample-every"):
        call_command("add_video", "--project", "Open field", str(path), "--wait")
    err = io.StringIO()
    effect = {"status": JobStatus.FAILED, "error": "decoder stopped at frame 7"}
    monkeypatch.setattr(job_follow, "time", _sleep_then(FrameSamplingJob, effect, err=err, seen=[]))
    with pytest.raises(CommandError, match="ended failed: decoder stopped at frame 7"):
        call_command(
            "add_video", "--project", "Open field", str(path), "--sample-every", "1", "--wait",
            stdout=io.StringIO(), stderr=err,
        )  # fmt: skip
