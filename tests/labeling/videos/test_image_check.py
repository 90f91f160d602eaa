"""The image checker's limits as image sets and dataset imports meet them: an image needing
too much memory, or a checker that dies, is named in a refusal, and nothing is stored.
(The checker itself: tests/media/test_image_check.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

from django.core.exceptions import ValidationError

from labeling.datasets.importing import dataset_import
from labeling.videos.imagesets import ImageSetError, ImageSetLimits, read_image_files
from media import sandbox
from tests.labeling.dataset_helpers import image_bytes, snapshot
from tests.media.test_image_check import MIB, big_png


def test_an_image_set_names_the_image_needing_too_much_memory(tmp_path: Path):
    small = tmp_path / "small.png"
    Image.new("RGB", (20, 20)).save(small)
    big = big_png(tmp_path / "big.png")
    with pytest.raises(ImageSetError, match="“huge.png”: needs more memory to decode than the 256"):
        read_image_files(
            [small, big],
            names=["a.png", "huge.png"],
            limits=ImageSetLimits(check_memory_bytes=256 * MIB),
        )


def _voc_dataset(root: Path, images: dict[str, tuple[bytes, int, int]]) -> Path:
    (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir()
    for name, (data, width, height) in images.items():
        (root / "JPEGImages" / name).write_bytes(data)
        (root / "Annotations" / f"{Path(name).stem}.xml").write_text(
            f"<annotation><filename>{name}</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size><object><name>mouse</name>"
            "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax></bndbox>"
            "</object></annotation>"
        )
    return root


@pytest.mark.django_db
def test_an_import_with_an_image_too_big_for_the_checker_fails_storing_nothing(
    project, owner, tmp_path, settings
):
    settings.IMAGE_CHECK_MEMORY_LIMIT_BYTES = 256 * MIB
    big = big_png(tmp_path / "big.png").read_bytes()
    ds = _voc_dataset(
        tmp_path / "ds", {"a.jpg": (image_bytes(6), 64, 48), "huge.png": (big, 8000, 8000)}
    )
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        dataset_import(project=project, fmt="voc", path=ds, created_by=owner)
    message = " ".join(caught.value.message_dict["file"])
    assert "huge.png: image needs more memory to decode than the 256 MiB allowed" in message
    assert snapshot() == before


@pytest.mark.django_db
def test_an_import_whose_checker_dies_fails_naming_the_image_and_stores_nothing(
    project, owner, tmp_path, monkeypatch
):
    """A checker that dies on every start (as a decoder crash on the first image would):
    the import fails with a problem naming that image, never an unexpected error."""
    suicide = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    monkeypatch.setattr(sandbox, "_worker_command", lambda: [sys.executable, "-c", suicide])
    ds = _voc_dataset(
        tmp_path / "ds", {"a.jpg": (image_bytes(7), 64, 48), "b.jpg": (image_bytes(8), 64, 48)}
    )
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        dataset_import(project=project, fmt="voc", path=ds, created_by=owner)
    message = " ".join(caught.value.message_dict["file"])
    assert "a.jpg: checking the image stopped: Decoding the image used more time" in message
    assert snapshot() == before
