"""Evaluation runs end to end on a real tiny trained model: create, execute, store."""

from __future__ import annotations

import pytest

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from evaluation import evaluation_work, services
from evaluation.inference import class_mapping, timing_summary
from evaluation.models import EvaluationRun, FramePrediction
from tests.conftest import wait_for
from tests.evaluation.helpers import (
    METRIC_KEYS,
    SPLITS,
    register_model,
    store_dataset,
    tiny_model,
)
from webapp.models import JobStatus

pytestmark = pytest.mark.slow

TIMING_KEYS = {
    "per_image_ms_mean",
    "per_image_ms_std",
    "per_image_ms_median",
    "per_image_ms",
    "per_image_total_ms_mean",
    "total_s",
    "images",
    "batch_size",
    "device",
    "device_name",
    "warmup_images",
    "imgsz",
}


def _run(model, **kwargs) -> EvaluationRun:
    run = services.evaluation_run_create(model=model, **kwargs)
    evaluation_work.evaluation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_execute_stores_metrics_predictions_and_timing(trained_model, dataset):
    version, frames = dataset
    run = _run(trained_model)

    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.split == "test" and run.requested_split == "test"
    assert run.progress == 1.0 and run.attempts == 1
    assert METRIC_KEYS <= set(run.metrics)
    assert run.metrics["num_images"] == SPLITS["test"] == run.frame_count
    assert run.metrics["num_ground_truth"] == SPLITS["test"]  # one mouse per frame
    assert [c["name"] for c in run.metrics["per_class"]] == ["mouse"]
    assert len(run.metrics["pr_curve"]["recall"]) == 101

    assert TIMING_KEYS <= set(run.timing)
    assert len(run.timing["per_image_ms"]) == run.timing["images"] == SPLITS["test"]
    assert run.timing["per_image_ms_mean"] > 0 and run.timing["per_image_ms_std"] >= 0
    assert run.timing["total_s"] > 0 and run.timing["batch_size"] == 1
    assert run.device == run.timing["device"] == "cpu"
    assert run.timing["device_name"].startswith("CPU")
    assert run.imgsz == run.timing["imgsz"] == trained_model.imgsz
    assert run.parameters > 100_000 and run.gflops > 0
    assert run.model_size_bytes == trained_model.weights_size

    test_frames = {f.pk for name, f in frames.items() if name.startswith("test-")}
    predictions = list(run.predictions.all())
    assert {p.frame_id for p in predictions} == test_frames
    for p in predictions:
        assert len(p.ground_truth) == 1 and p.inference_ms > 0
        assert p.true_positives + p.misses == 1
        assert p.error_count == p.false_positives + p.misses
        assert all(b["score"] >= run.conf_threshold for b in p.boxes)
    assert run.message.startswith(f"{SPLITS['test']} test frames")


@pytest.mark.django_db
def test_per_frame_counts_add_up_to_the_run_totals(trained_model):
    """A low threshold keeps the untrained model's weak boxes: false positives are stored
    per frame, each box with its match, and add up to the run's FP count."""
    run = _run(trained_model, conf_threshold=0.001)
    assert run.status == JobStatus.SUCCEEDED, run.error
    predictions = list(run.predictions.all())
    assert sum(len(p.boxes) for p in predictions) == run.metrics["num_detections"] > 0
    assert sum(p.false_positives for p in predictions) == run.metrics["fp"]
    assert sum(p.misses for p in predictions) == run.metrics["fn"]
    assert sum(p.true_positives for p in predictions) == run.metrics["tp"]
    for p in predictions:
        assert [b["score"] for b in p.boxes] == sorted((b["score"] for b in p.boxes), reverse=True)
        assert sum(1 for b in p.boxes if b["match"] < 0) == p.false_positives
        assert sum(1 for g in p.ground_truth if not g["matched"]) == p.misses


@pytest.mark.django_db
def test_a_second_delivery_does_nothing(trained_model):
    run = _run(trained_model)
    finished_at = run.finished_at
    evaluation_work.evaluation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.finished_at == finished_at and run.attempts == 1
    assert FramePrediction.objects.filter(run=run).count() == SPLITS["test"]


@pytest.mark.django_db
def test_a_missing_image_fails_the_run_with_a_reason_and_keeps_nothing(trained_model, dataset):
    _, frames = dataset
    victim = frames["test-2"]
    default_storage.delete(victim.image.name)
    run = _run(trained_model)
    assert run.status == JobStatus.FAILED
    assert f"frame {victim.pk}" in run.error
    assert not run.predictions.exists() and run.metrics == {}


@pytest.mark.django_db
def test_deleting_a_running_evaluation_stops_it_and_leaves_nothing(
    trained_model, monkeypatch, settings
):
    run = services.evaluation_run_create(model=trained_model)
    real = evaluation_work.run_inference

    def delete_midway(*args, on_image, **kwargs):
        def beat(done, total):
            if done == 2:
                services.evaluation_run_delete(run=EvaluationRun.objects.get(pk=run.pk))
            on_image(done, total)

        return real(*args, on_image=beat, **kwargs)

    monkeypatch.setattr(evaluation_work, "run_inference", delete_midway)
    settings.JOB_HEARTBEAT_INTERVAL = 0  # beat on every image
    evaluation_work.evaluation_run_execute(run_id=run.pk)  # no exception
    assert not EvaluationRun.objects.exists() and not FramePrediction.objects.exists()


