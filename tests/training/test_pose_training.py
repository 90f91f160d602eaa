"""Pose training: presets built from Ultralytics' pose YAMLs (and our Tiny pose YAML), the
dataset version's manifest carries the skeleton and keypoints, and ``manage.py train
--task pose`` trains a real pose model through a real worker (1 epoch, small images)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import yaml

from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from labeling.annotations.skeletons import skeleton_set
from labeling.datasets.versions import (
    dataset_version_create,
    dataset_version_manifest,
    dataset_version_write_yolo,
)
from labeling.models import Box
from tests.training.helpers import make_frames, record_dispatch
from training import services
from training.forms import TrainingForm
from training.models import TrainedModel, TrainingJob
from training.presets import PRESETS
from webapp.models import JobStatus

POSE_PRESETS = ["yolo11n-pose", "yolov8n-pose", "yolov3-tiny-pose"]


def add_keypoints(project) -> None:
    """snout at the ellipse's right end, tail base at its left end (both visible)."""
    skeleton_set(project=project, keypoints=["snout", "tail_base"], edges=[[0, 1]])
    for box in Box.objects.filter(frame__project=project):
        cy = round(box.y + box.h / 2, 2)
        box.keypoints = [[box.x + box.w - 1, cy, 2], [box.x + 1, cy, 2]]
        box.save(update_fields=["keypoints"])


def test_pose_presets_are_pose_tasks_from_yaml():
    for key in POSE_PRESETS:
        assert PRESETS[key].task == "pose" and PRESETS[key].model_yaml.endswith("-pose.yaml")
    assert all(p.task == "detect" for k, p in PRESETS.items() if k not in POSE_PRESETS)


@pytest.mark.slow
@pytest.mark.parametrize("key", POSE_PRESETS)
def test_each_pose_preset_builds_a_pose_model_offline(key, tmp_path):
    from training import checkpoints, ultralytics_setup

    ultralytics_setup.configure_offline(Path(os.environ.get("MOUSETRACK_VAR_DIR") or tmp_path))
    from ultralytics import YOLO

    model = YOLO(checkpoints.resolve_model_yaml(PRESETS[key].model_yaml))
    assert model.task == "pose"
    assert not list(tmp_path.glob("*.pt"))  # nothing downloaded


@pytest.mark.django_db
def test_the_manifest_carries_skeleton_and_keypoints(project, tmp_path):
    make_frames(project)
    add_keypoints(project)
    version = dataset_version_create(project=project, name="v", created_by=None)
    manifest = dataset_version_manifest(version=version)
    assert manifest["skeleton"]["keypoints"] == ["snout", "tail_base"]
    assert all(len(b["keypoints"]) == 2 for f in manifest["frames"] for b in f["boxes"])
    pose_yaml = dataset_version_write_yolo(version=version, out_dir=tmp_path / "p", pose=True)
    assert yaml.safe_load(pose_yaml.read_text())["kpt_shape"] == [2, 3]
    row = next((tmp_path / "p/labels/train").glob("*.txt")).read_text().split()
    assert len(row) == 5 + 6
    box_yaml = dataset_version_write_yolo(version=version, out_dir=tmp_path / "d")
    assert "kpt_shape" not in yaml.safe_load(box_yaml.read_text())  # a detector's data
    assert len(next((tmp_path / "d/labels/train").glob("*.txt")).read_text().split()) == 5


@pytest.mark.django_db(transaction=True)
def test_a_pose_preset_needs_keypoints_and_the_form_offers_it_with_a_skeleton(project, monkeypatch):
    record_dispatch(monkeypatch)
    make_frames(project)
    offered = dict(TrainingForm(project=project).fields["preset"].choices)
    assert "yolo11n-pose" not in offered and "yolov3-tiny" in offered
    with pytest.raises(ValidationError, match="skeleton"):
        services.training_job_create(project=project, created_by=None, preset="yolo11n-pose")
    skeleton_set(project=project, keypoints=["snout", "tail_base"])
    with pytest.raises(ValidationError, match="has keypoints labeled"):
        services.training_job_create(project=project, created_by=None, preset="yolo11n-pose")
    assert "yolo11n-pose" in dict(TrainingForm(project=project).fields["preset"].choices)
    assert not TrainingJob.objects.exists()
    with pytest.raises(CommandError, match="is a detect model, not pose"):
        call_command("train", "--project", project.name, "--task", "pose", "--preset", "tiny")
    with pytest.raises(CommandError, match="Give --preset"):
        call_command("train", "--project", project.name)


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_train_task_pose_wait_trains_a_pose_model_on_a_worker(celery_worker, project):
    make_frames(project)
    add_keypoints(project)
    out = io.StringIO()
    try:
        _train_pose(project, out)
    except CommandError as exc:
        pytest.fail(f"{exc}\n{out.getvalue()}")
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    job = TrainingJob.objects.get()
    assert summary["job"] == job.pk and summary["status"] == JobStatus.SUCCEEDED, summary
    assert job.preset == "yolo11n-pose"
    model = TrainedModel.objects.get(job=job)
    assert summary["model"] == model.pk
    metric = job.epoch_metrics.get()
    assert "metrics/mAP50-95(P)" in metric.extra and "train/pose_loss" in metric.extra
    from ultralytics import YOLO  # configured offline by the worker's settings module

    path = Path(os.environ.get("MOUSETRACK_VAR_DIR", "/tmp")) / f"pose-{model.pk}.pt"
    with model.weights.open("rb") as handle:
        path.write_bytes(handle.read())
    try:
        assert YOLO(str(path)).task == "pose"
    finally:
        path.unlink()
    # Its keypoint metrics on the version's val frames (no test split here).
    out = io.StringIO()
    call_command("evaluate_pose", "--model", str(model.pk), "--split", "val", "--json", stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    keypoints = result["keypoints"]
    assert result["images"] == 2 and set(keypoints["per_keypoint"]) == {"snout", "tail_base"}
    assert keypoints["settings"]["sigmas"] == [0.025, 0.025]
    assert keypoints["oks_ap"] is not None and 0 <= keypoints["oks_ap"] <= 1
    assert keypoints["matched"] + keypoints["unmatched"] == 2


def _train_pose(project, out) -> None:
    call_command(
        "train",
        "--project",
        project.name,
        "--task",
        "pose",
        "--epochs",
        "1",
        "--imgsz",
        "64",
        "--batch",
        "4",
        "--device",
        "cpu",
        "--wait",
        "--poll",
        "0.5",
        stdout=out,
    )
