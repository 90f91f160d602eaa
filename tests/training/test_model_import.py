"""Bringing a model made elsewhere: ``import_model`` for .pt and .onnx, and refusals."""

from __future__ import annotations

import os
from io import StringIO

import pytest

from django.core.management import CommandError, call_command

from tests.evaluation.helpers import tiny_model
from training.models import TrainedModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(django_db_blocker):
    with django_db_blocker.unblock():
        return tiny_model()


@pytest.mark.django_db
def test_a_pt_and_its_onnx_export_register_and_junk_is_refused(project, tiny, tmp_path):
    from training.export import export_onnx

    out = StringIO()
    call_command("import_model", str(tiny.weights), project=project.name, name="lab", stdout=out)
    model = TrainedModel.objects.get(pk=int(out.getvalue().strip()))
    assert model.name == "lab" and model.class_names == list(tiny.class_names)
    assert model.weights.name.endswith(".pt") and len(model.weights_sha256) == 64

    onnx = export_onnx(tiny.weights, 64, tmp_path / "exported.onnx")
    out = StringIO()
    call_command("import_model", str(onnx), project=project.name, stdout=out)
    imported = TrainedModel.objects.get(pk=int(out.getvalue().strip()))
    assert imported.weights.name.endswith(".onnx") and imported.preset == "onnx"
    assert imported.class_names == list(tiny.class_names)

    before = TrainedModel.objects.count()
    for name, data in (("junk.pt", os.urandom(4096)), ("junk.onnx", os.urandom(4096))):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CommandError) as error:
            call_command("import_model", str(path), project=project.name)
        assert name in str(error.value)
    with pytest.raises(CommandError, match="No project"):
        call_command("import_model", str(tmp_path / "junk.pt"), project="nope")
    assert TrainedModel.objects.count() == before
