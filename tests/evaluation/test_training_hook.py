"""Every successful training job ends with an evaluation (the hook in training.training_work)."""

from __future__ import annotations

import pytest

from django.utils import timezone

from evaluation import evaluation_work
from evaluation import services as evaluation_services
from evaluation.models import EvaluationRun
from labeling.datasets.versions import dataset_version_create
from tests.training.helpers import make_frames, record_dispatch
from training.models import TrainedModel, TrainingJob
from training.presets import Hyperparameters
from training.training_work import training_job_execute
from webapp.models import JobStatus

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # the ONNX export at registration
def test_a_finished_training_job_queues_its_evaluation(project, owner, monkeypatch):
    record_dispatch(monkeypatch)  # training jobs are run here, not sent
    sent: list[int] = []
    monkeypatch.setattr(
        evaluation_services, "evaluation_run_dispatch", lambda *, run: sent.append(run.pk)
    )
    make_frames(project)
    version = dataset_version_create(project=project, name="", created_by=owner)
    hp = Hyperparameters(epochs=1, imgsz=64, batch=4, workers=0, device="cpu", augment=False)
    job = TrainingJob.objects.create(
        project=project,
        dataset_version=version,
        preset="yolo11n",
        hyperparameters=hp.to_dict(),
        epochs_total=1,
        created_by=owner,
        queued_at=timezone.now(),
    )
    training_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.log_tail

    model = TrainedModel.objects.get(job=job)
    run = EvaluationRun.objects.get(model=model)
    assert sent == [run.pk]
    assert run.origin == EvaluationRun.Origin.TRAINING and run.created_by == owner
    expected = "test" if version.frame_counts.get("test") else "val"
    assert run.split == expected and run.requested_split == "test"
    assert f"Evaluation #{run.pk} queued" in job.log_tail

    evaluation_work.evaluation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.frame_count == version.frame_counts[expected]
