"""Importing other tools' layouts into a project: the layout found is named (service result,
API response, page message, command output), warnings reach the user, unlabeled VOC images
become unlabeled frames (and a VOC export writes unlabeled frames so), an unknown layout's
error lists the accepted ones, and a refused import stores nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from labeling.datasets.exchange import export_file_names
from labeling.datasets.exporting import dataset_export
from labeling.datasets.formats import ACCEPTED_LAYOUTS, coco, cvat, voc, yolo
from labeling.datasets.importing import dataset_import
from labeling.models import Box, Frame
from labeling.services import project_create
from tests.conftest import wait_for
from tests.labeling.dataset_helpers import (
    annotation_of,
    image_bytes,
    make_frame,
    make_source,
    populate,
    scratch_files,
    snapshot,
    write_zip,
)
from tests.labeling.video_helpers import H as VH
from tests.labeling.video_helpers import W as VW
from tests.labeling.video_helpers import coded_frame, read_code

W, H = 64, 48


def _voc_files(unannotated: bool = True) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {
        "VOC2012/JPEGImages/m1.jpg": image_bytes(1),
        "VOC2012/JPEGImages/m2.jpg": image_bytes(2),
        "VOC2012/Annotations/m1.xml": (
            f"<annotation><filename>m1.jpg</filename><size><width>{W}</width>"
            f"<height>{H}</height><depth>3</depth></size><object><name>mouse</name><bndbox>"
            "<xmin>3</xmin><ymin>4</ymin><xmax>22</xmax><ymax>20</ymax></bndbox></object>"
            "</annotation>"
        ),
        "VOC2012/ImageSets/Main/train.txt": "m1\n",
    }
    if unannotated:
        files["VOC2012/ImageSets/Main/test.txt"] = "m2\n"
    return files


@pytest.mark.django_db
def test_voc_listed_images_without_annotations_become_unlabeled_frames(project, owner, tmp_path):
    archive = write_zip(tmp_path / "voc.zip", _voc_files())
    result = dataset_import(project=project, fmt="auto", path=archive, created_by=owner)
    assert result.layout == voc.LAYOUT
    assert result.warnings == (
        "1 image listed in ImageSets/Main without an annotation file (m2) imported as "
        "unlabeled frames",
    )
    frames = {f.source_name: f for f in Frame.objects.filter(video_id=result.imageset_id)}
    assert frames["m1.jpg"].status == Frame.Status.LABELED and frames["m1.jpg"].split == "train"
    m2 = frames["m2.jpg"]
    assert (m2.status, m2.is_negative, m2.split, m2.annotated_by) == (
        Frame.Status.UNLABELED,
        False,
        "",
        None,
    )
    assert not m2.boxes.exists()

    # Importing it again changes nothing, and never turns the unlabeled frame into a negative.
    again = dataset_import(project=project, fmt="voc", path=archive, created_by=owner)
    assert (again.frames_created, again.frames_updated) == (0, 0)
    m2.refresh_from_db()
    assert m2.status == Frame.Status.UNLABELED and not m2.is_negative


def _import_through_the_api(client, project, archive: Path) -> dict:
    """The import job of ``archive``, followed until it ends (its JSON)."""
    with open(archive, "rb") as fh:
        response = client.post(
            reverse("api-dataset-import", args=[project.pk]),
            {"file": fh, "format": "auto"},
            format="multipart",
        )
    assert response.status_code == 202, response.content

    def done():
        body = client.get(response.json()["url"]).json()
        return body if body["is_finished"] else None

    return wait_for(done, timeout=120, what="the import job to finish")


@pytest.mark.django_db(transaction=True)
def test_the_import_job_names_the_layout_and_passes_warnings_on(
    celery_worker, project, owner, api_client_for, tmp_path
):
    archive = write_zip(tmp_path / "voc.zip", _voc_files())
    job = _import_through_the_api(api_client_for(owner), project, archive)
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["format"] == "voc" and result["layout"] == voc.LAYOUT
    assert result["warnings"] == [
        "1 image listed in ImageSets/Main without an annotation file (m2) imported as "
        "unlabeled frames"
    ]
    assert result["frames_created"] == 2
    # The job's message, which the dataset page's job list shows, says both.
    assert "Layout: Pascal VOC (Annotations/, JPEGImages/, ImageSets/Main/)." in job["message"]
    assert "imported as unlabeled frames." in job["message"]


@pytest.mark.django_db
def test_the_page_lists_the_layouts_it_reads(project, owner, client):
    client.force_login(owner)
    text = client.get(reverse("dataset", args=[project.pk])).content.decode()
    assert "Layouts it reads" in text and "CVAT for video 1.1" in text


@pytest.mark.django_db(transaction=True)
def test_command_prints_the_layout_and_warnings(celery_worker, project, owner, tmp_path):
    archive = write_zip(tmp_path / "voc.zip", _voc_files())
    out, err = io.StringIO(), io.StringIO()
    args = ["import_dataset", str(archive), "--project", project.name, "--format", "auto"]
    call_command(*args, stdout=out, stderr=err)
    assert "Layout: Pascal VOC (Annotations/" in out.getvalue()
    assert "Warning: 1 image listed in ImageSets/Main" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_an_unknown_layout_is_refused_listing_the_accepted_ones(
    celery_worker, project, owner, api_client_for, tmp_path
):
    archive = write_zip(
        tmp_path / "odd.zip", {"pics/a.jpg": image_bytes(1), "boxes.csv": "a.jpg,1,2,3,4\n"}
    )
    before = snapshot()
    job = _import_through_the_api(api_client_for(owner), project, archive)
    assert job["status"] == "failed"
    assert "Accepted layouts:" in job["error"]
    for layout in ACCEPTED_LAYOUTS:
        assert layout in job["error"]
    assert snapshot() == before


def _cvat_video_zip(path: Path, frames: int = 4) -> Path:
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
<meta><task><id>1</id><name>m3</name><size>{frames}</size><mode>interpolation</mode>
<start_frame>0</start_frame><stop_frame>{frames - 1}</stop_frame>
<labels><label><name>mouse</name></label></labels>
<original_size><width>{W}</width><height>{H}</height></original_size></task></meta>
<track id="0" label="mouse" source="manual">
<box frame="0" outside="0" occluded="0" keyframe="1" xtl="0" ytl="0" xbr="10" ybr="10"
 z_order="0"/>
<box frame="2" outside="0" occluded="0" keyframe="1" xtl="4" ytl="2" xbr="14" ybr="12"
 z_order="0"/>
<box frame="3" outside="1" occluded="0" keyframe="1" xtl="4" ytl="2" xbr="14" ybr="12"
 z_order="0"/>
</track></annotations>"""
    files: dict[str, bytes | str] = {"annotations.xml": xml}
    for f in range(frames):
        files[f"images/frame_{f:06d}.PNG"] = image_bytes(10 + f, fmt="PNG")
    return write_zip(path, files)


