"""``manage.py evaluate``: queued on the gpu queue (``--wait`` follows it), or ``--here``
in the command's own process; either way it prints the metrics."""

from __future__ import annotations

import io
import json

import pytest

from django.core.management import CommandError, call_command

from evaluation.models import EvaluationRun
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


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command("evaluate", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _here(*args: str) -> str:
    return _call(*args, "--here")


@pytest.mark.django_db
def test_json_output_has_the_metrics_and_timing(trained_model):
    data = json.loads(_here("--model", str(trained_model.pk), "--json"))
    for key in sorted(METRIC_KEYS):
        assert key in data, key
    assert data["split"] == "test" and data["frames"] == SPLITS["test"]
    assert data["num_ground_truth"] == SPLITS["test"]
    for key in ("per_image_ms_mean", "per_image_ms_std", "total_s", "device", "device_name"):
        assert key in data["timing"], key
    assert data["model_info"]["parameters"] > 0 and data["model_info"]["gflops"] > 0
    run = EvaluationRun.objects.get(pk=data["evaluation"])
    assert run.status == JobStatus.SUCCEEDED and run.origin == EvaluationRun.Origin.COMMAND
    assert run.predictions.count() == SPLITS["test"]
    assert run.celery_task_id == ""  # never queued: it ran in this process


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_by_default_the_evaluation_is_queued_and_wait_prints_the_workers_metrics(
    celery_worker, trained_model
):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "evaluate",
        "--model",
        str(trained_model.pk),
        "--wait",
        "--json",
        "--poll",
        "0.3",
        stdout=out,
        stderr=err,
    )
    data = json.loads(out.getvalue())
    run = EvaluationRun.objects.get(pk=data["evaluation"])
    assert f"Queued evaluation {run.pk}" in err.getvalue()
    assert run.status == JobStatus.SUCCEEDED and run.origin == EvaluationRun.Origin.COMMAND
    assert run.celery_task_id and run.worker  # a Celery worker claimed and ran it
    assert data["frames"] == SPLITS["test"] and "map50_voc11" in data


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_without_wait_the_command_returns_once_queued_and_a_worker_runs_it(
    celery_worker, trained_model
):
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate", "--model", str(trained_model.pk), stdout=out, stderr=err)
    run = EvaluationRun.objects.get()
    assert f"Queued evaluation {run.pk} of model {trained_model.pk} (test split)" in err.getvalue()
    assert out.getvalue() == "" and run.celery_task_id
    wait_for(lambda: EvaluationRun.objects.get().status == JobStatus.SUCCEEDED, timeout=300)


@pytest.mark.django_db
def test_plain_output_is_a_readable_summary_and_split_is_chosen(trained_model):
    text = _here("--model", str(trained_model.pk), "--split", "val", "--conf", "0.1")
    assert f"val split, {SPLITS['val']} frames" in text
    assert "mAP@0.5 (VOC 11-point)" in text and "Time per image" in text and " ms on " in text
    run = EvaluationRun.objects.get()
    assert (run.split, run.conf_threshold) == ("val", 0.1)


@pytest.mark.django_db
def test_errors_are_command_errors(trained_model, project, owner):
    with pytest.raises(CommandError, match="No trained model with id 999"):
        _here("--model", "999")
    with pytest.raises(CommandError, match="No dataset version"):
        _here("--model", str(trained_model.pk), "--dataset-version", "999")
    with pytest.raises(CommandError, match="conf_threshold"):
        _call("--model", str(trained_model.pk), "--conf", "7")
    version, _ = store_dataset(project=project, user=owner, name="no-test", test_split=False)
    model = register_model(project=project, dataset_version=version, tiny=tiny_model())
    with pytest.raises(CommandError, match="split: The test split"):
        _call("--model", str(model.pk))
    with pytest.raises(CommandError, match="not allowed with argument"):
        _call("--model", str(model.pk), "--wait", "--here")
    assert not EvaluationRun.objects.exists()
