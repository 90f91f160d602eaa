"""Presets and hyperparameters: plain data, no Ultralytics import."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import replace
from pathlib import Path

import pytest

from training.presets import (
    DEFAULT_PRESET,
    MODEL_YAML_DIR,
    PRESETS,
    HyperparameterError,
    Hyperparameters,
    preset_get,
)


def _ultralytics_model_dir() -> Path:
    spec = importlib.util.find_spec("ultralytics")  # locate without importing it
    assert spec and spec.origin
    return Path(spec.origin).parent / "cfg" / "models"


def test_presets_module_imports_neither_django_nor_ultralytics():
    import training.presets as presets

    source = Path(presets.__file__).read_text()
    assert not re.search(r"^\s*(from|import) (django|ultralytics)", source, re.MULTILINE)


def test_presets_cover_the_paper_models_and_newer_families():
    assert PRESETS["yolov3-tiny"].model_yaml == "yolov3-tinyu.yaml"
    assert PRESETS["yolov3"].model_yaml == "yolov3u.yaml"
    assert {p.model_yaml for p in PRESETS.values()} >= {"yolo11n.yaml", "yolo11s.yaml"}
    assert any(p.model_yaml.startswith("yolo26") for p in PRESETS.values())
    assert {k for k, p in PRESETS.items() if p.paper} == {"yolov3-tiny", "yolov3"}
    assert DEFAULT_PRESET in PRESETS


def test_every_preset_names_a_model_yaml_that_ultralytics_ships():
    shipped = {p.name for p in _ultralytics_model_dir().rglob("*.yaml")}
    for preset in PRESETS.values():
        if (MODEL_YAML_DIR / preset.model_yaml).is_file():
            continue  # one of ours (the Tiny pose model): built in test_pose_training
        # Ultralytics builds yolo11n.yaml from yolo11.yaml at scale "n", the "u" YOLOv3 YAMLs
        # from the Darknet-named ones.
        base = re.sub(r"(\d+)([nslmx])(-pose)?(\.yaml)$", r"\1\3\4", preset.model_yaml)
        base = base.replace("u.yaml", ".yaml")
        assert base in shipped, preset.model_yaml


def test_every_preset_is_complete_and_valid():
    for key, preset in PRESETS.items():
        assert preset.key == key
        assert preset.label and preset.description
        assert "\n" not in preset.description
        preset.hyperparameters.validate()


def test_paper_hyperparameters_are_the_defaults():
    hp = Hyperparameters()
    assert (hp.momentum, hp.weight_decay) == (0.9, 5e-4)
    assert PRESETS["yolov3"].hyperparameters.imgsz == 416


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"epochs": 0}, {"epochs"}),
        ({"epochs": True}, {"epochs"}),  # bool is not an epoch count
        ({"epochs": 2.5}, {"epochs"}),
        ({"imgsz": 100}, {"imgsz"}),  # not a multiple of 32
        ({"imgsz": 0}, {"imgsz"}),
        ({"batch": 0}, {"batch"}),
        ({"lr0": 0.0}, {"lr0"}),
        ({"lr0": float("nan")}, {"lr0"}),
        ({"momentum": 1.0}, {"momentum"}),
        ({"weight_decay": -1e-4}, {"weight_decay"}),
        ({"patience": -1}, {"patience"}),
        ({"seed": -1}, {"seed"}),
        ({"augment": "yes"}, {"augment"}),
        ({"device": "0,1"}, {"device"}),  # multi-GPU is refused, callbacks can't reach DDP
        ({"device": "cuda:0; rm -rf /"}, {"device"}),
        ({"workers": 99}, {"workers"}),
        ({"epochs": -5, "lr0": 2.0, "device": ""}, {"epochs", "lr0", "device"}),
    ],
)
def test_invalid_hyperparameters_raise_naming_every_field(changes, fields):
    with pytest.raises(HyperparameterError) as info:
        replace(Hyperparameters(), **changes).validate()
    assert set(info.value.errors) == fields
    assert isinstance(info.value, ValueError)
    for name in fields:
        assert name in str(info.value)


@pytest.mark.parametrize("device", ["auto", "cpu", "mps", "0", "3"])
def test_single_devices_are_accepted(device):
    assert Hyperparameters(device=device).validate().device == device


def test_from_dict_fills_defaults_from_the_preset_and_rejects_unknown_keys():
    base = PRESETS["yolov3"].hyperparameters
    hp = Hyperparameters.from_dict({"epochs": 3, "augment": False}, base=base)
    assert (hp.epochs, hp.augment, hp.imgsz, hp.batch) == (3, False, 416, 8)
    assert Hyperparameters.from_dict(hp.to_dict()) == hp
    with pytest.raises(HyperparameterError) as info:
        Hyperparameters.from_dict({"epoch": 3})
    assert set(info.value.errors) == {"epoch"}
    with pytest.raises(HyperparameterError):
        Hyperparameters.from_dict({"imgsz": "640"})
    with pytest.raises(HyperparameterError):
        Hyperparameters.from_dict(["epochs", 3])  # type: ignore[arg-type]


def test_preset_get_names_the_choices():
    assert preset_get("yolo11n").model_yaml == "yolo11n.yaml"
    with pytest.raises(KeyError, match="yolov3-tiny"):
        preset_get("yolov9")
