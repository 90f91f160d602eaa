"""Fixtures of the evaluation tests: a stored synthetic dataset and tiny trained models."""

from __future__ import annotations

import pytest

from tests.evaluation.helpers import register_model, store_dataset, tiny_model


@pytest.fixture
def dataset(project, owner):
    """(DatasetVersion, {name: Frame}): 8 train, 3 val, 4 test frames of ``project``."""
    return store_dataset(project=project, user=owner)


@pytest.fixture
def trained_model(project, dataset):
    """A TrainedModel of ``project`` (YOLO11n, 2 epochs at 64 px) on ``dataset``."""
    version, _ = dataset
    return register_model(
        project=project,
        dataset_version=version,
        tiny=tiny_model("yolo11n.yaml"),
        name="YOLO11n tiny",
        preset="yolo11n",
    )


@pytest.fixture
def people(make_user, member_of):
    """An annotator, a viewer and a user outside the project."""
    return {
        "annotator": member_of(make_user("annie"), "annotator"),
        "viewer": member_of(make_user("victor"), "viewer"),
        "outsider": make_user("oscar"),
    }
