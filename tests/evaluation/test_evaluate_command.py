"""``manage.py evaluate``: a synchronous evaluation that prints the metrics."""

from __future__ import annotations

import io
import json

import pytest

from django.core.management import CommandError, call_command

from evaluation.models import EvaluationRun
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
    call_command("evaluate", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_json_output_has_the_metrics_and_timing(trained_model):
    data = json.loads(_call("--model", str(trained_model.pk), "--json"))
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


@pytest.mark.django_db
def test_plain_output_is_a_readable_summary_and_split_is_chosen(trained_model):
    text = _call("--model", str(trained_model.pk), "--split", "val", "--conf", "0.1")
    assert f"val split, {SPLITS['val']} frames" in text
    assert "mAP@0.5 (VOC 11-point)" in text and "Time per image" in text and " ms on " in text
    run = EvaluationRun.objects.get()
    assert (run.split, run.conf_threshold) == ("val", 0.1)


@pytest.mark.django_db
def test_errors_are_command_errors(trained_model, project, owner):
    with pytest.raises(CommandError, match="No trained model with id 999"):
        _call("--model", "999")
    with pytest.raises(CommandError, match="No dataset version"):
        _call("--model", str(trained_model.pk), "--dataset-version", "999")
    with pytest.raises(CommandError, match="conf_threshold"):
        _call("--model", str(trained_model.pk), "--conf", "7")
    version, _ = store_dataset(project=project, user=owner, name="no-test", test_split=False)
    model = register_model(project=project, dataset_version=version, tiny=tiny_model())
    with pytest.raises(CommandError, match="split: The test split"):
        _call("--model", str(model.pk))
    assert not EvaluationRun.objects.exists()
