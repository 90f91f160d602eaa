"""Datasets laid out as other tools export them: CVAT projects and CVAT for video, Roboflow and
MMDetection COCO, darknet and names-file YOLO, VOC with unannotated ImageSets ids; and the layout
each is detected as. Plain-data tests (no database); each layout is built here as that tool's
documentation describes it."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from labeling.datasets.formats import (
    ACCEPTED_LAYOUTS,
    FormatError,
    coco,
    cvat,
    detect_layout,
    voc,
    yolo,
)
from labeling.datasets.formats.cvat import _Shape, track_boxes


def put_image(path: Path, size=(40, 30), fmt="PNG", value=80) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", size, (value, value // 2, 30)).save(buffer, fmt)
    path.write_bytes(buffer.getvalue())
    return path


def boxes_of(image) -> list[tuple]:
    return sorted((b.class_name, b.x, b.y, b.w, b.h) for b in image.boxes)


# --- CVAT project export ----------------------------------------------------------------

CVAT_PROJECT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <project>
      <id>3</id><name>open field</name>
      <labels><label><name>mouse</name><color>#fa3253</color><type>rectangle</type>
        <attributes></attributes></label></labels>
      <tasks>
        <task><id>11</id><name>day 1</name><subset>Train</subset></task>
        <task><id>12</id><name>day 2</name><subset>Validation</subset></task>
      </tasks>
    </project>
  </meta>
  <image id="0" name="frame_000000.jpg" subset="Train" task_id="11" width="40" height="30">
    <box label="mouse" source="manual" occluded="0" xtl="1.00" ytl="2.00" xbr="11.00"
         ybr="12.00" z_order="0"></box>
  </image>
  <image id="1" name="frame_000001.jpg" subset="Train" task_id="11" width="40" height="30">
  </image>
  <image id="2" name="frame_000000.jpg" subset="Validation" task_id="12" width="40" height="30">
    <box label="mouse" source="manual" occluded="0" xtl="5.00" ytl="6.00" xbr="15.00"
         ybr="16.00" z_order="0"></box>
  </image>
</annotations>
"""


def test_cvat_project_export_with_one_name_in_two_subsets(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "annotations.xml").write_text(CVAT_PROJECT_XML)
    put_image(root / "images/Train/frame_000000.jpg", fmt="JPEG", value=10)
    put_image(root / "images/Train/frame_000001.jpg", fmt="JPEG", value=20)
    put_image(root / "images/Validation/frame_000000.jpg", fmt="JPEG", value=30)
    assert detect_layout(root).fmt == "cvat"
    dataset, resolve = cvat.read(root)
    assert dataset.layout == cvat.LAYOUT_PROJECT
    got = {im.file_name: (im.split, boxes_of(im)) for im in dataset.images}
    assert got == {
        "Train/frame_000000.jpg": ("train", [("mouse", 1.0, 2.0, 10.0, 10.0)]),
        "frame_000001.jpg": ("train", []),
        "Validation/frame_000000.jpg": ("val", [("mouse", 5.0, 6.0, 10.0, 10.0)]),
    }
    by_name = {im.file_name: im for im in dataset.images}
    assert resolve(by_name["Validation/frame_000000.jpg"]) == (
        root / "images/Validation/frame_000000.jpg"
    )