@pytest.mark.django_db
def test_cvat_video_import_stores_every_covered_frame(project, owner, tmp_path):
    archive = _cvat_video_zip(tmp_path / "video.zip")
    result = dataset_import(project=project, fmt="auto", path=archive, created_by=owner)
    assert (result.fmt, result.layout) == ("cvat", cvat.LAYOUT_VIDEO)
    assert result.frames_created == 3  # frame 3 is outside: not covered
    rows = sorted(
        Box.objects.filter(frame__video_id=result.imageset_id).values_list(
            "frame__source_name", "x", "y", "w", "h"
        )
    )
    assert rows == [
        ("frame_000000.PNG", 0, 0, 10, 10),
        ("frame_000001.PNG", 2, 1, 10, 10),
        ("frame_000002.PNG", 4, 2, 10, 10),
    ]


def _roboflow_zip(path: Path, missing: bool = False) -> Path:
    cats = [
        {"id": 0, "name": "mice-ab12", "supercategory": "none"},
        {"id": 1, "name": "mouse", "supercategory": "mice-ab12"},
    ]
    files: dict[str, bytes | str] = {"README.roboflow.txt": "roboflow"}
    for n, split in enumerate(("train", "valid")):
        name = f"img{n}_jpg.rf.{n}abc.jpg"
        if not missing or split == "train":
            files[f"{split}/{name}"] = image_bytes(20 + n)
        files[f"{split}/_annotations.coco.json"] = json.dumps(
            {
                "categories": cats,
                "images": [{"id": 0, "file_name": name, "width": W, "height": H}],
                "annotations": [
                    {"id": 0, "image_id": 0, "category_id": 1, "bbox": [1, 2, 8, 9], "iscrowd": 0}
                ],
            }
        )
    return write_zip(path, files)