@pytest.mark.django_db
def test_a_cancelled_queued_evaluation_never_runs(trained_model):
    from webapp.jobs import job_request_cancel

    run = services.evaluation_run_create(model=trained_model)
    job_request_cancel(job=run)
    evaluation_work.evaluation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.CANCELLED and run.attempts == 0 and run.metrics == {}


@pytest.mark.django_db
def test_input_is_checked_and_named(trained_model, project, owner):
    bad = [
        ({"split": "everything"}, "split"),
        ({"iou_threshold": 0.0}, "iou_threshold"),
        ({"conf_threshold": 1.5}, "conf_threshold"),
        ({"conf_threshold": float("nan")}, "conf_threshold"),
        ({"imgsz": 100}, "imgsz"),
        ({"device": "0; rm -rf /"}, "device"),
    ]
    for kwargs, field in bad:
        with pytest.raises(ValidationError) as info:
            services.evaluation_run_create(model=trained_model, **kwargs)
        assert field in info.value.message_dict, kwargs
    trained_model.class_names = ["rat", "cat"]
    trained_model.save()
    with pytest.raises(ValidationError) as info:
        services.evaluation_run_create(model=trained_model)
    assert "dataset_version" in info.value.message_dict
    assert not EvaluationRun.objects.exists()


@pytest.mark.django_db
def test_an_empty_test_split_is_refused_unless_falling_back_to_val(
    project, owner, django_capture_on_commit_callbacks, monkeypatch
):
    version, _ = store_dataset(project=project, user=owner, test_split=False)
    model = register_model(project=project, dataset_version=version, tiny=tiny_model())
    with pytest.raises(ValidationError) as info:
        services.evaluation_run_create(model=model, split="test")
    assert "split" in info.value.message_dict

    sent = []
    monkeypatch.setattr(services, "evaluation_run_dispatch", lambda *, run: sent.append(run.pk))
    with django_capture_on_commit_callbacks(execute=True):
        run = services.evaluation_run_after_training(model=model)
    assert sent == [run.pk]
    assert run.origin == EvaluationRun.Origin.TRAINING
    assert (run.split, run.requested_split) == ("val", "test")
    assert "test split is empty" in run.message

    evaluation_work.evaluation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.frame_count == SPLITS["val"]
    assert run.message.startswith("The test split is empty; evaluated on the validation split")


@pytest.mark.django_db
def test_after_training_without_test_or_val_frames_queues_nothing(project, owner, monkeypatch):
    version, _ = store_dataset(project=project, user=owner)
    version.frame_counts = {"train": 8, "val": 0, "test": 0}
    version.save()
    model = register_model(project=project, dataset_version=version, tiny=tiny_model())
    monkeypatch.setattr(services, "evaluation_run_dispatch", lambda *, run: None)
    assert services.evaluation_run_after_training(model=model) is None
    assert not EvaluationRun.objects.exists()


@pytest.mark.django_db
def test_a_model_is_evaluated_on_another_projects_dataset_version(trained_model, make_user):
    from labeling.services import project_create

    other_owner = make_user("pat")
    other = project_create(name="Home cage", owner=other_owner)
    version, frames = store_dataset(project=other, user=other_owner, name="cage-v1")
    run = _run(trained_model, dataset_version=version)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.project_id == trained_model.project_id
    assert run.dataset_version.project_id == other.pk
    test_frames = {f.pk for name, f in frames.items() if name.startswith("test-")}
    assert set(run.predictions.values_list("frame_id", flat=True)) == test_frames


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_gpu_queue_task_runs_the_evaluation(celery_worker, project, owner):
    version, _ = store_dataset(project=project, user=owner)
    model = register_model(project=project, dataset_version=version, tiny=tiny_model())
    run = services.evaluation_run_start(model=model, user=owner)
    assert run.celery_task_id
    wait_for(
        lambda: EvaluationRun.objects.get(pk=run.pk).is_finished,
        timeout=240,
        what="the worker to finish the evaluation",
    )
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, (run.error, celery_worker.log()[-3000:])
    assert run.worker and run.created_by == owner
    assert run.predictions.count() == SPLITS["test"]
    assert run.timing["per_image_ms_mean"] > 0


# --- pure helpers ----------------------------------------------------------------------
def test_classes_are_matched_by_name_and_a_single_class_always_maps():
    assert class_mapping(["mice"], ["mouse"]) == {0: 0}
    assert class_mapping(["rat", "Mouse", "cat"], ["mouse", "rat"]) == {0: 1, 1: 0}
    assert class_mapping(["dog", "cat"], ["mouse"]) == {}


def test_timing_summary_is_mean_and_sample_std():
    t = timing_summary([10.0, 12.0, 14.0], [11.0, 13.0, 15.0], total_s=0.5)
    assert t["per_image_ms_mean"] == 12.0
    assert t["per_image_ms_std"] == 2.0  # n-1
    assert t["per_image_ms_median"] == 12.0 and t["per_image_total_ms_mean"] == 13.0
    assert t["images"] == 3 and t["total_s"] == 0.5 and t["per_image_ms"] == [10, 12, 14]
    assert timing_summary([], [], total_s=0.0)["per_image_ms_mean"] is None
