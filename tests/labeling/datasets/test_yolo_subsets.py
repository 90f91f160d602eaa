"""An Ultralytics YOLO dataset whose ``images/train/`` and ``images/val/`` hold files of the
same name (issue #21, item 17): they are two frames, each keeping its subset in its name
(``train/<name>``, ``val/<name>``), and exports and re-imports keep them apart. The YAML is
Ultralytics' own coco8.yaml and the label file the COCO8 one (see fixtures/README.md); the
images are generated here."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from labeling.datasets.exporting import dataset_export
from labeling.datasets.formats import FormatError, yolo
from labeling.datasets.importing import dataset_import
from labeling.models import Frame

FIXTURE = Path(__file__).parent / "fixtures" / "ultralytics_coco8"
NAME = "000000000009.jpg"
LABEL = (FIXTURE / "labels/train/000000000009.txt").read_text()
VAL_LABEL = "".join(LABEL.splitlines(keepends=True)[4:])  # its four oranges only


def jpeg(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (value, 255 - value, 90)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def coco8_with_one_name_in_both_subsets(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(FIXTURE / "data.yaml", root / "data.yaml")
    for subset, value, label in (("train", 40, LABEL), ("val", 200, VAL_LABEL)):
        (root / "images" / subset).mkdir(parents=True)
        (root / "labels" / subset).mkdir(parents=True)
        (root / "images" / subset / NAME).write_bytes(jpeg(value))
        (root / "labels" / subset / "000000000009.txt").write_text(label)
    return root


def zip_folder(folder: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(folder).as_posix())
    return path


def test_the_same_name_in_train_and_val_is_two_images_named_by_their_subset(tmp_path):
    root = coco8_with_one_name_in_both_subsets(tmp_path / "coco8")
    dataset, resolve = yolo.read(root)
    got = {im.file_name: (im.split, len(im.boxes)) for im in dataset.images}
    assert got == {f"train/{NAME}": ("train", 8), f"val/{NAME}": ("val", 4)}
    for image in dataset.images:
        assert resolve(image) == root / "images" / image.split / NAME
    val = next(im for im in dataset.images if im.split == "val")
    assert {b.class_name for b in val.boxes} == {"orange"}


def test_a_name_only_in_one_subset_keeps_its_plain_name(tmp_path):
    root = coco8_with_one_name_in_both_subsets(tmp_path / "coco8")
    (root / "images/val" / NAME).rename(root / "images/val/000000000036.jpg")
    (root / "labels/val/000000000009.txt").rename(root / "labels/val/000000000036.txt")
    dataset, _ = yolo.read(root)
    assert sorted(im.file_name for im in dataset.images) == [NAME, "000000000036.jpg"]


def test_one_folder_listed_for_two_subsets_is_still_refused(tmp_path):
    root = coco8_with_one_name_in_both_subsets(tmp_path / "coco8")
    text = (root / "data.yaml").read_text().replace("val: images/val", "val: images/train")
    (root / "data.yaml").write_text(text)
    with pytest.raises(FormatError, match="listed more than once"):
        yolo.read(root)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["yolo", "coco", "voc", "cvat"])
def test_import_makes_two_frames_and_an_export_reimports_onto_them(fmt, project, owner, tmp_path):
    archive = zip_folder(
        coco8_with_one_name_in_both_subsets(tmp_path / "coco8"), tmp_path / "coco8.zip"
    )
    first = dataset_import(
        project=project, fmt="auto", path=archive, created_by=owner, create_missing_classes=True
    )
    assert first.frames_created == 2
    frames = {f.source_name: f for f in Frame.objects.filter(project=project)}
    assert sorted(frames) == [f"train/{NAME}", f"val/{NAME}"]
    assert frames[f"train/{NAME}"].split == "train" and frames[f"val/{NAME}"].split == "val"
    assert frames[f"train/{NAME}"].boxes.count() == 8
    assert frames[f"val/{NAME}"].boxes.count() == 4

    exported = dataset_export(project=project, fmt=fmt, zip_path=tmp_path / f"out-{fmt}.zip")
    with zipfile.ZipFile(tmp_path / f"out-{fmt}.zip") as zf:
        images = [n for n in zf.namelist() if n.endswith(".jpg")]
    assert len(images) == 2, images  # both written, neither overwriting the other
    again = dataset_import(
        project=project, fmt=fmt, path=tmp_path / f"out-{fmt}.zip", created_by=owner
    )
    # Matched onto the two frames (VOC's whole-pixel boxes update them; the others are
    # unchanged), none created.
    assert again.frames_created == 0, (exported, again)
    assert again.frames_unchanged + again.frames_updated == 2
    assert again.frames_unchanged == (0 if fmt == "voc" else 2)
    assert sorted(Frame.objects.values_list("source_name", "split")) == [
        (f"train/{NAME}", "train"),
        (f"val/{NAME}", "val"),
    ]
