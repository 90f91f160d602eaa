"""A preset is refused at image sizes where it cannot learn the dataset's boxes (issue 13:
Tiny at 160 px trained with box and DFL loss 0.000 for every epoch). The cause is in
training.presets (imgsz_problem's comment); the last test shows it on Ultralytics itself."""

from __future__ import annotations

import pytest

from labeling.models import DatasetVersion
from tests.training.helpers import FAST_HP, make_frames, record_dispatch
from training.models import TrainingJob
from training.presets import PRESETS, imgsz_problem

# A 60x30 px mouse in a 640x480 frame, as in the open-field recording.
MOUSE = [(60.0, 30.0, 640, 480)] * 9


def test_tiny_at_160_px_is_refused_and_the_message_names_a_size_that_works():
    problem = imgsz_problem(preset=PRESETS["yolov3-tiny"], imgsz=160, boxes=MOUSE)
    assert problem and "160 px" in problem and "16 px" in problem
    assert "at least 256 px" in problem
    assert imgsz_problem(preset=PRESETS["yolov3-tiny"], imgsz=256, boxes=MOUSE) is None
    assert imgsz_problem(preset=PRESETS["yolov3-tiny"], imgsz=320, boxes=MOUSE) is None


def test_presets_with_a_stride_8_level_learn_the_same_boxes_at_160_px():
    for key in ("yolo11n", "yolo11s", "yolo26n", "yolov3"):
        assert imgsz_problem(preset=PRESETS[key], imgsz=160, boxes=MOUSE) is None, key
    assert imgsz_problem(preset=PRESETS["yolo11n"], imgsz=64, boxes=MOUSE)  # 6 px < 8


def test_no_boxes_no_opinion():
    assert imgsz_problem(preset=PRESETS["yolov3-tiny"], imgsz=32, boxes=[]) is None


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_400_naming_imgsz_and_keeps_nothing(
    project, owner, api_client_for, monkeypatch
):
    dispatched = record_dispatch(monkeypatch)
    make_frames(project)  # 128x96 frames, boxes about 36x20 px: ~13 px across at 64 px
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/training-jobs/",
        {"preset": "tiny", **FAST_HP, "imgsz": 64},
        format="json",
    )
    assert response.status_code == 400
    assert "finest detection grid of 16 px" in response.json()["imgsz"][0]
    assert not TrainingJob.objects.exists() and not DatasetVersion.objects.exists()
    assert dispatched == []


@pytest.mark.django_db
def test_the_form_shows_the_error_on_the_image_size_field(project, owner, client):
    make_frames(project)
    client.force_login(owner)
    data = {
        "preset": "yolov3-tiny",
        "dataset_version": "",
        "start_from": "scratch",
        "epochs": 2,
        "imgsz": 64,
        "batch": 4,
        "lr0": 0.01,
        "momentum": 0.9,
        "weight_decay": 0.0005,
        "patience": 0,
        "seed": 0,
        "device": "cpu",
    }
    response = client.post(f"/projects/{project.pk}/training/new/", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "finest detection grid of 16 px" in page and 'name="imgsz"' in page


def test_ultralytics_gives_such_boxes_no_box_loss_target():
    """The mechanism: the assigner's target weight for a 15x7.5 px box under Tiny at 160 px is
    ~0 (so the box and DFL losses are ~0), while a large box gets a real target."""
    from pathlib import Path

    import torch

    from django.conf import settings

    from training.ultralytics_setup import configure_offline

    configure_offline(Path(settings.VAR_DIR))
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils import tal

    seen = {}
    original = tal.TaskAlignedAssigner._forward

    def spy(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        seen["target"] = float(result[2].sum())
        return result

    torch.manual_seed(0)
    model = DetectionModel("yolov3-tinyu.yaml", nc=1, verbose=False)
    model.args = get_cfg()
    model.train()
    criterion = model.init_criterion()
    images = torch.rand(1, 3, 160, 160)
    targets = {}
    for name, (w, h) in {"mouse": (15 / 160, 7.5 / 160), "large": (0.9, 0.9)}.items():
        batch = {
            "img": images,
            "cls": torch.zeros(1, 1),
            "bboxes": torch.tensor([[0.5, 0.5, w, h]]),
            "batch_idx": torch.zeros(1),
        }
        tal.TaskAlignedAssigner._forward = spy
        try:
            criterion(model(images), batch)
        finally:
            tal.TaskAlignedAssigner._forward = original
        targets[name] = seen["target"]
    assert targets["mouse"] < 1e-4 < targets["large"], targets
