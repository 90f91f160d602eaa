"""Splits too small for meaningful figures are said in words on the dataset-version and
evaluation API and pages (issue 13: a 14-frame dataset split 7/5/2 and was evaluated on
2 test frames without a word)."""

from __future__ import annotations

import pytest

from labeling.datasets.splits import evaluation_size_warning, split_size_warnings
from labeling.datasets.versions import dataset_version_create
from tests.training.helpers import fake_model, make_frames

SPLITS_7_5_2 = ["train"] * 7 + ["val"] * 5 + ["test"] * 2


def test_a_7_5_2_split_warns_about_train_and_test_and_a_big_one_not_at_all():
    warnings = split_size_warnings({"train": 7, "val": 5, "test": 2})
    assert len(warnings) == 2
    assert warnings[0].startswith("Only 7 train frame(s)")
    assert "Only 2 test frame(s) (one frame is 50% of them)" in warnings[1]
    assert "not meaningful" in warnings[1]
    assert split_size_warnings({"train": 500, "val": 120, "test": 130}) == []
    assert "Only 1 val frame(s)" in split_size_warnings({"train": 50, "val": 1, "test": 20})[0]


def test_an_evaluation_on_2_frames_warns_and_one_not_run_yet_does_not():
    assert "only 2 frame(s)" in evaluation_size_warning(2)
    assert evaluation_size_warning(0) is None and evaluation_size_warning(25) is None


@pytest.mark.django_db
def test_the_version_and_evaluation_api_and_pages_say_so(project, owner, api_client_for, client):
    from evaluation.models import EvaluationRun
    from training.models import TrainingJob

    make_frames(project, splits=SPLITS_7_5_2)
    version = dataset_version_create(project=project, name="v-small", created_by=owner)
    api = api_client_for(owner)
    (listed,) = api.get(f"/api/projects/{project.pk}/dataset-versions/").json()
    assert any("Only 2 test frame(s)" in w for w in listed["warnings"])

    model = fake_model(project)
    model.dataset_version = version
    model.save(update_fields=["dataset_version"])
    run = EvaluationRun.objects.create(
        project=project,
        model=model,
        dataset_version=version,
        split="test",
        frame_count=2,
        status="succeeded",
        metrics={"map50": 1.0},
    )
    body = api.get(f"/api/evaluations/{run.pk}/").json()
    assert body["warnings"] and "only 2 frame(s)" in body["warnings"][0]

    client.force_login(owner)
    page = client.get(f"/models/{model.pk}/evaluation/").content.decode()
    assert 'id="run-size-warning"' in page and "only 2 frame(s)" in page
    job = TrainingJob.objects.create(
        project=project, dataset_version=version, preset="yolo11n", hyperparameters={}
    )
    page = client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "split-warning" in page and "Only 2 test frame(s)" in page
