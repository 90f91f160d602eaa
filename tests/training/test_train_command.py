"""``manage.py train``: queue a job from the shell, and with --wait follow it to the end."""

from __future__ import annotations

import io
import json

import pytest

from django.core.management import CommandError, call_command

from labeling.models import DatasetVersion
from tests.training.helpers import make_frames, record_dispatch
from training.models import TrainedModel, TrainingJob
from webapp.models import JobStatus


@pytest.mark.django_db(transaction=True)
def test_queues_a_job_with_a_new_dataset_version(project, monkeypatch):
    sent = record_dispatch(monkeypatch)
    make_frames(project)
    out = io.StringIO()
    call_command(
        "train",
        "--project",
        "Open field",
        "--preset",
        "full",
        "--epochs",
        "5",
        "--imgsz",
        "320",
        stdout=out,
    )
    job = TrainingJob.objects.get()
    assert sent == [job.pk]
    assert job.preset == "yolov3" and job.epochs_total == 5
    assert job.hyperparameters["imgsz"] == 320 and job.hyperparameters["batch"] == 8
    assert f"Queued training job {job.pk}" in out.getvalue()

    call_command(
        "train",
        "--project",
        "Open field",
        "--preset",
        "tiny",
        "--dataset-version",
        str(job.dataset_version_id),
        stdout=io.StringIO(),
    )
    second = TrainingJob.objects.exclude(pk=job.pk).get()
    assert second.preset == "yolov3-tiny" and second.dataset_version_id == job.dataset_version_id
    assert DatasetVersion.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_explains_what_is_wrong(project, monkeypatch):
    record_dispatch(monkeypatch)
    with pytest.raises(CommandError, match="No project named"):
        call_command("train", "--project", "Nope", "--preset", "tiny")
    with pytest.raises(CommandError, match="frames: No frame is labeled"):
        call_command("train", "--project", "Open field", "--preset", "tiny")
    with pytest.raises(CommandError, match="no dataset version 12345"):
        call_command(
            "train", "--project", "Open field", "--preset", "tiny", "--dataset-version", "12345"
        )
    make_frames(project)
    with pytest.raises(CommandError, match="imgsz: must be a multiple of 32"):
        call_command("train", "--project", "Open field", "--preset", "tiny", "--imgsz", "100")
    assert not TrainingJob.objects.exists()


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_wait_follows_the_job_and_prints_the_final_metrics_as_json(celery_worker, project):
    make_frames(project)
    out = io.StringIO()
    call_command(
        "train",
        "--project",
        "Open field",
        "--preset",
        "tiny",
        "--epochs",
        "2",
        "--imgsz",
        "96",  # at 64 px Tiny cannot learn these boxes (refused, see training.presets)
        "--batch",
        "4",
        "--device",
        "cpu",
        "--wait",
        "--poll",
        "0.5",
        stdout=out,
    )
    lines = out.getvalue().strip().splitlines()
    summary = json.loads(lines[-1])
    job = TrainingJob.objects.get()
    assert summary["job"] == job.pk and summary["status"] == JobStatus.SUCCEEDED
    assert summary["epochs"] == 2
    model = TrainedModel.objects.get(job=job)
    assert summary["model"] == model.pk and model.preset == "yolov3-tiny"
    assert set(summary["metrics"]) == {"precision", "recall", "map50", "map50_95"}
    assert any(line.startswith("epoch 2/2") for line in lines)