def test_cvat_images_annotated_only_with_other_shapes_are_unlabeled_not_negatives(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    xml = CVAT_PROJECT_XML.replace(
        'task_id="11" width="40" height="30">\n  </image>',
        'task_id="11" width="40" height="30">\n'
        '    <polygon label="mouse" points="1,1;9,1;9,9" z_order="0"></polygon>\n'
        '    <points label="mouse" points="4,4" z_order="0"></points>\n  </image>',
    )
    assert xml != CVAT_PROJECT_XML
    (root / "annotations.xml").write_text(xml)
    put_image(root / "images/Train/frame_000000.jpg", fmt="JPEG", value=10)
    put_image(root / "images/Train/frame_000001.jpg", fmt="JPEG", value=20)
    put_image(root / "images/Validation/frame_000000.jpg", fmt="JPEG", value=30)
    dataset, _ = cvat.read(root)
    image = next(im for im in dataset.images if im.file_name == "frame_000001.jpg")
    assert image.unlabeled and not image.is_negative and not image.boxes
    assert dataset.warnings == [
        "2 shapes other than boxes (1 points, 1 polygon) were not imported; 1 image holding "
        "only such shapes imported as unlabeled frames"
    ]


def test_cvat_project_export_refuses_a_name_twice_in_one_subset(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    xml = CVAT_PROJECT_XML.replace('name="frame_000001.jpg"', 'name="frame_000000.jpg"')
    (root / "annotations.xml").write_text(xml)
    put_image(root / "images/Train/frame_000000.jpg", fmt="JPEG")
    put_image(root / "images/Validation/frame_000000.jpg", fmt="JPEG")
    with pytest.raises(FormatError, match="listed more than once"):
        cvat.read(root)


# --- CVAT for video 1.1 -----------------------------------------------------------------

CVAT_VIDEO_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>7</id><name>m3 open field</name><size>7</size><mode>interpolation</mode>
      <overlap>5</overlap><start_frame>0</start_frame><stop_frame>{stop}</stop_frame>
      <frame_filter></frame_filter><subset>Train</subset>
      <labels><label><name>mouse</name><type>rectangle</type><attributes/></label></labels>
      <original_size><width>40</width><height>30</height></original_size>
    </task>
  </meta>
  <track id="0" label="mouse" source="manual">
    <box frame="0" outside="0" occluded="0" keyframe="1" xtl="0.00" ytl="0.00" xbr="10.00"
         ybr="10.00" z_order="0"></box>
    <box frame="4" outside="0" occluded="0" keyframe="1" xtl="8.00" ytl="4.00" xbr="18.00"
         ybr="14.00" z_order="0"></box>
    <box frame="5" outside="1" occluded="0" keyframe="1" xtl="8.00" ytl="4.00" xbr="18.00"
         ybr="14.00" z_order="0"></box>
  </track>
  <track id="1" label="mouse" source="manual">
    <box frame="2" outside="0" occluded="0" keyframe="1" xtl="20.00" ytl="10.00" xbr="30.00"
         ybr="20.00" z_order="0"></box>
  </track>
</annotations>
"""


def _cvat_video(root: Path, stop: int = 5, frames=range(7)) -> Path:
    root.mkdir()
    (root / "annotations.xml").write_text(CVAT_VIDEO_XML.format(stop=stop))
    for f in frames:
        # CVAT names frames by number; the extension is the stored type's (PNG here).
        put_image(root / f"images/frame_{f:06d}.PNG", value=10 * f)
    return root


def test_cvat_video_imports_every_covered_frame_with_cvat_interpolation(tmp_path):
    root = _cvat_video(tmp_path / "video")
    dataset, resolve = cvat.read(root)
    assert dataset.layout == cvat.LAYOUT_VIDEO
    got = {im.file_name: boxes_of(im) for im in dataset.images}
    mouse1 = ("mouse", 20.0, 10.0, 10.0, 10.0)
    assert got == {
        "frame_000000.PNG": [("mouse", 0.0, 0.0, 10.0, 10.0)],
        # Linear between the keyframes at 0 and 4: a quarter of the way per frame.
        "frame_000001.PNG": [("mouse", 2.0, 1.0, 10.0, 10.0)],
        "frame_000002.PNG": [("mouse", 4.0, 2.0, 10.0, 10.0), mouse1],
        "frame_000003.PNG": [("mouse", 6.0, 3.0, 10.0, 10.0), mouse1],
        "frame_000004.PNG": [("mouse", 8.0, 4.0, 10.0, 10.0), mouse1],
        # Track 0 is outside from frame 5; track 1 continues to the stop frame (5).
        "frame_000005.PNG": [mouse1],
    }
    assert all(im.split == "train" and not im.is_negative for im in dataset.images)
    # frame_000006.PNG is there but no track covers it.
    assert dataset.warnings == ["1 frame image in images/ that no track covers were not imported"]
    frame3 = next(im for im in dataset.images if im.file_name == "frame_000003.PNG")
    assert resolve(frame3) == root / "images/frame_000003.PNG"


def test_cvat_video_frames_need_their_images(tmp_path):
    root = _cvat_video(tmp_path / "video", frames=[0, 1, 2, 4, 5])
    with pytest.raises(FormatError, match=r"frame 3: image file missing \(images/frame_000003"):
        cvat.read(root)


def test_cvat_video_boxes_are_checked_against_the_frame_size(tmp_path):
    root = _cvat_video(tmp_path / "video")
    xml = (root / "annotations.xml").read_text().replace('xbr="30.00"', 'xbr="90.00"')
    (root / "annotations.xml").write_text(xml)
    with pytest.raises(FormatError, match="frame 2: track 1: outside the 40x30 image"):
        cvat.read(root)


def test_track_boxes_follow_cvat_outside_and_reappearing():
    shapes = [
        _Shape(10, False, (0.0, 0.0, 4.0, 4.0)),
        _Shape(12, True, (2.0, 0.0, 6.0, 4.0)),  # hidden from 12 on...
        _Shape(15, False, (6.0, 6.0, 8.0, 8.0)),  # ...visible again at 15
        _Shape(17, False, (8.0, 6.0, 10.0, 8.0)),
    ]
    covered = track_boxes(shapes, stop_frame=18)
    assert sorted(covered) == [10, 11, 15, 16, 17, 18]
    assert covered[11] == (1.0, 0.0, 5.0, 4.0)  # interpolated towards the outside shape
    assert covered[16] == (7.0, 6.0, 9.0, 8.0)
    assert covered[18] == (8.0, 6.0, 10.0, 8.0)  # the last shape lasts to the stop frame
    assert sorted(track_boxes(shapes, stop_frame=None)) == [10, 11, 15, 16, 17]


# --- COCO as Roboflow and MMDetection lay it out -----------------------------------------


def _coco_doc(images: list[tuple[int, str]], boxes: list[tuple[int, int, list]], categories):
    return {
        "info": {"year": "2026", "version": "3", "description": "Exported from roboflow.com"},
        "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/"}],
        "categories": categories,
        "images": [
            {
                "id": i,
                "license": 1,
                "file_name": name,
                "height": 30,
                "width": 40,
                "date_captured": "2026-11-30T10:00:00+00:00",
            }
            for i, name in images
        ],
        "annotations": [
            {
                "id": n,
                "image_id": image_id,
                "category_id": cat,
                "bbox": bbox,
                "area": bbox[2] * bbox[3],
                "segmentation": [],
                "iscrowd": 0,
            }
            for n, (image_id, cat, bbox) in enumerate(boxes)
        ],
    }


ROBOFLOW_CATEGORIES = [
    {"id": 0, "name": "mice-x7Kq", "supercategory": "none"},
    {"id": 1, "name": "mouse", "supercategory": "mice-x7Kq"},
]


def test_roboflow_coco_export_with_split_folders(tmp_path):
    root = tmp_path / "roboflow"
    (root / "README.roboflow.txt").parent.mkdir(parents=True)
    (root / "README.roboflow.txt").write_text("Exported via roboflow.com")
    splits = {"train": ["a_jpg.rf.1f2e.jpg", "b_jpg.rf.9a0c.jpg"], "valid": ["c_jpg.rf.77aa.jpg"]}
    splits["test"] = ["d_jpg.rf.0b0b.jpg"]
    for folder, names in splits.items():
        for name in names:
            put_image(root / folder / name, fmt="JPEG")
        doc = _coco_doc(list(enumerate(names)), [(0, 1, [2.5, 3, 10, 8])], ROBOFLOW_CATEGORIES)
        (root / folder / "_annotations.coco.json").write_text(json.dumps(doc))
    layout = detect_layout(root)
    assert (layout.fmt, layout.name) == ("coco", coco.LAYOUT_ROBOFLOW)
    dataset, _ = coco.read(root)
    assert dataset.layout == coco.LAYOUT_ROBOFLOW
    assert dataset.classes == ["mouse"]  # the dataset-name supercategory is not a class
    got = {im.file_name: (im.split, boxes_of(im)) for im in dataset.images}
    assert got["a_jpg.rf.1f2e.jpg"] == ("train", [("mouse", 2.5, 3.0, 10.0, 8.0)])
    assert got["b_jpg.rf.9a0c.jpg"] == ("train", [])
    assert got["c_jpg.rf.77aa.jpg"][0] == "val" and got["d_jpg.rf.0b0b.jpg"][0] == "test"


def test_roboflow_coco_image_must_be_beside_its_json(tmp_path):
    root = tmp_path / "roboflow"
    put_image(root / "train/elsewhere/a.jpg", fmt="JPEG")
    doc = _coco_doc([(0, "a.jpg")], [], ROBOFLOW_CATEGORIES)
    (root / "train/_annotations.coco.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="a.jpg: image file missing from train/"):
        coco.read(root)


def test_mmdetection_coco_layout(tmp_path):
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    categories = [{"id": 1, "name": "mouse"}, {"id": 2, "name": "rat"}]
    for subset, names in {
        "train2017": ["000001.jpg", "000002.jpg"],
        "val2017": ["000001.jpg"],
    }.items():
        for name in names:
            put_image(root / subset / name, fmt="JPEG", value=len(subset) * 7 + len(name))
        doc = _coco_doc(list(enumerate(names, 1)), [(1, 2, [0, 0, 5, 5])], categories)
        (root / f"annotations/instances_{subset}.json").write_text(json.dumps(doc))
    layout = detect_layout(root)
    assert (layout.fmt, layout.name) == ("coco", coco.LAYOUT_MMDET)
    dataset, resolve = coco.read(root)
    assert dataset.layout == coco.LAYOUT_MMDET and dataset.classes == ["mouse", "rat"]
    got = {im.file_name: (im.split, boxes_of(im)) for im in dataset.images}
    # 000001.jpg is in both subsets: those two are told apart by their folder.
    assert got == {
        "train2017/000001.jpg": ("train", [("rat", 0.0, 0.0, 5.0, 5.0)]),
        "000002.jpg": ("train", []),
        "val2017/000001.jpg": ("val", [("rat", 0.0, 0.0, 5.0, 5.0)]),
    }
    image = next(im for im in dataset.images if im.file_name == "val2017/000001.jpg")
    assert resolve(image) == root / "val2017/000001.jpg"


# --- YOLO as darknet writes it, and folders with a names file ------------------------------


def _darknet(root: Path, train: list[str], valid: list[str]) -> Path:
    root.mkdir()
    (root / "obj.data").write_text(
        "classes = 2\ntrain = data/train.txt\nvalid = data/valid.txt\n"
        "names = data/obj.names\nbackup = backup/\n"
    )
    (root / "obj.names").write_text("mouse\nrat\n")
    for list_name, folder, names in (
        ("train", "obj_train_data", train),
        ("valid", "obj_valid_data", valid),
    ):
        for i, name in enumerate(names):
            put_image(root / folder / name, fmt="JPEG", value=40 + 9 * i + len(folder))
        (root / f"{list_name}.txt").write_text("".join(f"data/{folder}/{name}\n" for name in names))
    return root


def test_darknet_layout_as_cvat_yolo_1_1_writes_it(tmp_path):
    root = _darknet(tmp_path / "darknet", ["a.jpg", "b.jpg"], ["c.jpg"])
    (root / "obj_train_data/a.txt").write_text("1 0.5 0.5 0.25 0.5\n")
    (root / "obj_valid_data/c.txt").write_text("0 0.25 0.5 0.5 0.2\n")
    # b.jpg has no label file: darknet reads no objects (a negative).
    layout = detect_layout(root)
    assert (layout.fmt, layout.name) == ("yolo", yolo.LAYOUT_DARKNET)
    dataset, resolve = yolo.read(root)
    assert dataset.layout == yolo.LAYOUT_DARKNET and dataset.classes == ["mouse", "rat"]
    got = {im.file_name: (im.split, boxes_of(im)) for im in dataset.images}
    assert got == {
        "a.jpg": ("train", [("rat", 15.0, 7.5, 10.0, 15.0)]),
        "b.jpg": ("train", []),
        "c.jpg": ("val", [("mouse", 0.0, 12.0, 20.0, 6.0)]),
    }
    image = next(im for im in dataset.images if im.file_name == "c.jpg")
    assert resolve(image) == root / "obj_valid_data/c.jpg"


def test_darknet_keeps_folders_where_names_would_collide(tmp_path):
    root = _darknet(tmp_path / "darknet", ["x.jpg"], ["x.jpg"])
    dataset, _ = yolo.read(root)
    assert sorted(im.file_name for im in dataset.images) == [
        "obj_train_data/x.jpg",
        "obj_valid_data/x.jpg",
    ]


def test_darknet_problems_name_the_list_line(tmp_path):
    root = _darknet(tmp_path / "darknet", ["a.jpg"], ["c.jpg"])
    with (root / "train.txt").open("a") as fh:
        fh.write("data/obj_train_data/ghost.jpg\n../../etc/passwd\n")
    (root / "obj.data").write_text((root / "obj.data").read_text().replace("2", "3"))
    with pytest.raises(FormatError) as caught:
        yolo.read(root)
    text = "\n".join(caught.value.problems)
    assert "train.txt:2: data/obj_train_data/ghost.jpg not found in the dataset" in text
    assert "train.txt:3: path '../../etc/passwd' escapes" in text
    assert "classes = 3 does not match the 2 names" in text


@pytest.mark.parametrize("names_file", ["obj.names", "classes.txt"])
def test_ultralytics_folders_with_a_names_file_instead_of_data_yaml(tmp_path, names_file):
    root = tmp_path / "yolo"
    put_image(root / "images/train/a.png")
    put_image(root / "images/valid/b.png", value=90)
    (root / "labels/train").mkdir(parents=True)
    (root / "labels/train/a.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / names_file).write_text("mouse\n")
    layout = detect_layout(root)
    assert (layout.fmt, layout.name) == ("yolo", yolo.LAYOUT_FOLDERS)
    dataset, _ = yolo.read(root)
    assert dataset.layout == yolo.LAYOUT_FOLDERS
    got = {im.file_name: (im.split, boxes_of(im)) for im in dataset.images}
    assert got == {"a.png": ("train", [("mouse", 10.0, 7.5, 20.0, 15.0)]), "b.png": ("val", [])}


def test_flat_yolo_folders_with_labelimg_classes_txt(tmp_path):
    root = tmp_path / "labelimg"
    put_image(root / "images/img1.png")
    (root / "labels").mkdir(parents=True)
    (root / "labels/classes.txt").write_text("mouse\nrat\n")
    (root / "labels/img1.txt").write_text("1 0.5 0.5 0.5 0.5\n")
    (root / "labels/orphan.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    with pytest.raises(FormatError, match="labels/orphan.txt: label file without an image"):
        yolo.read(root)
    (root / "labels/orphan.txt").unlink()
    dataset, _ = yolo.read(root)
    assert [(im.file_name, im.split, boxes_of(im)) for im in dataset.images] == [
        ("img1.png", "", [("rat", 10.0, 7.5, 20.0, 15.0)])
    ]


# --- Pascal VOC with images nobody annotated ------------------------------------------------


def test_voc_ids_without_annotation_files_are_unlabeled_images_with_a_warning(tmp_path):
    root = tmp_path / "voc"
    put_image(root / "JPEGImages/a.jpg", fmt="JPEG")
    put_image(root / "JPEGImages/b.jpg", fmt="JPEG", value=20)
    put_image(root / "JPEGImages/c.png", value=30)
    (root / "Annotations").mkdir()
    (root / "Annotations/a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>40</width><height>30</height>"
        "</size><object><name>mouse</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax>"
        "<ymax>10</ymax></bndbox></object></annotation>"
    )
    (root / "ImageSets/Main").mkdir(parents=True)
    (root / "ImageSets/Main/train.txt").write_text("a\nb\n")
    (root / "ImageSets/Main/test.txt").write_text("c\n")
    dataset, resolve = voc.read(root)
    got = {im.file_name: (im.split, im.unlabeled, im.is_negative) for im in dataset.images}
    assert got == {
        "a.jpg": ("train", False, False),
        "b.jpg": ("train", True, False),
        "c.png": ("test", True, False),
    }
    assert dataset.warnings == [
        "2 images listed in ImageSets/Main without an annotation file (b, c) imported as "
        "unlabeled frames"
    ]
    assert resolve(next(im for im in dataset.images if im.file_name == "c.png")) == (
        root / "JPEGImages/c.png"
    )


# --- detection --------------------------------------------------------------------------


def test_every_layout_read_is_listed_as_accepted():
    assert len(set(ACCEPTED_LAYOUTS)) == 10
    assert coco.LAYOUT_ROBOFLOW in ACCEPTED_LAYOUTS and cvat.LAYOUT_VIDEO in ACCEPTED_LAYOUTS


def test_an_unknown_layout_is_not_detected(tmp_path):
    put_image(tmp_path / "pics/a.png")
    (tmp_path / "labels.csv").write_text("a.png,1,2,3,4\n")
    assert detect_layout(tmp_path) is None


def test_darknet_lists_with_absolute_and_windows_paths_and_no_obj_data(tmp_path):
    root = tmp_path / "darknet"
    put_image(root / "obj/a.jpg", fmt="JPEG")
    put_image(root / "obj/b.jpg", fmt="JPEG", value=20)
    (root / "obj/a.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "obj.names").write_text("mouse\n")
    # As darknet users write them: absolute from their machine, or Windows paths.
    (root / "train.txt").write_text(
        "/home/lab/darknet/data/obj/a.jpg\r\nC:\\darknet\\data\\obj\\b.jpg\r\n"
    )
    layout = detect_layout(root)
    assert (layout.fmt, layout.name) == ("yolo", yolo.LAYOUT_DARKNET)
    dataset, _ = yolo.read(root)
    got = {im.file_name: (im.split, len(im.boxes)) for im in dataset.images}
    assert got == {"a.jpg": ("train", 1), "b.jpg": ("train", 0)}


def test_roboflow_yolo_data_yaml_with_parent_folders_reads_as_ultralytics_does(tmp_path):
    root = tmp_path / "roboflow-yolo"
    put_image(root / "train/images/a.jpg", fmt="JPEG")
    put_image(root / "valid/images/b.jpg", fmt="JPEG", value=20)
    (root / "train/labels").mkdir(parents=True)
    (root / "train/labels/a.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\n\nnc: 1\nnames: ['mouse']\n\n"
        "roboflow:\n  workspace: lab\n  project: mice\n  version: 2\n"
    )
    dataset, _ = yolo.read(root)
    got = {im.file_name: (im.split, len(im.boxes)) for im in dataset.images}
    assert got == {"a.jpg": ("train", 1), "b.jpg": ("val", 0)}


# --- garbage in the new layouts is a FormatError, never a crash ------------------------------

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
XML_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12)


def _read_or_format_error(reader, root: Path) -> None:
    try:
        reader(root)
    except FormatError as exc:
        assert exc.problems


@FUZZ
@given(pick=st.integers(0, 1000), value=XML_TEXT)
def test_fuzz_cvat_video_reader(pick, value):
    from xml.etree import ElementTree as ET

    with tempfile.TemporaryDirectory() as tmp:
        root = _cvat_video(Path(tmp) / "video", frames=range(3))
        tree = ET.parse(root / "annotations.xml")
        nodes = list(tree.iter())
        node = nodes[pick % len(nodes)]
        if node.attrib:
            node.set(sorted(node.attrib)[pick % len(node.attrib)], value)
        else:
            node.text = value
        tree.write(root / "annotations.xml", encoding="utf-8")
        _read_or_format_error(cvat.read, root)


@FUZZ
@given(
    which=st.sampled_from(["obj.data", "obj.names", "train.txt", "valid.txt", "label"]),
    text=st.text(max_size=80),
)
def test_fuzz_darknet_reader(which, text):
    with tempfile.TemporaryDirectory() as tmp:
        root = _darknet(Path(tmp) / "darknet", ["a.jpg"], ["c.jpg"])
        target = root / ("obj_train_data/a.txt" if which == "label" else which)
        target.write_text(text, encoding="utf-8", errors="surrogateescape")
        _read_or_format_error(yolo.read, root)


@FUZZ
@given(
    key=st.sampled_from(["categories", "images", "file_name", "supercategory"]),
    value=st.text(max_size=8) | st.integers() | st.none(),
)
def test_fuzz_roboflow_reader(key, value):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rf"
        put_image(root / "train/a.jpg", fmt="JPEG")
        doc = _coco_doc([(0, "a.jpg")], [(0, 1, [1, 1, 5, 5])], ROBOFLOW_CATEGORIES)
        if key in ("categories", "images"):
            doc[key] = value
        elif key == "file_name":
            doc["images"][0]["file_name"] = value
        else:
            doc["categories"][1]["supercategory"] = value
        (root / "train/_annotations.coco.json").write_text(json.dumps(doc))
        _read_or_format_error(coco.read, root)
