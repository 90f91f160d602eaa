"""Training jobs end to end: real Ultralytics on CPU (64 px, 2-3 epochs, 8 frames), run in
this process or by real Celery worker processes over the real broker.

Crash safety: a job killed mid-training (SIGKILL) is marked FAILED by the stale-heartbeat
check and a retry on another worker resumes from the stored checkpoint; cancel and the soft
time limit keep the best weights so far; a redelivered message never runs a job twice.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import numpy as np
import pytest
from celery.exceptions import SoftTimeLimitExceeded

from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.utils import timezone

from labeling.datasets.versions import dataset_version_create
from tests.conftest import wait_for
from tests.training.helpers import FAST_HP, make_frames, record_dispatch
from training import services, tasks, training_work
from training.checkpoints import load_checkpoint_check
from training.models import EpochMetric, TrainedModel, TrainingJob
from training.runtime import Detector
from webapp import jobs
from webapp.models import JobStatus

pytestmark = pytest.mark.slow


def _trainer():
    from training import trainer
    from training.ultralytics_setup import configure_offline

    configure_offline(django_settings.VAR_DIR)
    return trainer


def _job(project, owner, **hp) -> TrainingJob:
    """A queued job row, not dispatched (the in-process tests run it themselves)."""
    version = dataset_version_create(project=project, name="", created_by=owner)
    hyperparameters = services._hyperparameters("yolo11n", {**FAST_HP, **hp})
    return TrainingJob.objects.create(
        project=project,
        dataset_version=version,
        preset="yolo11n",
        hyperparameters=hyperparameters.to_dict(),
        epochs_total=hyperparameters.epochs,
        created_by=owner,
        queued_at=timezone.now(),
    )


def _stored(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


@pytest.fixture
def no_dispatch(monkeypatch):
    return record_dispatch(monkeypatch)


# --- in this process ------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_soft_time_limit_keeps_checkpoint_then_retry_resumes_and_finishes(
    project, owner, monkeypatch, no_dispatch
):
    make_frames(project)
    job = _job(project, owner, epochs=3)
    trainer = _trainer()
    real_train = trainer.train

    def train_until_the_limit(**kwargs):
        report = kwargs["on_epoch_end"]

        def on_epoch_end(epoch_report):
            report(epoch_report)
            raise SoftTimeLimitExceeded()  # what Celery raises when the soft limit strikes

        return real_train(**{**kwargs, "on_epoch_end": on_epoch_end})

    monkeypatch.setattr(trainer, "train", train_until_the_limit)
    training_work.training_job_execute(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.TIMED_OUT, job.error or job.log_tail
    assert job.epochs_done == 1
    assert _stored(job.checkpoint.name) and _stored(job.best_checkpoint.name)
    with (
        default_storage.open(job.checkpoint.name) as fh,
        open(django_settings.SCRATCH_DIR / "resume-check.pt", "wb") as out,
    ):
        out.write(fh.read())
    assert load_checkpoint_check(django_settings.SCRATCH_DIR / "resume-check.pt").resumable
    partial = TrainedModel.objects.get(job=job)
    assert partial.partial and partial.stopped == "timed_out" and _stored(partial.weights.name)

    # Retry: queued again (the message is recorded, not sent), then run here once more.
    monkeypatch.setattr(trainer, "train", real_train)
    services.training_job_retry(job=job)
    assert no_dispatch == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 0
    training_work.training_job_execute(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error or job.log_tail
    assert "Resuming after epoch 1" in job.log_tail
    assert list(job.epoch_metrics.values_list("epoch", flat=True)) == [1, 2, 3]
    final = TrainedModel.objects.get(job=job)
    assert not final.partial and final.epochs_trained == 3
    partial.refresh_from_db()
    assert partial.job is None and _stored(partial.weights.name)  # kept, no longer linked
    assert not (django_settings.SCRATCH_DIR / "training" / f"job-{job.pk}").exists()

    # Fine-tuning from the model just registered: its weights are the starting point.
    tuned = services.training_job_create(
        project=project,
        created_by=owner,
        start_from=TrainingJob.StartFrom.MODEL,
        start_model=final,
        hyperparameters={**FAST_HP, "epochs": 1},
        dataset_version=job.dataset_version,
    )
    assert tuned.preset == "yolo11n" and no_dispatch[-1] == tuned.pk
    training_work.training_job_execute(job_id=tuned.pk)
    tuned.refresh_from_db()
    assert tuned.status == JobStatus.SUCCEEDED, tuned.error or tuned.log_tail
    assert TrainedModel.objects.get(job=tuned).start_weights.startswith(
        f"fine-tuned from model #{final.pk}"
    )


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_message_does_nothing(project, owner):
    make_frames(project)
    done = _job(project, owner)
    TrainingJob.objects.filter(pk=done.pk).update(status=JobStatus.SUCCEEDED)
    tasks.training_job_run(done.pk)  # as a worker would run a redelivered message
    assert not EpochMetric.objects.filter(job=done).exists()

    running = _job(project, owner)
    claimed = jobs.job_claim(model=TrainingJob, job_id=running.pk)  # alive elsewhere
    tasks.training_job_run(running.pk)
    running.refresh_from_db()
    assert running.attempts == claimed.attempts == 1
    assert running.status == JobStatus.RUNNING and not running.epoch_metrics.exists()


# --- real worker processes ------------------------------------------------------------------
def _create_via_api(api_client_for, user, project, **fields):
    response = api_client_for(user).post(
        f"/api/projects/{project.pk}/training-jobs/",
        {"preset": "yolo11n", **FAST_HP, **fields},
        format="json",
    )
    assert response.status_code == 201, response.content
    return TrainingJob.objects.get(pk=response.json()["id"])


def _finished(job):
    job.refresh_from_db()
    return job.status in (
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.TIMED_OUT,
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_worker_trains_a_model_and_both_downloads_work(
    celery_worker, project, owner, api_client_for, tmp_path
):
    make_frames(project)
    job = _create_via_api(api_client_for, owner, project, name="tiny run")
    wait_for(lambda: _finished(job), timeout=600, what="training to finish")
    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{job.log_tail}"
    assert job.epochs_done == 2 and job.progress == 1.0
    epochs = list(job.epoch_metrics.order_by("epoch"))
    assert [e.epoch for e in epochs] == [1, 2]
    for e in epochs:
        assert e.box_loss is not None and e.map50 is not None and e.epoch_time_s > 0

    model = TrainedModel.objects.get(job=job)
    assert model.name == "tiny run" and not model.partial and model.stopped == "completed"
    assert model.class_names == ["mouse"] and model.imgsz == 64
    assert model.parameters > 1_000_000 and model.gflops > 0
    assert set(model.metrics) == {"precision", "recall", "map50", "map50_95"}
    assert model.card["dataset"]["content_hash"] == job.dataset_version.content_hash
    assert model.card["model"]["start_weights"].startswith("from scratch")

    client = api_client_for(owner)
    files = {}
    for fmt in ("pt", "onnx"):
        response = client.get(f"/api/models/{model.pk}/download/?format={fmt}")
        assert response.status_code == 200, response.content
        body = b"".join(response.streaming_content)
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Type"] == "application/octet-stream"
        sha = hashlib.sha256(body).hexdigest()
        assert response["X-Checksum-SHA256"] == sha and response["ETag"] == f'"{sha}"'
        assert sha == (model.weights_sha256 if fmt == "pt" else model.onnx_sha256)
        files[fmt] = tmp_path / f"model.{fmt}"
        files[fmt].write_bytes(body)
    again = client.get(
        f"/api/models/{model.pk}/download/?format=pt",
        HTTP_IF_NONE_MATCH=f'"{model.weights_sha256}"',
    )
    assert again.status_code == 304

    # The .pt loads with Ultralytics; the ONNX runs in onnxruntime and finds the same boxes.
    import onnxruntime as ort

    _trainer()
    assert load_checkpoint_check(files["pt"]).class_names == ["mouse"]
    session = ort.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 64, 64), np.float32)})
    assert out.shape[:2] == (1, 5)
    images = [default_storage.path(f.image.name) for f in job.project.frames.all()[:3]]
    from_pt = Detector(files["pt"], device="cpu").predict(images, imgsz=64, conf=0.001)
    from_onnx = Detector(files["onnx"], device="cpu").predict(images, imgsz=64, conf=0.001)
    for a, b in zip(from_pt, from_onnx, strict=True):
        assert len(a.scores) and len(b.scores)
        i, j = int(np.argmax(a.scores)), int(np.argmax(b.scores))
        assert a.scores[i] == pytest.approx(b.scores[j], abs=1e-3)
        np.testing.assert_allclose(a.boxes_xywh[i], b.boxes_xywh[j], atol=0.5)

    card = client.get(f"/api/models/{model.pk}/card/?format=md")
    assert card.status_code == 200 and card["Content-Type"].startswith("text/markdown")
    assert b"sha256" in card.content and model.weights_sha256.encode() in card.content
    as_json = client.get(f"/api/models/{model.pk}/card/?format=json")
    assert as_json.json()["model"]["files"]["pt"]["sha256"] == model.weights_sha256


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_job_within_an_epoch_and_keeps_the_best_weights(
    celery_worker, project, owner, api_client_for
):
    make_frames(project)
    job = _create_via_api(api_client_for, owner, project, epochs=60)
    wait_for(
        lambda: TrainingJob.objects.get(pk=job.pk).epochs_done >= 1,
        timeout=600,
        what="a first epoch",
    )
    response = api_client_for(owner).post(f"/api/training-jobs/{job.pk}/cancel/")
    assert response.status_code == 200, response.content
    wait_for(lambda: _finished(job), timeout=300, what="the cancel to land")
    assert job.status == JobStatus.CANCELLED, f"{job.error}\n{job.log_tail}"
    assert 1 <= job.epochs_done < 60
    model = TrainedModel.objects.get(job=job)
    assert model.partial and model.stopped == "cancelled" and _stored(model.weights.name)
    assert _stored(job.checkpoint.name)  # a retry could continue from here
    assert api_client_for(owner).post(f"/api/training-jobs/{job.pk}/cancel/").status_code == 400


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_killed_worker_s_job_is_queued_again_by_itself_and_resumes_from_the_checkpoint(
    start_worker, project, owner, api_client_for, monkeypatch, settings
):
    make_frames(project)
    # Only the worker about to be killed consumes this queue, so it gets the job.
    private = f"gpu-kill-{uuid.uuid4().hex[:6]}"
    # (It consumes "default" too: start_worker proves a worker is up with a ping there.)
    doomed = start_worker(queues=(private, "default"))
    with monkeypatch.context() as patch:
        patch.setattr(tasks.training_job_run, "mousetrack_queue", private)
        job = _create_via_api(api_client_for, owner, project, epochs=8)
    wait_for(
        lambda: TrainingJob.objects.get(pk=job.pk).epochs_done >= 2, timeout=600, what="two epochs"
    )
    doomed.kill()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.checkpoint
    done_before = job.epochs_done

    settings.JOB_STALE_AFTER = 2
    wait_for(lambda: jobs.jobs_fail_stale() or _finished(job), timeout=60, what="stale check")
    job.refresh_from_db()
    # Nobody presses Retry: the stale check queued it again, within JOB_MAX_ATTEMPTS.
    assert job.status != JobStatus.FAILED, job.error

    fresh = start_worker(queues=("gpu",))
    wait_for(lambda: _finished(job), timeout=900, what="the requeued job")
    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{job.log_tail}\n{fresh.log()[-3000:]}"
    # It resumed after the last stored checkpoint (the epoch in progress at the kill, or the
    # one before if the kill struck between its metrics and its checkpoint).
    assert [a["outcome"] for a in job.attempt_log] == ["worker lost", "succeeded"]
    assert "Attempt 2 on " in job.log_tail  # numbered on, not "Attempt 1" again
    assert "Resuming after epoch" in job.log_tail
    resumed_after = int(job.log_tail.split("Resuming after epoch ")[1].split()[0])
    assert done_before - 1 <= resumed_after <= done_before
    epochs = list(job.epoch_metrics.values_list("epoch", flat=True))
    assert epochs == list(range(1, 9))  # each epoch once, none lost
    assert TrainedModel.objects.filter(job=job, partial=False).count() == 1
    assert timezone.now() - job.finished_at < timedelta(minutes=30)
