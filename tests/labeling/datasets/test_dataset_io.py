"""Dataset export/import services and split assignment, on tiny frames made directly."""

from __future__ import annotations

import json
import stat
import zipfile
from collections import Counter

import pytest
import yaml
from PIL import Image

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from labeling.datasets import exchange, importing
from labeling.datasets.archives import ArchiveLimits, extract_zip, is_junk
from labeling.datasets.exchange import frame_key_from_name
from labeling.datasets.exporting import dataset_export
from labeling.datasets.importing import dataset_import
from labeling.datasets.selectors import dataset_stats
from labeling.datasets.split_services import frames_assign_splits
from labeling.models import Box, Frame, Video
from labeling.services import project_create
from tests.labeling.dataset_helpers import (
    H,
    W,
    annotation_of,
    image_bytes,
    make_frame,
    make_source,
    populate,
    scratch_files,
    snapshot,
    write_zip,
)

FORMATS = ["yolo", "coco", "voc", "cvat"]


@pytest.fixture
def empty_project(owner):
    return project_create(name="Empty B", owner=owner)


def _exported(frames):
    return [f for f in frames if f.status != Frame.Status.UNLABELED]


def _edges(box):
    name, x, y, w, h = box
    return name, x, y, x + w, y + h


def assert_same_annotations(a, b, *, tolerance=1e-9):
    assert a[:4] == b[:4]
    assert len(a[4]) == len(b[4])
    for box_a, box_b in zip(sorted(map(_edges, a[4])), sorted(map(_edges, b[4])), strict=True):
        assert box_a[0] == box_b[0]
        assert box_b[1:] == pytest.approx(box_a[1:], abs=tolerance)


# --- export ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_export_yolo_writes_labeled_frames_negatives_as_empty_and_classes_by_index(
    project, tmp_path
):
    frames = populate(project)
    result = dataset_export(project=project, fmt="yolo", out_dir=tmp_path / "out")
    assert (result.images, result.negatives, result.boxes) == (6, 2, 5)
    data = yaml.safe_load((tmp_path / "out/data.yaml").read_text())
    assert data["names"] == {0: "mouse", 1: "rat"}
    first = frames[0]
    name = f"v{first.video_id}_f{first.frame_index:06d}"
    assert (tmp_path / f"out/images/train/{name}.jpg").read_bytes() == first.image.read()
    label = (tmp_path / f"out/labels/train/{name}.txt").read_text().split()
    assert label[0] == "0" and float(label[1]) == pytest.approx((10 + 10) / W)
    negative = frames[2]
    assert (tmp_path / f"out/labels/val/v{negative.video_id}_f000002.txt").read_text() == ""
    unlabeled = frames[6]
    assert not list((tmp_path / "out").rglob(f"v{unlabeled.video_id}_f000012.*"))


@pytest.mark.django_db
def test_export_one_split_and_unlabeled_on_request(project, tmp_path):
    populate(project)
    result = dataset_export(project=project, fmt="coco", zip_path=tmp_path / "val.zip", split="val")
    assert result.images == 2
    with zipfile.ZipFile(tmp_path / "val.zip") as zf:
        names = zf.namelist()
        doc = json.loads(zf.read("annotations/instances_val.json"))
    assert [n for n in names if n.startswith("annotations/")] == ["annotations/instances_val.json"]
    assert len(doc["images"]) == 2
    everything = dataset_export(
        project=project, fmt="cvat", out_dir=tmp_path / "all", include_unlabeled=True
    )
    assert everything.images == 7


