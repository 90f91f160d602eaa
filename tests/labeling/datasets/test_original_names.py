"""Original file names: image sets and imported datasets remember each image's name and folder
(``Frame.source_name``), exports use it (unique where two sources collide), video frames keep
``v{video}_f{index}``; and a round trip import -> export gives the same names in all formats."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from django.urls import reverse

from labeling.datasets.exchange import export_file_names, frame_key_from_name
from labeling.datasets.exporting import dataset_export
from labeling.datasets.formats import FORMATS, Dataset, DatasetBox, DatasetImage
from labeling.datasets.importing import dataset_import
from labeling.models import Box, Frame, Video
from labeling.videos.services import IncomingFile, imageset_upload
from tests.labeling.dataset_helpers import image_bytes, make_frame, make_source

FORMAT_NAMES = ["yolo", "coco", "voc", "cvat"]
#: Names as labs have them: folders per animal, the same base name in two folders, spaces.
LAB_NAMES = [
    "cage1/img0001.png",
    "cage1/img0002.png",
    "cage2/img0001.png",
    "trial 3/Mouse-7 top.png",
]


def _png(seed: int, size=(64, 48)) -> bytes:
    return image_bytes(seed, size, "PNG")


def _lab_dataset() -> Dataset:
    images = [
        DatasetImage(
            name,
            64,
            48,
            split=("train", "val", "test", "train")[i],
            boxes=[DatasetBox("mouse", 4 + i, 5, 10, 12)] if i != 1 else [],
        )
        for i, name in enumerate(LAB_NAMES)
    ]
    return Dataset(classes=["mouse"], images=images)


def _lab_source(image: DatasetImage) -> bytes:
    return _png(LAB_NAMES.index(image.file_name) + 1)


def _names_read(fmt: str, folder: Path) -> list[str]:
    dataset, _ = FORMATS[fmt].read(folder)
    return sorted(image.file_name for image in dataset.images)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_names_survive_import_then_export_in_every_format(fmt, project, owner, tmp_path):
    FORMATS[fmt].write(_lab_dataset(), tmp_path / "lab", _lab_source)
    result = dataset_import(project=project, fmt=fmt, path=tmp_path / "lab", created_by=owner)
    assert result.frames_created == 4
    frames = Frame.objects.filter(video_id=result.imageset_id)
    assert sorted(frames.values_list("source_name", flat=True)) == sorted(LAB_NAMES)

    for out_fmt in FORMAT_NAMES:
        out = tmp_path / f"out-{out_fmt}"
        dataset_export(project=project, fmt=out_fmt, out_dir=out)
        assert _names_read(out_fmt, out) == sorted(LAB_NAMES), out_fmt

    # Importing the export back matches the same frames (by name and content): no duplicates.
    again = dataset_import(project=project, fmt=fmt, path=tmp_path / f"out-{fmt}", created_by=owner)
    assert (again.frames_created, again.frames_unchanged) == (0, 4)


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _upload_set(project, owner, path: Path) -> Video:
    return imageset_upload(
        project=project,
        user=owner,
        files=[IncomingFile(path=path, name=path.name, size=path.stat().st_size)],
    )


def _label_all(video: Video) -> None:
    mouse = video.project.classes.get(name="mouse")
    for frame in video.frames.all():
        Box.objects.create(frame=frame, label_class=mouse, x=2, y=3, w=10, h=8)
    video.frames.update(status=Frame.Status.LABELED)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_an_image_set_zip_remembers_names_and_folders_and_exports_use_them(
    fmt, project, owner, tmp_path
):
    entries = {
        "labeled-data/m1/img10.png": _png(1),
        "labeled-data/m1/img2.png": _png(2),
        "labeled-data/m2/img2.png": _png(3),
    }
    video = _upload_set(project, owner, _zip(tmp_path / "frames.zip", entries))
    # Frame order is natural order; each frame keeps its path in the zip.
    assert list(video.frames.order_by("frame_index").values_list("source_name", flat=True)) == [
        "labeled-data/m1/img2.png",
        "labeled-data/m1/img10.png",
        "labeled-data/m2/img2.png",
    ]
    _label_all(video)
    out = tmp_path / fmt
    dataset_export(project=project, fmt=fmt, out_dir=out)
    assert _names_read(fmt, out) == sorted(entries)
    # The exported bytes are the lab's own files.
    dataset, resolve = FORMATS[fmt].read(out)
    for image in dataset.images:
        assert resolve(image).read_bytes() == entries[image.file_name]
    if fmt == "yolo":
        assert (out / "labels/train/labeled-data/m2/img2.txt").is_file()

    # Re-importing the export updates the same frames rather than adding new ones.
    Box.objects.filter(frame__video=video).update(x=5)
    result = dataset_import(project=project, fmt=fmt, path=out, created_by=owner)
    assert (result.frames_created, result.frames_updated) == (0, 3)
    assert set(Box.objects.filter(frame__video=video).values_list("x", flat=True)) == {2.0}


@pytest.mark.django_db
def test_single_uploaded_images_keep_their_file_names(project, owner, tmp_path):
    path = tmp_path / "upload-tmp-123"
    path.write_bytes(_png(7))
    video = imageset_upload(
        project=project,
        user=owner,
        files=[
            IncomingFile(path=path, name="C:\\lab\\day 1\\mouse_07.png", size=path.stat().st_size)
        ],
    )
    assert video.frames.get().source_name == "mouse_07.png"


@pytest.mark.django_db
def test_colliding_names_are_made_unique_deterministically(project, owner, tmp_path):
    first = _upload_set(project, owner, _zip(tmp_path / "a.zip", {"img001.png": _png(1)}))
    second = _upload_set(project, owner, _zip(tmp_path / "b.zip", {"IMG001.png": _png(2)}))
    third = _upload_set(project, owner, _zip(tmp_path / "c.zip", {"img002.png": _png(3)}))
    for video in (first, second, third):
        _label_all(video)
    video_source = make_source(project, "recording", kind=Video.Kind.VIDEO)
    video_frame = make_frame(video_source, 42, boxes=[("mouse", 1, 1, 5, 5)])

    frames = list(Frame.objects.filter(project=project).order_by("pk"))
    names = export_file_names(frames)
    again = export_file_names(list(reversed(frames)))
    assert names == again  # independent of the order frames come in
    a, b = first.frames.get(), second.frames.get()
    assert names[a.pk] == f"img001__v{first.pk}_f000000.png"
    assert names[b.pk] == f"IMG001__v{second.pk}_f000000.png"
    assert names[third.frames.get().pk] == "img002.png"
    assert names[video_frame.pk] == f"v{video_source.pk}_f000042.jpg"  # video frames as before
    assert frame_key_from_name(names[a.pk]) == (first.pk, 0)

    dataset_export(project=project, fmt="voc", out_dir=tmp_path / "voc")
    files = sorted(p.name for p in (tmp_path / "voc/JPEGImages").iterdir())
    assert files == sorted(names.values())
    # The suffixed names carry the frame identity: re-importing adds nothing.
    result = dataset_import(project=project, fmt="voc", path=tmp_path / "voc", created_by=owner)
    assert result.frames_created == 0 and result.images == 4


@pytest.mark.django_db
def test_names_fit_the_stored_type_and_yolo_label_rule(project, owner, tmp_path):
    ds = tmp_path / "voc"
    (ds / "JPEGImages/images").mkdir(parents=True)
    (ds / "Annotations/images").mkdir(parents=True)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 20, 20)).save(buffer, "TIFF")
    (ds / "JPEGImages/images/scan.tif").write_bytes(buffer.getvalue())
    (ds / "Annotations/images/scan.xml").write_text(
        "<annotation><filename>images/scan.tif</filename>"
        "<size><width>64</width><height>48</height></size></annotation>"
    )
    result = dataset_import(project=project, fmt="voc", path=ds, created_by=owner)
    frame = Frame.objects.get(video_id=result.imageset_id)
    assert frame.source_name == "images/scan.tif" and frame.image.name.endswith(".png")
    assert export_file_names([frame], "coco")[frame.pk] == "images/scan.png"
    # Ultralytics maps the last "images" folder of a path to "labels": renamed for YOLO.
    assert export_file_names([frame], "yolo")[frame.pk] == "images_/scan.png"
    dataset_export(project=project, fmt="yolo", out_dir=tmp_path / "yolo")
    assert (tmp_path / "yolo/images/train/images_/scan.png").is_file()


@pytest.mark.django_db
def test_the_frames_api_and_the_source_page_show_the_file_names(
    project, owner, api_client_for, client, tmp_path
):
    video = _upload_set(project, owner, _zip(tmp_path / "set.zip", {"day1/cam 2.png": _png(4)}))
    response = api_client_for(owner).get(reverse("api-frame-list", args=[project.pk]))
    assert response.status_code == 200
    assert [f["source_name"] for f in response.json()["results"]] == ["day1/cam 2.png"]
    client.force_login(owner)
    page = client.get(reverse("video-detail", args=[project.pk, video.pk]))
    assert page.status_code == 200 and 'title="day1/cam 2.png"' in page.content.decode()