@pytest.mark.django_db
def test_roboflow_coco_imports_with_its_splits(project, owner, tmp_path):
    result = dataset_import(
        project=project, fmt="auto", path=_roboflow_zip(tmp_path / "rf.zip"), created_by=owner
    )
    assert (result.fmt, result.layout) == ("coco", coco.LAYOUT_ROBOFLOW)
    assert result.classes_created == []  # the supercategory placeholder is no class
    assert sorted(
        Frame.objects.filter(video_id=result.imageset_id).values_list("source_name", "split")
    ) == [("img0_jpg.rf.0abc.jpg", "train"), ("img1_jpg.rf.1abc.jpg", "val")]


@pytest.mark.django_db
def test_a_refused_tool_layout_stores_nothing(project, owner, tmp_path):
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        dataset_import(
            project=project,
            fmt="auto",
            path=_roboflow_zip(tmp_path / "rf.zip", missing=True),
            created_by=owner,
        )
    assert "image file missing from valid/" in str(caught.value)
    assert snapshot() == before


@pytest.mark.django_db
def test_darknet_zip_imports_with_names_from_its_lists(project, owner, tmp_path):
    files: dict[str, bytes | str] = {
        "obj.data": "classes = 1\ntrain = data/train.txt\nnames = data/obj.names\n",
        "obj.names": "mouse\n",
        "train.txt": "data/obj_train_data/cam1_0001.jpg\ndata/obj_train_data/cam1_0002.jpg\n",
        "obj_train_data/cam1_0001.jpg": image_bytes(31),
        "obj_train_data/cam1_0001.txt": "0 0.5 0.5 0.25 0.25\n",
        "obj_train_data/cam1_0002.jpg": image_bytes(32),
    }
    archive = write_zip(tmp_path / "darknet.zip", files)
    result = dataset_import(project=project, fmt="auto", path=archive, created_by=owner)
    assert (result.fmt, result.layout) == ("yolo", yolo.LAYOUT_DARKNET)
    frames = {f.source_name: f for f in Frame.objects.filter(video_id=result.imageset_id)}
    assert set(frames) == {"cam1_0001.jpg", "cam1_0002.jpg"}
    assert frames["cam1_0002.jpg"].is_negative and frames["cam1_0001.jpg"].boxes.count() == 1


@pytest.mark.django_db
def test_a_chosen_format_in_an_unknown_layout_lists_that_formats_layouts(project, owner, tmp_path):
    archive = write_zip(tmp_path / "odd.zip", {"pics/a.jpg": image_bytes(1)})
    with pytest.raises(ValidationError) as caught:
        dataset_import(project=project, fmt="coco", path=archive, created_by=owner)
    text = " ".join(caught.value.message_dict["file"])
    assert "COCO layouts accepted:" in text and coco.LAYOUT_ROBOFLOW in text


def _coded_mp4(path: Path, count: int) -> Path:
    """An H.264 MP4 whose frame ``i`` shows ``i`` in its pixels (``read_code``)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "veryfast"})
        stream.height, stream.width, stream.pix_fmt = VH, VW, "yuv420p"
        for i in range(count):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(coded_frame(i), format="bgr24")))
        out.mux(stream.encode(None))
    return path


@pytest.mark.django_db
def test_cvat_video_without_frame_images_takes_the_frames_from_the_video(project, owner, tmp_path):
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
<meta><task><id>1</id><name>m3</name><size>12</size><mode>interpolation</mode>
<start_frame>0</start_frame><stop_frame>11</stop_frame>
<labels><label><name>mouse</name></label></labels>
<original_size><width>{VW}</width><height>{VH}</height></original_size></task></meta>
<track id="0" label="mouse" source="manual">
<box frame="3" outside="0" occluded="0" keyframe="1" xtl="0" ytl="0" xbr="10" ybr="10"/>
<box frame="5" outside="0" occluded="0" keyframe="1" xtl="4" ytl="2" xbr="14" ybr="12"/>
<box frame="6" outside="1" occluded="0" keyframe="1" xtl="4" ytl="2" xbr="14" ybr="12"/>
</track></annotations>"""
    video = _coded_mp4(tmp_path / "m3.mp4", 12)
    archive = write_zip(
        tmp_path / "cvat.zip", {"annotations.xml": xml, "m3.mp4": video.read_bytes()}
    )
    result = dataset_import(project=project, fmt="auto", path=archive, created_by=owner)
    assert result.layout == cvat.LAYOUT_VIDEO and result.frames_created == 3
    frames = list(Frame.objects.filter(video_id=result.imageset_id).order_by("frame_index"))
    assert [f.source_name for f in frames] == [f"frame_{i:06d}.jpg" for i in (3, 4, 5)]
    for frame, index in zip(frames, (3, 4, 5), strict=True):
        with default_storage.open(frame.image.name) as fh:
            pixels = np.asarray(Image.open(fh).convert("RGB"))[:, :, ::-1]
        assert read_code(pixels) == index  # the very frame the XML numbers
    assert list(frames[1].boxes.values_list("x", "y", "w", "h")) == [(2, 1, 10, 10)]
    assert not [p for p in scratch_files() if p.startswith("imports")]