@pytest.mark.django_db
def test_export_refuses_bad_format_split_and_empty_projects(project, tmp_path):
    with pytest.raises(ValidationError) as exc:
        dataset_export(project=project, fmt="pascal", out_dir=tmp_path / "x")
    assert "format" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        dataset_export(project=project, fmt="yolo", out_dir=tmp_path / "x", split="holdout")
    assert "split" in exc.value.message_dict
    with pytest.raises(ValidationError, match="no labeled frames"):
        dataset_export(project=project, fmt="yolo", out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.django_db
def test_export_to_a_non_empty_folder_or_existing_zip_leaves_it_alone(project, tmp_path):
    populate(project)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy/keep.txt").write_text("mine")
    with pytest.raises(ValidationError, match="not empty"):
        dataset_export(project=project, fmt="voc", out_dir=tmp_path / "busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]
    (tmp_path / "old.zip").write_bytes(b"old")
    with pytest.raises(ValidationError, match="already exists"):
        dataset_export(project=project, fmt="voc", zip_path=tmp_path / "old.zip")
    assert (tmp_path / "old.zip").read_bytes() == b"old"
    assert not [p for p in scratch_files() if p.startswith("exports")]


@pytest.mark.django_db
def test_export_names_carry_the_frame_identity():
    assert frame_key_from_name("images/train/v12_f000034.jpg") == (12, 34)
    assert frame_key_from_name("v12_f1234567.png") == (12, 1234567)
    assert frame_key_from_name("mouse_001.jpg") is None


# --- round trips ----------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_into_an_empty_project_keeps_every_box(
    fmt, project, empty_project, owner, tmp_path
):
    frames = _exported(populate(project))
    dataset_export(project=project, fmt=fmt, zip_path=tmp_path / "a.zip")
    result = dataset_import(
        project=empty_project,
        fmt=fmt,
        path=tmp_path / "a.zip",
        created_by=owner,
        create_missing_classes=True,
    )
    assert (result.images, result.frames_created, result.frames_updated) == (6, 6, 0)
    assert result.classes_created == ["rat"]
    imageset = Video.objects.get(pk=result.imageset_id)
    assert imageset.kind == Video.Kind.IMAGE_SET and imageset.project == empty_project
    imported = list(imageset.frames.order_by("frame_index"))
    # Image-set frames follow the sorted exported names, i.e. (video id, frame index).
    originals = sorted(frames, key=lambda f: exchange.export_file_name(f))
    # VOC stores whole pixels: each edge may move by up to half a pixel.
    tolerance = 0.5 + 1e-9 if fmt == "voc" else 1e-9
    for before, after in zip(originals, imported, strict=True):
        assert_same_annotations(annotation_of(before), annotation_of(after), tolerance=tolerance)
        assert after.status == Frame.Status.LABELED
        assert after.image.read() == before.image.read()
        assert after.annotated_by == owner
    assert list(empty_project.classes.values_list("name", "index")) == [("mouse", 0), ("rat", 1)]
    assert not [p for p in scratch_files() if p.startswith(("imports", "exports"))]


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_reimport_into_the_same_project_updates_frames_instead_of_duplicating(
    fmt, project, owner, tmp_path
):
    frames = populate(project)
    dataset_export(project=project, fmt=fmt, out_dir=tmp_path / "ds")
    counts = (Video.objects.count(), Frame.objects.count())
    # Annotators change things after the export; the import puts the exported state back.
    edited, negative = frames[1], frames[2]
    edited_before = annotation_of(edited)
    Box.objects.filter(frame=edited).delete()
    Frame.objects.filter(pk=edited.pk).update(is_negative=True)
    Box.objects.create(
        frame=negative, label_class=project.classes.get(name="mouse"), x=1, y=1, w=5, h=5
    )
    Frame.objects.filter(pk=negative.pk).update(is_negative=False)

    result = dataset_import(project=project, fmt=fmt, path=tmp_path / "ds", created_by=owner)
    assert (Video.objects.count(), Frame.objects.count()) == counts
    # VOC holds whole pixels: the frame with a half-pixel box comes back rounded (updated).
    expected = (0, 3, 3) if fmt == "voc" else (0, 2, 4)
    assert (result.frames_created, result.frames_updated, result.frames_unchanged) == expected
    assert result.imageset_id is None
    edited.refresh_from_db()
    tolerance = 0.5 + 1e-9 if fmt == "voc" else 1e-9
    assert_same_annotations(edited_before, annotation_of(edited), tolerance=tolerance)
    assert edited.annotation_version == 1  # the editor sees the change as a new version
    negative.refresh_from_db()
    assert negative.is_negative and not negative.boxes.exists()
    reviewed = Frame.objects.get(pk=frames[3].pk)
    assert reviewed.status == Frame.Status.REVIEWED  # unchanged frames keep their review


@pytest.mark.django_db
def test_reimporting_a_third_party_dataset_matches_frames_by_content(project, owner, tmp_path):
    ds = _coco_folder(tmp_path / "ds", boxes=[[2, 3, 10, 10]])
    first = dataset_import(project=project, fmt="coco", path=ds, created_by=owner)
    assert first.frames_created == 2
    doc = json.loads((ds / "annotations/instances_train.json").read_text())
    doc["annotations"][0]["bbox"] = [4, 4, 8, 8]
    (ds / "annotations/instances_train.json").write_text(json.dumps(doc))
    second = dataset_import(project=project, fmt="coco", path=ds, created_by=owner)
    assert (second.frames_created, second.frames_updated, second.frames_unchanged) == (0, 1, 1)
    assert Frame.objects.filter(project=project).count() == 2
    assert list(Box.objects.filter(frame__project=project).values_list("x", "y", "w", "h")) == [
        (4, 4, 8, 8)
    ]


@pytest.mark.django_db
def test_images_without_boxes_leave_unlabeled_frames_unlabeled(project, owner, tmp_path):
    frames = populate(project)
    dataset_export(project=project, fmt="cvat", out_dir=tmp_path / "ds", include_unlabeled=True)
    result = dataset_import(project=project, fmt="cvat", path=tmp_path / "ds", created_by=owner)
    assert result.frames_left_unlabeled == 1
    unlabeled = Frame.objects.get(pk=frames[6].pk)
    assert unlabeled.status == Frame.Status.UNLABELED and not unlabeled.is_negative


@pytest.mark.django_db
def test_imported_splits_and_auto_detection(project, owner, tmp_path):
    populate(project)
    dataset_export(project=project, fmt="voc", zip_path=tmp_path / "voc.zip")
    other = project_create(name="Other", owner=owner, class_names=["mouse", "rat"])
    result = dataset_import(project=other, fmt="auto", path=tmp_path / "voc.zip", created_by=owner)
    assert result.fmt == "voc"
    assert Counter(other.frames.values_list("split", flat=True)) == {
        "train": 3,
        "val": 2,
        "test": 1,
    }


@pytest.mark.django_db
def test_a_zip_wrapping_the_dataset_in_one_folder_is_found(project, owner, tmp_path):
    ds = _coco_folder(tmp_path / "ds")
    files = {
        f"my-dataset/{p.relative_to(ds).as_posix()}": p.read_bytes()
        for p in ds.rglob("*")
        if p.is_file()
    }
    files["__MACOSX/my-dataset/._x.jpg"] = b"junk"
    archive = write_zip(tmp_path / "wrapped.zip", files)
    result = dataset_import(project=project, fmt="auto", path=archive, created_by=owner)
    assert result.frames_created == 2


@pytest.mark.django_db
def test_tiff_images_are_stored_as_png_for_browsers(project, owner, tmp_path):
    ds = tmp_path / "ds"
    (ds / "JPEGImages").mkdir(parents=True)
    (ds / "Annotations").mkdir()
    Image.new("RGB", (W, H), (10, 200, 30)).save(ds / "JPEGImages/scan.tif")
    (ds / "Annotations/scan.xml").write_text(
        "<annotation><filename>scan.tif</filename><size><width>64</width><height>48</height>"
        "<depth>3</depth></size><object><name>mouse</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
        "<xmax>10</xmax><ymax>10</ymax></bndbox></object></annotation>"
    )
    dataset_import(project=project, fmt="voc", path=ds, created_by=owner)
    frame = Frame.objects.get(project=project)
    assert frame.image.name.endswith(".png")
    with default_storage.open(frame.image.name) as fh, Image.open(fh) as img:
        assert img.format == "PNG" and img.size == (W, H)


@pytest.mark.django_db
def test_exif_rotated_jpegs_are_stored_upright(project, owner, tmp_path):
    ds = tmp_path / "ds"
    (ds / "images/train").mkdir(parents=True)
    img = Image.new("RGB", (H, W), (200, 10, 10))  # stored 48x64, displayed 64x48
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(ds / "images/train/rot.jpg", exif=exif.tobytes())
    (ds / "images/val").mkdir()
    (ds / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [mouse]\n")
    (ds / "labels/train").mkdir(parents=True)
    (ds / "labels/train/rot.txt").write_text("0 0.5 0.5 0.25 0.5\n")
    dataset_import(project=project, fmt="yolo", path=ds, created_by=owner)
    frame = Frame.objects.get(project=project)
    assert (frame.width, frame.height) == (W, H)
    with default_storage.open(frame.image.name) as fh, Image.open(fh) as stored:
        assert stored.size == (W, H) and stored.getexif().get(0x0112) in (None, 1)


# --- malformed input: a clear error and nothing imported ------------------------------
def _coco_folder(
    root,
    *,
    boxes=([2, 3, 10, 10],),
    file_names=("a.jpg", "b.jpg"),
    category="mouse",
    write_images=True,
):
    (root / "annotations").mkdir(parents=True)
    (root / "images/train").mkdir(parents=True)
    images, annotations = [], []
    for i, name in enumerate(file_names, 1):
        images.append({"id": i, "file_name": name, "width": W, "height": H})
        if write_images and "/" not in name:
            (root / "images/train" / name).write_bytes(image_bytes(500 + i))
    for j, bbox in enumerate(boxes, 1):
        annotations.append(
            {
                "id": j,
                "image_id": 1,
                "category_id": 1,
                "bbox": list(bbox),
                "area": bbox[2] * bbox[3],
                "iscrowd": 0,
            }
        )
    doc = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": category}],
    }
    (root / "annotations/instances_train.json").write_text(json.dumps(doc))
    return root


def _yolo_folder(root, label="0 0.5 0.5 0.2 0.2\n", names="[mouse]"):
    (root / "images/train").mkdir(parents=True)
    (root / "images/val").mkdir()
    (root / "labels/train").mkdir(parents=True)
    (root / "images/train/a.jpg").write_bytes(image_bytes(900))
    (root / "labels/train/a.txt").write_text(label)
    (root / "data.yaml").write_text(f"train: images/train\nval: images/val\nnames: {names}\n")
    return root


def _voc_folder(root, xml):
    (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir()
    (root / "JPEGImages/a.jpg").write_bytes(image_bytes(901))
    (root / "Annotations/a.xml").write_text(xml)
    return root


def _malformed_cases(tmp_path):
    def bad_json():
        ds = _coco_folder(tmp_path / "json")
        (ds / "annotations/instances_train.json").write_text("{not json")
        return "coco", ds, "not valid JSON"

    def bad_xml():
        return "voc", _voc_folder(tmp_path / "xml", "<annotation><filename>a.jpg"), "XML"

    def outside():
        return "yolo", _yolo_folder(tmp_path / "out", "0 1.4 0.5 0.5 0.2\n"), "outside"

    def unknown_class():
        return "coco", _coco_folder(tmp_path / "cls", category="hamster"), "'hamster'"

    def missing_image():
        return "coco", _coco_folder(tmp_path / "miss", write_images=False), "missing"

    def escaping():
        return (
            "coco",
            _coco_folder(tmp_path / "esc", file_names=("../../etc/passwd.jpg",)),
            "escapes",
        )

    def escaping_yaml():
        ds = _yolo_folder(tmp_path / "escy")
        (ds / "data.yaml").write_text("train: ../../elsewhere\nval: images/val\nnames: [m]\n")
        return "yolo", ds, "escapes"

    def truncated_image():
        ds = _coco_folder(tmp_path / "trunc")
        data = (ds / "images/train/a.jpg").read_bytes()
        (ds / "images/train/a.jpg").write_bytes(data[: len(data) // 2])
        return "coco", ds, "a.jpg"

    def wrong_format():
        return "yolo", _coco_folder(tmp_path / "wrong"), "looks like a COCO dataset"

    return {
        f.__name__: f
        for f in (
            bad_json,
            bad_xml,
            outside,
            unknown_class,
            missing_image,
            escaping,
            escaping_yaml,
            truncated_image,
            wrong_format,
        )
    }


MALFORMED = [
    "bad_json",
    "bad_xml",
    "outside",
    "unknown_class",
    "missing_image",
    "escaping",
    "escaping_yaml",
    "truncated_image",
    "wrong_format",
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_dataset_is_refused_with_its_problems_and_nothing_imported(
    case, project, owner, tmp_path
):
    populate(project)
    fmt, path, expected = _malformed_cases(tmp_path)[case]()
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        dataset_import(project=project, fmt=fmt, path=path, created_by=owner)
    messages = exc.value.message_dict["file"]
    assert "nothing was imported" in messages[0]
    assert any(expected in m for m in messages[1:]), messages
    assert snapshot() == before


@pytest.mark.django_db
def test_problems_are_listed_up_to_a_limit_with_the_total(project, owner, tmp_path):
    boxes = [[100 + i, 0, 5, 5] for i in range(30)]  # all outside the 64x48 image
    ds = _coco_folder(tmp_path / "many", boxes=boxes)
    with pytest.raises(ValidationError) as exc:
        dataset_import(project=project, fmt="coco", path=ds, created_by=owner)
    messages = exc.value.message_dict["file"]
    assert messages[0].startswith("30 problems found")
    assert len(messages) == 1 + exchange.SHOWN_PROBLEMS + 1
    assert messages[-1] == "... and 10 more."


@pytest.mark.django_db
def test_unknown_classes_are_added_only_on_request(project, owner, tmp_path):
    ds = _coco_folder(tmp_path / "ds", category="Hamster")
    result = dataset_import(
        project=project, fmt="coco", path=ds, created_by=owner, create_missing_classes=True
    )
    assert result.classes_created == ["Hamster"]
    assert Box.objects.get().label_class.name == "Hamster"


@pytest.mark.django_db
def test_class_names_match_ignoring_case(project, owner, tmp_path):
    ds = _coco_folder(tmp_path / "ds", category="Mouse")
    dataset_import(project=project, fmt="coco", path=ds, created_by=owner)
    assert Box.objects.get().label_class == project.classes.get(name="mouse")


@pytest.mark.django_db
def test_a_failing_database_write_removes_the_stored_images(project, owner, tmp_path, monkeypatch):
    populate(project)
    dataset_export(project=project, fmt="coco", zip_path=tmp_path / "a.zip")
    other = project_create(name="Other", owner=owner, class_names=["mouse", "rat"])
    before = snapshot()

    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(importing, "_update_frames", fail)
    with pytest.raises(RuntimeError):
        dataset_import(project=other, fmt="coco", path=tmp_path / "a.zip", created_by=owner)
    assert snapshot() == before


@pytest.mark.django_db
def test_non_zip_files_and_missing_paths_are_refused(project, owner, tmp_path):
    (tmp_path / "x.zip").write_bytes(b"\x89PNG not a zip at all")
    with pytest.raises(ValidationError, match="must be a zip"):
        dataset_import(project=project, fmt="auto", path=tmp_path / "x.zip", created_by=owner)
    with pytest.raises(ValidationError, match="neither"):
        dataset_import(project=project, fmt="auto", path=tmp_path / "nope", created_by=owner)
    with pytest.raises(ValidationError) as exc:
        dataset_import(project=project, fmt="tfrecord", path=tmp_path, created_by=owner)
    assert "format" in exc.value.message_dict


# --- archives: refused before anything is extracted -----------------------------------
def _symlink_zip(path):
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("data.yaml")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return path


def _bomb_zip(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images/train/a.jpg", b"\0" * (20 * 1024 * 1024))
    return path


def _nul_name_zip(path):
    write_zip(path, {"data.yamlX../../evil.txt": "x"})
    path.write_bytes(path.read_bytes().replace(b"yamlX", b"yaml\0"))
    return path


def _crafted_count_zip(path):
    """A tiny zip whose end record claims 65534 entries."""
    write_zip(path, {"a.txt": "x"})
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    data[at + 8 : at + 12] = (65534).to_bytes(2, "little") * 2
    path.write_bytes(bytes(data))
    return path


ARCHIVES = {
    "nul_name": (_nul_name_zip, "control or invisible character"),
    "crafted_count": (_crafted_count_zip, "65534 entries"),
    "zip_slip": (
        lambda p: write_zip(p, {"../../evil.txt": "x", "data.yaml": "names: [m]"}),
        "escapes",
    ),
    "absolute": (lambda p: write_zip(p, {"/tmp/evil.txt": "x"}), "absolute"),
    "symlink": (_symlink_zip, "symbolic link"),
    "bomb": (_bomb_zip, "zip bomb"),
    "too_many": (lambda p: write_zip(p, {f"f{i}.txt": "x" for i in range(30)}), "entries"),
    "truncated": (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40) and p, "not a readable"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_unsafe_archives_are_refused_and_leave_no_temp_files(
    case, project, owner, tmp_path, settings
):
    settings.DATASET_IMPORT_MAX_ENTRIES = 20
    build, expected = ARCHIVES[case]
    archive = build(tmp_path / f"{case}.zip")
    before, scratch = snapshot(), scratch_files()
    with pytest.raises(ValidationError) as exc:
        dataset_import(project=project, fmt="auto", path=archive, created_by=owner)
    messages = exc.value.message_dict["file"]
    assert any(expected in m for m in messages), messages
    assert snapshot() == before
    assert scratch_files() == scratch


def test_extract_zip_checks_everything_before_writing(tmp_path):
    archive = write_zip(tmp_path / "mixed.zip", {"ok.txt": "fine", "../bad.txt": "x"})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ValueError, match="escapes"):
        extract_zip(archive, dest, ArchiveLimits())
    assert list(dest.iterdir()) == []


def test_extract_zip_refuses_lzma_entries_before_decompressing(tmp_path):
    archive = tmp_path / "lzma.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_LZMA) as zf:
        zf.writestr("labels/a.txt", "0 0.5 0.5 0.1 0.1\n" * 100)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ValueError, match="compress"):
        extract_zip(archive, dest, ArchiveLimits())
    assert list(dest.iterdir()) == []


def test_extract_zip_skips_os_litter_and_refuses_duplicates(tmp_path):
    assert is_junk("__MACOSX/a/._b.jpg") and is_junk("x/.DS_Store") and not is_junk("a/b.jpg")
    archive = write_zip(tmp_path / "ok.zip", {"a/b.txt": "1", "a/.DS_Store": "x"})
    dest = tmp_path / "dest"
    dest.mkdir()
    assert extract_zip(archive, dest) == 1
    with zipfile.ZipFile(tmp_path / "dup.zip", "w") as zf:
        zf.writestr("a.txt", "1")
        with pytest.warns(UserWarning):
            zf.writestr("a.txt", "2")
    with pytest.raises(ValueError, match="more than once"):
        extract_zip(tmp_path / "dup.zip", tmp_path / "dest2")


# --- splits ---------------------------------------------------------------------------
def _labeled_frames(video, start, n, status=Frame.Status.LABELED):
    return [make_frame(video, i, status=status) for i in range(start, start + n)]


@pytest.mark.django_db
def test_assigning_splits_is_stable_when_frames_are_added(project):
    video = make_source(project)
    first = _labeled_frames(video, 0, 30)
    assert frames_assign_splits(project=project) == 30
    before = dict(Frame.objects.values_list("id", "split"))
    assert set(before.values()) <= {"train", "val", "test"}
    later = _labeled_frames(video, 30, 10)
    assert frames_assign_splits(project=project) == 10
    after = dict(Frame.objects.values_list("id", "split"))
    assert {fid: after[fid] for fid in before} == before
    assert all(after[f.pk] for f in later)
    assert frames_assign_splits(project=project) == 0
    assert len(first) == 30


@pytest.mark.django_db
def test_unlabeled_frames_get_no_split(project):
    video = make_source(project)
    _labeled_frames(video, 0, 5, status=Frame.Status.UNLABELED)
    _labeled_frames(video, 5, 5)
    assert frames_assign_splits(project=project) == 5
    assert set(Frame.objects.filter(status="unlabeled").values_list("split", flat=True)) == {""}


@pytest.mark.django_db
def test_by_video_keeps_each_video_in_one_split_also_for_new_frames(project):
    project.split_by_video = True
    project.save()
    videos = [make_source(project, f"cage {i}") for i in range(12)]
    for video in videos:
        _labeled_frames(video, 0, 3)
    frames_assign_splits(project=project)
    for video in videos:
        _labeled_frames(video, 3, 2)
    frames_assign_splits(project=project)
    splits_per_video = {
        video.pk: set(video.frames.values_list("split", flat=True)) for video in videos
    }
    assert all(len(s) == 1 and s != {""} for s in splits_per_video.values())
    assert len({next(iter(s)) for s in splits_per_video.values()}) > 1  # 12 videos spread


@pytest.mark.django_db
def test_reassign_applies_new_settings_to_every_annotated_frame(project):
    video = make_source(project)
    _labeled_frames(video, 0, 40)
    _labeled_frames(video, 40, 2, status=Frame.Status.UNLABELED)
    frames_assign_splits(project=project)
    Frame.objects.filter(status="unlabeled").update(split="test")
    project.split_train, project.split_val, project.split_test = 0, 100, 0
    project.save()
    assert frames_assign_splits(project=project) == 0  # stable: nothing unassigned
    changed = frames_assign_splits(project=project, reassign=True)
    assert changed > 0
    assert set(Frame.objects.filter(status="labeled").values_list("split", flat=True)) == {"val"}
    assert set(Frame.objects.filter(status="unlabeled").values_list("split", flat=True)) == {""}


@pytest.mark.django_db
def test_stats_count_classes_splits_and_sources(project):
    populate(project)
    stats = dataset_stats(project=project)
    assert (stats.frames, stats.annotated, stats.negatives, stats.boxes) == (7, 6, 2, 5)
    assert stats.splits == {"train": 3, "val": 2, "test": 1, "unassigned": 0}
    mouse, rat = stats.classes
    assert (mouse.name, mouse.total, mouse.frames) == ("mouse", 3, 3)
    assert rat.boxes == {"train": 1, "val": 0, "test": 1, "unassigned": 0}
    cage_a, cage_b = stats.sources
    assert (cage_a.annotated, cage_a.negatives, cage_a.boxes) == (4, 1, 4)
    assert (cage_b.frames, cage_b.annotated, cage_b.splits["val"]) == (3, 2, 1)


@pytest.mark.django_db
@pytest.mark.parametrize("threads", [1, 3])
def test_zip_and_folder_imports_store_every_image_byte_for_byte(
    project, owner, tmp_path, settings, threads
):
    """With the checks on one or several threads: a zip's images reach storage unchanged
    (moved from the import's own unpacked copy) and no scratch file is left; a folder's are
    copied and the folder keeps them; problems are listed in the dataset's order."""
    settings.DATASET_IMPORT_CHECK_THREADS = threads
    names = [f"img{k:02d}.jpg" for k in range(9)]
    ds = _coco_folder(tmp_path / "ds", file_names=names)
    originals = {p.name: p.read_bytes() for p in (ds / "images/train").iterdir()}
    files = {p.relative_to(ds).as_posix(): p.read_bytes() for p in ds.rglob("*") if p.is_file()}
    archive = write_zip(tmp_path / "ds.zip", files)
    before = scratch_files()
    for path in (archive, ds):
        target = project_create(name=f"Target {path.name}", owner=owner)
        result = dataset_import(project=target, fmt="coco", path=path, created_by=owner)
        assert result.frames_created == len(names)
        stored = {f.source_name: f.image.read() for f in Frame.objects.filter(project=target)}
        assert stored == originals
        assert scratch_files() == before
    assert {p.name: p.read_bytes() for p in (ds / "images/train").iterdir()} == originals

    for broken in ("img02.jpg", "img06.jpg"):
        (ds / "images/train" / broken).write_bytes(originals[broken][:200])
    with pytest.raises(ValidationError) as excinfo:
        dataset_import(project=project, fmt="coco", path=ds, created_by=owner)
    message = " ".join(excinfo.value.message_dict["file"])
    assert message.index("img02.jpg") < message.index("img06.jpg"), message
