"""Writers into a folder and straight into a zip (labeling.datasets.formats.outputs).

Plain-data tests: no database. A zip export must hold exactly the files a folder export
writes, read back as the same dataset, and leave nothing behind when it fails.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from labeling.datasets.formats import FORMATS, Dataset, DatasetBox, DatasetImage, FormatError
from labeling.datasets.formats.outputs import ZipOutput
from tests.labeling.datasets.test_formats import FORMAT_NAMES, png_source, sample_dataset


def folder_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def zip_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_a_zip_holds_what_a_folder_export_holds_and_reads_back_the_same(fmt, tmp_path):
    options = {"absolute_path": False} if fmt == "yolo" else {}
    FORMATS[fmt].write(sample_dataset(), tmp_path / "folder", png_source, **options)
    FORMATS[fmt].write(sample_dataset(), ZipOutput(tmp_path / "out.zip"), png_source, **options)
    assert zip_files(tmp_path / "out.zip") == folder_files(tmp_path / "folder")

    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        zf.extractall(tmp_path / "unzipped")
        methods = {i.filename.rsplit(".", 1)[-1]: i.compress_type for i in zf.infolist()}
    assert methods["png"] == zipfile.ZIP_STORED  # images do not compress
    text = [ext for ext in ("txt", "json", "xml", "yaml") if ext in methods]
    assert text and all(methods[ext] == zipfile.ZIP_DEFLATED for ext in text)
    from_folder, _ = FORMATS[fmt].read(tmp_path / "folder")
    from_zip, _ = FORMATS[fmt].read(tmp_path / "unzipped")
    assert from_zip.images == from_folder.images
    assert from_zip.classes == from_folder.classes


def test_an_empty_split_folder_is_kept_in_the_zip(tmp_path):
    only_train = Dataset(
        ["mouse"], [DatasetImage("a.png", 8, 8, "train", [DatasetBox("mouse", 1, 1, 2, 2)])]
    )
    FORMATS["yolo"].write(
        only_train, ZipOutput(tmp_path / "y.zip"), png_source, absolute_path=False
    )
    with zipfile.ZipFile(tmp_path / "y.zip") as zf:
        names = set(zf.namelist())
    # Ultralytics wants the val folder the data.yaml names; a folder with files has no entry.
    assert {"images/val/", "labels/val/"} <= names
    assert "images/train/" not in names and "images/train/a.png" in names


def test_a_failing_zip_export_leaves_no_file(tmp_path):
    calls = []

    def source_that_fails(image: DatasetImage) -> bytes:
        calls.append(image.file_name)
        if len(calls) == 3:
            raise FileNotFoundError(2, "gone", image.file_name)
        return png_source(image)

    with pytest.raises(FileNotFoundError):
        FORMATS["coco"].write(sample_dataset(), ZipOutput(tmp_path / "c.zip"), source_that_fails)
    assert len(calls) == 3
    assert not (tmp_path / "c.zip").exists()


def test_an_existing_zip_is_never_overwritten(tmp_path):
    (tmp_path / "old.zip").write_bytes(b"mine")
    with pytest.raises(FormatError, match="already exists"):
        FORMATS["voc"].write(sample_dataset(), ZipOutput(tmp_path / "old.zip"), png_source)
    assert (tmp_path / "old.zip").read_bytes() == b"mine"


def test_one_name_written_twice_fails_and_removes_the_zip(tmp_path):
    with pytest.raises(FormatError, match="written twice"), ZipOutput(tmp_path / "d.zip") as out:
        out.write_text("a.txt", "1")
        out.write_text("a.txt", "2")
    assert not (tmp_path / "d.zip").exists()