@pytest.mark.django_db
def test_cvat_video_frames_past_the_end_of_the_video_are_refused(project, owner, tmp_path):
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
<meta><task><size>40</size><stop_frame>39</stop_frame>
<original_size><width>{VW}</width><height>{VH}</height></original_size></task></meta>
<track id="0" label="mouse"><box frame="30" outside="0" xtl="0" ytl="0" xbr="9" ybr="9"/>
</track></annotations>"""
    video = _coded_mp4(tmp_path / "m3.mp4", 12)
    archive = write_zip(
        tmp_path / "cvat.zip", {"annotations.xml": xml, "m3.mp4": video.read_bytes()}
    )
    before = snapshot()
    with pytest.raises(ValidationError, match="m3.mp4: the frames the tracks cover cannot"):
        dataset_import(project=project, fmt="cvat", path=archive, created_by=owner)
    assert snapshot() == before
    assert not [p for p in scratch_files() if p.startswith("imports")]


@pytest.mark.django_db
def test_voc_export_lists_unlabeled_frames_without_annotations_and_they_come_back_unlabeled(
    project, owner, tmp_path
):
    """Labeled, negative and unlabeled frames exported as VOC (unlabeled on request): an
    unlabeled frame has no annotation file, only its ImageSets line, so importing the export
    gives back the same labeled / negative / unlabeled frames with the same boxes."""
    frames = populate(project)
    make_frame(make_source(project, "cage C"), 0, status=Frame.Status.UNLABELED, split="val")
    out = tmp_path / "voc"
    result = dataset_export(project=project, fmt="voc", out_dir=out, include_unlabeled=True)
    assert (result.images, result.negatives, result.unlabeled, result.boxes) == (8, 2, 2, 5)
    names = export_file_names(list(Frame.objects.filter(project=project)), "voc")
    unlabeled = frames[6]
    ident = voc.voc_id(names[unlabeled.pk])
    assert (out / "JPEGImages" / names[unlabeled.pk]).read_bytes() == unlabeled.image.read()
    assert not (out / "Annotations" / f"{ident}.xml").exists()
    assert ident in (out / "ImageSets/Main/test.txt").read_text().split()  # it has no split
    negative = frames[2]
    negative_xml = (out / "Annotations" / f"{voc.voc_id(names[negative.pk])}.xml").read_text()
    assert "<object>" not in negative_xml  # a negative keeps its (empty) annotation
    assert len(list((out / "Annotations").iterdir())) == 6

    target = project_create(name="Round trip", owner=owner)
    back = dataset_import(
        project=target, fmt="voc", path=out, created_by=owner, create_missing_classes=True
    )
    assert (back.images, back.frames_created) == (8, 8)
    assert "2 images listed in ImageSets/Main without an annotation file" in back.warnings[0]
    imported = {f.source_name: f for f in Frame.objects.filter(project=target)}
    for frame in Frame.objects.filter(project=project):
        copy = imported[names[frame.pk]]
        was_unlabeled = frame.status == Frame.Status.UNLABELED
        assert (copy.status == Frame.Status.UNLABELED) is was_unlabeled, names[frame.pk]
        assert copy.is_negative == frame.is_negative
        assert copy.split == ("" if was_unlabeled else frame.split)
        theirs, ours = annotation_of(frame)[4], annotation_of(copy)[4]
        assert [b[0] for b in ours] == [b[0] for b in theirs]
        for mine, original in zip(ours, theirs, strict=True):
            assert mine[1:] == pytest.approx(original[1:], abs=0.5 + 1e-9)  # whole VOC pixels

    # Exported again and imported into the same project: nothing changes, no negatives made.
    again_dir = tmp_path / "again"
    dataset_export(project=target, fmt="voc", out_dir=again_dir, include_unlabeled=True)
    again = dataset_import(project=target, fmt="voc", path=again_dir, created_by=owner)
    assert (again.frames_created, again.frames_updated) == (0, 0)
    statuses = Frame.objects.filter(project=target).values_list("status", flat=True)
    assert list(statuses).count(Frame.Status.UNLABELED) == 2
