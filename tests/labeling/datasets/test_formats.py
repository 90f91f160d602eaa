"""Annotation formats (YOLO, COCO, Pascal VOC, CVAT) and the dataset manifest.

Plain-data tests: no database. Images are tiny PNGs made here.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from labeling.datasets.formats import (
    FORMATS,
    Dataset,
    DatasetBox,
    DatasetImage,
    FormatError,
    coco,
    cvat,
    detect_format,
    path_problem,
    voc,
    yolo,
)
from labeling.datasets.formats.manifest import (
    manifest_canonical_json,
    manifest_hash,
    manifest_to_dataset,
)

FORMAT_NAMES = sorted(FORMATS)
# Edge error allowed after a round trip of float boxes: 0.01 px grid (+ float noise), and VOC's
# integer pixels (each edge to the nearest pixel).
FLOAT_TOLERANCE = {"yolo": 0.0051, "coco": 0.0051, "cvat": 0.0051, "voc": 0.5 + 1e-9}


@functools.lru_cache(maxsize=512)
def png_bytes(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height)).save(buf, "PNG")
    return buf.getvalue()


def png_source(image: DatasetImage) -> bytes:
    return png_bytes(image.width, image.height)


def sample_dataset() -> Dataset:
    """Two classes (one with XML/YAML special characters), all splits, negatives, nesting."""
    odd = 'tail & <"nose">'
    return Dataset(
        classes=["mouse", odd, "unused"],
        images=[
            DatasetImage(
                "video1/000001.png",
                64,
                48,
                "train",
                [DatasetBox("mouse", 0, 0, 64, 48), DatasetBox(odd, 10, 12, 5, 1)],
            ),
            DatasetImage("video1/000002.png", 64, 48, "train", [DatasetBox("mouse", 3, 4, 20, 11)]),
            DatasetImage("video2/000001.png", 32, 40, "val", [], is_negative=True),
            DatasetImage("video2/000007.png", 32, 40, "val", [DatasetBox(odd, 31, 39, 1, 1)]),
            DatasetImage("frame é 1.png", 20, 10, "test", [DatasetBox("mouse", 1, 1, 2, 2)]),
            DatasetImage("neg.png", 20, 10, "test", []),
        ],
    )


def write_read(fmt: str, dataset: Dataset, out: Path, **read_kwargs):
    FORMATS[fmt].write(dataset, out, png_source)
    return FORMATS[fmt].read(out, **read_kwargs)


def expected_split(fmt: str, split: str) -> str:
    return "train" if fmt == "yolo" and split == "" else split  # YOLO has no unassigned subset


def by_name(dataset: Dataset) -> dict[str, DatasetImage]:
    return {image.file_name: image for image in dataset.images}


def edges(box: DatasetBox) -> tuple[float, float, float, float]:
    return (box.x, box.y, box.x + box.w, box.y + box.h)


def assert_same_boxes(fmt, want: Dataset, got: Dataset, tolerance: float = 0.0) -> None:
    got_images = by_name(got)
    assert sorted(got_images) == sorted(im.file_name for im in want.images)
    for image in want.images:
        back = got_images[image.file_name]
        assert (back.width, back.height) == (image.width, image.height)
        assert back.split == expected_split(fmt, image.split)
        assert back.is_negative == (not image.boxes)
        assert boxes_match(image.boxes, back.boxes, tolerance), (image.file_name, back.boxes)


def boxes_match(want: list[DatasetBox], got: list[DatasetBox], tolerance: float) -> bool:
    """Some pairing of the boxes has equal classes and edges within ``tolerance``.

    Rounding may reorder boxes of one class, so every pairing is tried (a handful of boxes).
    """
    if len(want) != len(got):
        return False

    def close(a: DatasetBox, b: DatasetBox) -> bool:
        if a.class_name != b.class_name:
            return False
        if tolerance == 0:
            return (a.x, a.y, a.w, a.h) == (b.x, b.y, b.w, b.h)
        return all(abs(p - q) <= tolerance for p, q in zip(edges(a), edges(b), strict=True))

    return any(
        all(close(a, b) for a, b in zip(want, order, strict=True))
        for order in itertools.permutations(got)
    )


def problems_of(excinfo) -> str:
    return "\n".join(excinfo.value.problems)


# --- round trips: hand cases ------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_round_trip_is_exact_for_integer_boxes_with_classes_negatives_and_splits(fmt, tmp_path):
    dataset = sample_dataset()
    got, resolve = write_read(fmt, dataset, tmp_path / "out", classes=dataset.classes)
    assert got.classes == dataset.classes
    assert_same_boxes(fmt, dataset, got)
    for image in got.images:
        path = resolve(image)
        assert path.is_file() and tmp_path / "out" in path.parents
        assert path.read_bytes() == png_bytes(image.width, image.height)


@pytest.mark.parametrize("fmt", ["yolo", "coco", "cvat"])
def test_class_list_and_order_survive_without_an_imposed_list(fmt, tmp_path):
    dataset = sample_dataset()
    got, _ = write_read(fmt, dataset, tmp_path / "out")
    assert got.classes == dataset.classes


def test_voc_without_an_imposed_list_gives_the_used_classes_sorted(tmp_path):
    got, _ = write_read("voc", sample_dataset(), tmp_path / "out")
    assert got.classes == sorted(["mouse", 'tail & <"nose">'])


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_float_boxes_come_back_within_the_stated_tolerance(fmt, tmp_path):
    dataset = Dataset(
        ["m"],
        [
            DatasetImage(
                "a.png",
                101,
                77,
                "val",
                [DatasetBox("m", 0.126, 10.5, 33.333, 20.25), DatasetBox("m", 1.5, 2.5, 1.0, 1.0)],
            )
        ],
    )
    got, _ = write_read(fmt, dataset, tmp_path / "out")
    assert_same_boxes(fmt, dataset, got, FLOAT_TOLERANCE[fmt])


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_unassigned_split_round_trips_except_in_yolo(fmt, tmp_path):
    dataset = Dataset(["m"], [DatasetImage("a.png", 8, 8, "", [DatasetBox("m", 1, 1, 2, 2)])])
    got, _ = write_read(fmt, dataset, tmp_path / "out")
    assert got.images[0].split == ("train" if fmt == "yolo" else "")


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_empty_dataset_round_trips(fmt, tmp_path):
    got, _ = write_read(fmt, Dataset(["m"], []), tmp_path / "out", classes=["m"])
    assert got.images == [] and got.classes == ["m"]


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_detect_format_recognises_each_written_layout(fmt, tmp_path):
    FORMATS[fmt].write(sample_dataset(), tmp_path / "out", png_source)
    assert detect_format(tmp_path / "out") == fmt
    assert detect_format(tmp_path) is None


def test_voc_rounds_float_edges_to_whole_pixels_half_up(tmp_path):
    dataset = Dataset(["m"], [DatasetImage("a.png", 10, 10, "", [DatasetBox("m", 1.5, 2.4, 1, 1)])])
    got, _ = write_read("voc", dataset, tmp_path / "out")
    box = got.images[0].boxes[0]
    assert (box.x, box.y, box.w, box.h) == (2, 2, 1, 1)
    xml = (tmp_path / "out/Annotations/a.xml").read_text()
    assert "<xmin>3</xmin>" in xml and "<xmax>3</xmax>" in xml  # 1-based, inclusive


def test_voc_widens_a_sub_pixel_box_to_one_pixel_at_the_image_edge(tmp_path):
    dataset = Dataset(["m"], [DatasetImage("a.png", 10, 10, "", [DatasetBox("m", 9.7, 0, 0.2, 3)])])
    got, _ = write_read("voc", dataset, tmp_path / "out")
    box = got.images[0].boxes[0]
    assert (box.x, box.w) == (9, 1)


def test_yolo_layout_matches_ultralytics_conventions(tmp_path):
    import yaml

    yolo.write(sample_dataset(), tmp_path / "out", png_source)
    data = yaml.safe_load((tmp_path / "out/data.yaml").read_text())
    assert data["path"] == str((tmp_path / "out").resolve())
    assert (data["train"], data["val"], data["test"]) == (
        "images/train",
        "images/val",
        "images/test",
    )
    assert data["names"] == {0: "mouse", 1: 'tail & <"nose">', 2: "unused"} and data["nc"] == 3
    assert (tmp_path / "out/labels/val/video2/000001.txt").read_text() == ""  # a negative
    line = (tmp_path / "out/labels/train/video1/000002.txt").read_text().split()
    assert line[0] == "0"
    assert [float(v) for v in line[1:]] == pytest.approx([13 / 64, 9.5 / 48, 20 / 64, 11 / 48])
    assert "download" not in data


def test_yolo_portable_yaml_has_no_path_and_still_reads(tmp_path):
    yolo.write(sample_dataset(), tmp_path / "out", png_source, absolute_path=False)
    assert "path" not in (tmp_path / "out/data.yaml").read_text()
    got, _ = yolo.read(tmp_path / "out/data.yaml")
    assert len(got.images) == len(sample_dataset().images)


def test_yolo_output_passes_ultralytics_label_verification(tmp_path):
    pytest.importorskip("ultralytics")
    from ultralytics.data.utils import img2label_paths, verify_image_label

    yolo.write(sample_dataset(), tmp_path / "out", png_source)
    for image in sorted((tmp_path / "out/images").rglob("*.png")):
        (label,) = img2label_paths([str(image)])
        result = verify_image_label((str(image), label, "", False, 3, 0, 0, False))
        assert result[-1] == "", result[-1]  # no warning message
        assert result[0] is not None  # the image was accepted


def test_coco_output_loads_in_pycocotools(tmp_path):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO

    coco.write(sample_dataset(), tmp_path / "out", png_source)
    api = COCO(str(tmp_path / "out/annotations/instances_train.json"))
    assert {c["name"] for c in api.loadCats(api.getCatIds())} >= {"mouse"}
    assert len(api.getAnnIds()) == 3


def test_coco_writes_one_file_per_split_with_unique_ids(tmp_path):
    dataset = sample_dataset()
    dataset.images.append(DatasetImage("unsplit.png", 5, 5, ""))
    coco.write(dataset, tmp_path / "out", png_source)
    files = sorted(p.name for p in (tmp_path / "out/annotations").iterdir())
    assert files == [f"instances_{s}.json" for s in ("default", "test", "train", "val")]
    ids = []
    for name in files:
        doc = json.loads((tmp_path / "out/annotations" / name).read_text())
        ids += [im["id"] for im in doc["images"]]
        assert [c["id"] for c in doc["categories"]] == [1, 2, 3]
    assert len(ids) == len(set(ids)) == len(dataset.images)


def test_link_mode_hard_links_source_files(tmp_path):
    src = tmp_path / "src.png"
    src.write_bytes(png_bytes(8, 8))
    dataset = Dataset(["m"], [DatasetImage("a.png", 8, 8, "train")])
    yolo.write(dataset, tmp_path / "out", lambda image: src, link=True)
    assert os.path.samefile(src, tmp_path / "out/images/train/a.png")


# --- writers refuse bad datasets and leave nothing behind -------------------------------


BAD_DATASETS = {
    "unknown class": Dataset(
        ["m"], [DatasetImage("a.png", 8, 8, "", [DatasetBox("x", 1, 1, 2, 2)])]
    ),
    "outside": Dataset(["m"], [DatasetImage("a.png", 8, 8, "", [DatasetBox("m", 5, 5, 4, 1)])]),
    "zero size": Dataset(["m"], [DatasetImage("a.png", 8, 8, "", [DatasetBox("m", 1, 1, 0, 2)])]),
    "negative size": Dataset(
        ["m"], [DatasetImage("a.png", 8, 8, "", [DatasetBox("m", 4, 1, -2, 2)])]
    ),
    "nan": Dataset(["m"], [DatasetImage("a.png", 8, 8, "", [DatasetBox("m", math.nan, 1, 1, 1)])]),
    "escaping name": Dataset(["m"], [DatasetImage("../a.png", 8, 8, "")]),
    "absolute name": Dataset(["m"], [DatasetImage("/tmp/a.png", 8, 8, "")]),
    "duplicate name": Dataset(["m"], [DatasetImage("a.png", 8, 8), DatasetImage("a.png", 8, 8)]),
    "bad split": Dataset(["m"], [DatasetImage("a.png", 8, 8, "training")]),
    "bad size": Dataset(["m"], [DatasetImage("a.png", 0, 8, "")]),
    "negative with boxes": Dataset(
        ["m"], [DatasetImage("a.png", 8, 8, "", [DatasetBox("m", 1, 1, 2, 2)], is_negative=True)]
    ),
    "duplicate class": Dataset(["m", "m"], []),
    "empty class": Dataset([" "], []),
}


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@pytest.mark.parametrize("case", sorted(BAD_DATASETS))
def test_writers_refuse_invalid_datasets_before_writing(fmt, case, tmp_path):
    with pytest.raises(FormatError):
        FORMATS[fmt].write(BAD_DATASETS[case], tmp_path / "out", png_source)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_writer_refuses_a_non_empty_output_folder(fmt, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out/keep.txt").write_text("mine")
    with pytest.raises(FormatError, match="not empty"):
        FORMATS[fmt].write(sample_dataset(), tmp_path / "out", png_source)
    assert os.listdir(tmp_path / "out") == ["keep.txt"]


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_writer_removes_partial_output_when_an_image_source_fails(fmt, tmp_path):
    def failing(image):
        if image.file_name == "neg.png":
            raise OSError("disk gone")
        return png_source(image)

    with pytest.raises(OSError, match="disk gone"):
        FORMATS[fmt].write(sample_dataset(), tmp_path / "out", failing)
    assert not (tmp_path / "out").exists()


def test_yolo_writer_refuses_names_that_share_a_label_file(tmp_path):
    dataset = Dataset(["m"], [DatasetImage("a.png", 8, 8, "train"), DatasetImage("a.jpg", 8, 8)])
    with pytest.raises(FormatError, match="shares the label file"):
        yolo.write(dataset, tmp_path / "out", png_source)


def test_format_error_message_shows_the_first_ten_problems():
    error = FormatError([f"p{i}" for i in range(25)])
    assert str(error).startswith("25 problems: p0; p1;")
    assert "p9" in str(error) and "p10" not in str(error) and "and 15 more" in str(error)
    assert len(error.problems) == 25


# --- readers: malformed input -----------------------------------------------------------


def small_dataset() -> Dataset:
    return Dataset(
        ["mouse", "tail"],
        [
            DatasetImage("a.png", 20, 10, "train", [DatasetBox("mouse", 1, 1, 5, 5)]),
            DatasetImage("b.png", 20, 10, "val", [DatasetBox("tail", 2, 2, 3, 3)]),
        ],
    )


@pytest.fixture(params=FORMAT_NAMES)
def written(request, tmp_path):
    """(format name, folder) of a valid two-image dataset."""
    FORMATS[request.param].write(small_dataset(), tmp_path / "ds", png_source)
    return request.param, tmp_path / "ds"


def image_file(fmt: str, root: Path, name: str) -> Path:
    split = {"a.png": "train", "b.png": "val"}[name]
    return {
        "yolo": root / "images" / split / name,
        "coco": root / "images" / split / name,
        "voc": root / "JPEGImages" / name,
        "cvat": root / "images" / name,
    }[fmt]


def test_missing_folder_is_a_format_error(tmp_path):
    for module in FORMATS.values():
        with pytest.raises(FormatError):
            module.read(tmp_path / "nope")


def test_missing_image_is_reported_by_every_reader(written):
    fmt, root = written
    image_file(fmt, root, "a.png").unlink()
    with pytest.raises(FormatError) as excinfo:
        FORMATS[fmt].read(root)
    text = problems_of(excinfo)
    assert ("a.png" in text and "missing" in text) or "a.txt: label file without an image" in text


def test_symlinked_image_is_refused(written, tmp_path):
    fmt, root = written
    target = image_file(fmt, root, "a.png")
    outside = tmp_path / "secret.png"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(FormatError, match="symbolic link"):
        FORMATS[fmt].read(root)


def test_a_file_that_is_not_an_image_is_reported(written):
    fmt, root = written
    image_file(fmt, root, "b.png").write_bytes(b"<html>not a png</html>")
    with pytest.raises(FormatError, match="not a readable image"):
        FORMATS[fmt].read(root)


def test_unknown_class_is_refused_when_a_class_list_is_imposed(written):
    fmt, root = written
    with pytest.raises(FormatError, match="'tail' is not one of the project's classes"):
        FORMATS[fmt].read(root, classes=["mouse"])
    got, _ = FORMATS[fmt].read(root, classes=["tail", "mouse", "extra"])
    assert got.classes == ["tail", "mouse", "extra"]


# YOLO


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    "line, message",
    [
        ("0 0.5 0.5 0.2", "expected 5 values"),
        ("0 0.5 0.5 0.2 0.2 0.1 0.1", "expected 5 values"),
        ("7 0.5 0.5 0.2 0.2", "not an index"),
        ("-1 0.5 0.5 0.2 0.2", "not an index"),
        ("x 0.5 0.5 0.2 0.2", "not an index"),
        ("0 1.5 0.5 0.2 0.2", "outside"),
        ("0 0.5 0.5 0 0.2", "zero or negative size"),
        ("0 0.5 0.5 0.2 -0.2", "zero or negative size"),
        ("0 nan 0.5 0.2 0.2", "not finite"),
        ("0 inf 0.5 0.2 0.2", "not finite"),
    ],
)
def test_yolo_bad_label_lines_are_reported_with_file_and_line(tmp_path, line, message):
    yolo.write(small_dataset(), tmp_path / "ds", png_source)
    (tmp_path / "ds/labels/train/a.txt").write_text(f"1 0.5 0.5 0.1 0.1\n{line}\n")
    with pytest.raises(FormatError, match=message) as excinfo:
        yolo.read(tmp_path / "ds")
    assert "labels/train/a.txt:2" in problems_of(excinfo)


def test_yolo_reports_every_problem_at_once(tmp_path):
    yolo.write(small_dataset(), tmp_path / "ds", png_source)
    (tmp_path / "ds/labels/train/a.txt").write_text("0 2 2 0.1 0.1\n9 0.5 0.5 0.1 0.1\n")
    (tmp_path / "ds/labels/val/b.txt").write_text("0 0.5 0.5 0.1\n")
    (tmp_path / "ds/labels/val/ghost.txt").write_text("")
    with pytest.raises(FormatError) as excinfo:
        yolo.read(tmp_path / "ds")
    assert excinfo.value.total == 4
    assert "labels/val/ghost.txt: label file without an image" in excinfo.value.problems


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("train: [unclosed\n", "not valid YAML"),
        ("- a list\n", "not a mapping"),
        ("train: images/train\nval: images/val\n", "names: missing"),
        ("train: images/train\nnames: {0: a, 2: b}\n", "0..n-1"),
        ("train: images/train\nnames: [a, a]\n", "duplicate class name"),
        ("train: images/train\nnc: 3\nnames: [a, b]\n", "does not match"),
        ("train: ../../etc\nnames: [a]\n", "escapes"),
        ("train: /etc\nnames: [a]\n", "absolute"),
        ("train: images/nope\nnames: [a]\n", "missing"),
        ("names: [a]\n", "no train, val or test folder"),
    ],
)
def test_yolo_bad_data_yaml_is_reported(tmp_path, yaml_text, message):
    yolo.write(small_dataset(), tmp_path / "ds", png_source)
    (tmp_path / "ds/data.yaml").write_text(yaml_text)
    with pytest.raises(FormatError, match=message):
        yolo.read(tmp_path / "ds")


def test_yolo_image_without_label_file_is_a_negative_as_in_ultralytics(tmp_path):
    yolo.write(small_dataset(), tmp_path / "ds", png_source)
    (tmp_path / "ds/labels/val/b.txt").unlink()
    got, _ = yolo.read(tmp_path / "ds")
    assert by_name(got)["b.png"].is_negative


def test_yolo_image_in_two_splits_is_reported(tmp_path):
    yolo.write(small_dataset(), tmp_path / "ds", png_source)
    edit(tmp_path / "ds/data.yaml", "val: images/val", "val: images/train")
    with pytest.raises(FormatError, match="listed more than once"):
        yolo.read(tmp_path / "ds")


def test_yolo_tiny_overhang_from_float_noise_is_clipped(tmp_path):
    yolo.write(small_dataset(), tmp_path / "ds", png_source)
    # Right edge at 20.2 px of a 20 px wide image: within the 0.5 px tolerance.
    (tmp_path / "ds/labels/train/a.txt").write_text("0 0.755 0.5 0.5 0.4\n")
    got, _ = yolo.read(tmp_path / "ds")
    box = by_name(got)["a.png"].boxes[0]
    assert box.x + box.w == 20 and box.x == pytest.approx(10.1)


# COCO


def coco_doc(root: Path, split: str = "train") -> tuple[Path, dict]:
    path = root / f"annotations/instances_{split}.json"
    return path, json.loads(path.read_text())


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["images"][0].update(file_name="../../etc/passwd"), "escapes"),
        (lambda d: d["images"][0].update(file_name="/etc/passwd"), "absolute"),
        (lambda d: d["images"][0].update(file_name="a\\..\\b.png"), "backslash"),
        (lambda d: d["images"][0].update(file_name="a\x00.png"), "control"),
        (lambda d: d["images"][0].update(file_name="x\u202egnp.exe"), "control"),
        (lambda d: d["images"][0].update(width=21), "declared size"),
        (lambda d: d["images"][0].update(width=0), "positive integers"),
        (lambda d: d["images"][0].update(height="10"), "positive integers"),
        (lambda d: d["annotations"][0].update(bbox=[15, 1, 10, 5]), "outside"),
        (lambda d: d["annotations"][0].update(bbox=[-3, 1, 10, 5]), "outside"),
        (lambda d: d["annotations"][0].update(bbox=[1, 1, 0, 5]), "zero or negative"),
        (lambda d: d["annotations"][0].update(bbox=[1, 1, -4, 5]), "zero or negative"),
        (lambda d: d["annotations"][0].update(bbox=[1, 1, 5]), "4 finite numbers"),
        (lambda d: d["annotations"][0].update(bbox=[1, 1, True, 5]), "4 finite numbers"),
        (lambda d: d["annotations"][0].update(category_id=99), "not a category"),
        (lambda d: d["annotations"][0].update(image_id=99), "not an image of this file"),
        (lambda d: d["categories"].append({"id": 9, "name": "mouse"}), "duplicate category"),
        (lambda d: d["categories"].append({"id": 10}), "name is not a string"),
        (lambda d: d.pop("annotations"), "'annotations' missing"),
        (lambda d: d["images"].append(dict(d["images"][0])), "duplicate image id"),
    ],
)
def test_coco_malformed_documents_are_reported(tmp_path, mutate, message):
    coco.write(small_dataset(), tmp_path / "ds", png_source)
    path, doc = coco_doc(tmp_path / "ds")
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=message):
        coco.read(tmp_path / "ds")


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"images": [', "not valid JSON"),
        ('{"images": [], "annotations": [], "categories": [NaN]}', "not valid JSON"),
        ("[]", "not an object"),
        ("\xff\xfe", "not valid JSON|not UTF-8"),
    ],
)
def test_coco_invalid_json_is_reported(tmp_path, text, message):
    coco.write(small_dataset(), tmp_path / "ds", png_source)
    (tmp_path / "ds/annotations/instances_val.json").write_text(text, encoding="latin-1")
    with pytest.raises(FormatError, match=message):
        coco.read(tmp_path / "ds")


def test_coco_arbitrary_category_ids_are_ordered_by_id(tmp_path):
    coco.write(small_dataset(), tmp_path / "ds", png_source)
    for split in ("train", "val"):
        path, doc = coco_doc(tmp_path / "ds", split)
        remap = {1: 42, 2: 7}
        doc["categories"] = [{"id": remap[c["id"]], "name": c["name"]} for c in doc["categories"]]
        for ann in doc["annotations"]:
            ann["category_id"] = remap[ann["category_id"]]
        path.write_text(json.dumps(doc))
    got, _ = coco.read(tmp_path / "ds")
    assert got.classes == ["tail", "mouse"]
    assert_same_boxes("coco", small_dataset(), got)


def test_coco_category_meaning_must_agree_between_files(tmp_path):
    coco.write(small_dataset(), tmp_path / "ds", png_source)
    path, doc = coco_doc(tmp_path / "ds", "val")
    doc["categories"] = [{"id": 1, "name": "tail"}, {"id": 2, "name": "mouse"}]
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="elsewhere"):
        coco.read(tmp_path / "ds")


def test_coco_reads_flat_images_folder_and_subset_names_of_other_tools(tmp_path):
    coco.write(small_dataset(), tmp_path / "ds", png_source)
    root = tmp_path / "ds"
    (root / "images/train/a.png").rename(root / "images/a.png")
    (root / "annotations/instances_val.json").rename(root / "annotations/instances_Validation.json")
    (root / "images/val").rename(root / "images/Validation")
    got, resolve = coco.read(root)
    assert {im.file_name: im.split for im in got.images} == {"a.png": "train", "b.png": "val"}
    assert resolve(by_name(got)["a.png"]) == root / "images/a.png"


def test_coco_without_annotation_files_is_reported(tmp_path):
    (tmp_path / "ds").mkdir()
    with pytest.raises(FormatError, match="none found"):
        coco.read(tmp_path / "ds")


# XML formats (VOC and CVAT)

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<{root}><filename>&lol4;</filename></{root}>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<{root}><filename>&xxe;</filename></{root}>
"""


def xml_file(fmt: str, root: Path) -> Path:
    return root / ("Annotations/a.xml" if fmt == "voc" else "annotations.xml")


@pytest.mark.parametrize("fmt", ["voc", "cvat"])
@pytest.mark.parametrize(
    "payload, message",
    [
        (BILLION_LAUGHS, "refused XML"),
        (EXTERNAL_ENTITY, "refused XML"),
        ("<{root}><unclosed></{root}>", "not well-formed"),
        ("", "not well-formed"),
    ],
)
def test_xml_bombs_external_entities_and_broken_xml_are_refused(tmp_path, fmt, payload, message):
    FORMATS[fmt].write(small_dataset(), tmp_path / "ds", png_source)
    tag = "annotation" if fmt == "voc" else "annotations"
    xml_file(fmt, tmp_path / "ds").write_text(payload.replace("{root}", tag))
    with pytest.raises(FormatError, match=message):
        FORMATS[fmt].read(tmp_path / "ds")


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("<xmax>6</xmax>", "<xmax>30</xmax>", "outside"),
        ("<xmax>6</xmax>", "<xmax>1</xmax>", "zero or negative size"),
        ("<xmin>2</xmin>", "<xmin>abc</xmin>", "finite numbers"),
        ("<xmin>2</xmin>", "<xmin>NaN</xmin>", "finite numbers"),
        ("<name>mouse</name>", "<name></name>", "<name> is empty"),
        ("<filename>a.png</filename>", "<filename>../../a.png</filename>", "escapes"),
        ("<filename>a.png</filename>", "<filename>missing.png</filename>", "missing"),
        ("<width>20</width>", "<width>21</width>", "declared size"),
        ("<width>20</width>", "<width>-20</width>", "positive integers"),
    ],
)
def test_voc_bad_annotations_are_reported(tmp_path, old, new, message):
    voc.write(small_dataset(), tmp_path / "ds", png_source)
    edit(tmp_path / "ds/Annotations/a.xml", old, new)
    with pytest.raises(FormatError, match=message):
        voc.read(tmp_path / "ds")


def test_voc_zero_based_boxes_touching_the_edge_are_accepted_and_clipped(tmp_path):
    voc.write(small_dataset(), tmp_path / "ds", png_source)
    edit(tmp_path / "ds/Annotations/a.xml", "<xmin>2</xmin>", "<xmin>0</xmin>")
    got, _ = voc.read(tmp_path / "ds")
    box = by_name(got)["a.png"].boxes[0]
    assert (box.x, box.w) == (0, 6)


def test_voc_image_sets_are_checked(tmp_path):
    voc.write(small_dataset(), tmp_path / "ds", png_source)
    sets = tmp_path / "ds/ImageSets/Main"
    (sets / "test.txt").write_text("a\nghost\n../../etc/passwd\n")
    with pytest.raises(FormatError) as excinfo:
        voc.read(tmp_path / "ds")
    text = problems_of(excinfo)
    assert "a is also in train.txt" in text
    assert "ghost (no Annotations/ghost.xml): no image JPEGImages/ghost" in text
    assert "escapes" in text


def test_voc_reads_float_coordinates_from_other_tools(tmp_path):
    voc.write(small_dataset(), tmp_path / "ds", png_source)
    edit(tmp_path / "ds/Annotations/a.xml", "<xmax>6</xmax>", "<xmax>6.0</xmax>")
    got, _ = voc.read(tmp_path / "ds")
    assert by_name(got)["a.png"].boxes[0].w == 5


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('xbr="6.00"', 'xbr="60.00"', "outside"),
        ('xbr="6.00"', 'xbr="1.00"', "zero or negative size"),
        ('xtl="1.00"', 'xtl="inf"', "finite numbers"),
        ('label="mouse"', 'label="cat"', "not declared"),
        ('name="a.png"', 'name="..\\a.png"', "backslash"),
        ('name="a.png"', 'name="/a.png"', "absolute"),
        ('name="a.png"', 'name="nope.png"', "missing"),
        ('width="20"', 'width="0"', "positive integers"),
        ('z_order="0"', 'z_order="0" rotation="45"', "rotated"),
    ],
)
def test_cvat_bad_annotations_are_reported(tmp_path, old, new, message):
    cvat.write(small_dataset(), tmp_path / "ds", png_source)
    edit(tmp_path / "ds/annotations.xml", old, new)
    with pytest.raises(FormatError, match=message):
        cvat.read(tmp_path / "ds")


def test_cvat_mixing_images_and_video_tracks_is_refused(tmp_path):
    cvat.write(small_dataset(), tmp_path / "ds", png_source)
    edit(tmp_path / "ds/annotations.xml", "</annotations>", '<track id="0"/></annotations>')
    with pytest.raises(FormatError, match="both <image> and <track>"):
        cvat.read(tmp_path / "ds")


def test_cvat_reads_project_exports_with_subset_folders_and_ignores_other_shapes(tmp_path):
    cvat.write(small_dataset(), tmp_path / "ds", png_source)
    root = tmp_path / "ds"
    edit(root / "annotations.xml", 'subset="train"', 'subset="Train"')
    edit(root / "annotations.xml", 'subset="val"', 'subset="Validation"')
    edit(root / "annotations.xml", "<meta><task>", "<meta><project>")
    edit(root / "annotations.xml", "</task></meta>", "</project></meta>")
    edit(root / "annotations.xml", "</image>", '<polygon label="mouse" points="1,1;2,2"/></image>')
    (root / "images/Validation").mkdir()
    (root / "images/b.png").rename(root / "images/Validation/b.png")
    got, _ = cvat.read(root)
    assert {im.file_name: im.split for im in got.images} == {"a.png": "train", "b.png": "val"}
    assert_same_boxes("cvat", small_dataset(), got)


def test_cvat_without_meta_labels_takes_the_box_labels(tmp_path):
    cvat.write(small_dataset(), tmp_path / "ds", png_source)
    path = tmp_path / "ds/annotations.xml"
    text = path.read_text()
    start, end = text.index("<meta>"), text.index("</meta>") + len("</meta>")
    path.write_text(text[:start] + text[end:])
    got, _ = cvat.read(tmp_path / "ds")
    assert got.classes == ["mouse", "tail"]


# --- path safety ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "../a.png",
        "a/../../b.png",
        "a/./b.png",
        "a//b.png",
        "/etc/passwd",
        "C:/x.png",
        "c:x.png",
        "a\\b.png",
        "..\\a.png",
        "a\x00.png",
        "a\n.png",
        "evil\u202egnp.exe",
        "zero\u200bwidth.png",
        " lead.png",
        "trail.png ",
        "a/" + "x" * 300 + ".png",
        None,
        42,
    ],
)
def test_path_problem_refuses_names_that_could_escape_or_deceive(name):
    assert path_problem(name) is not None


@pytest.mark.parametrize("name", ["a.png", "video 3/000120.jpg", "é/ü.png", "a..b.png", ".hidden"])
def test_path_problem_accepts_plain_relative_names(name):
    assert path_problem(name) is None


def test_symlinked_folder_inside_a_dataset_is_refused(tmp_path):
    yolo.write(small_dataset(), tmp_path / "ds", png_source)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "c.png").write_bytes(png_bytes(5, 5))
    (tmp_path / "ds/images/train/linked").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(FormatError, match="symbolic link"):
        yolo.read(tmp_path / "ds")


# --- round trips: property-based --------------------------------------------------------

NAME_CHARS = "abcxyz0189-_é "


@st.composite
def datasets(draw, integer: bool) -> Dataset:
    classes = draw(
        st.lists(
            st.sampled_from(["mouse", "tail", "nose & <ear>", "cage"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    stems = draw(
        st.lists(
            st.text(NAME_CHARS, min_size=1, max_size=6).map(str.strip).filter(bool),
            max_size=4,
            unique=True,
        )
    )
    images = []
    for i, stem in enumerate(stems):
        width = draw(st.integers(1, 120))
        height = draw(st.integers(1, 120))
        boxes = []
        for _ in range(draw(st.integers(0, 3))):
            if integer:
                x = draw(st.integers(0, width - 1))
                y = draw(st.integers(0, height - 1))
                w = draw(st.integers(1, width - x))
                h = draw(st.integers(1, height - y))
            elif width < 2 or height < 2:
                continue
            else:
                # At least 1 px wide: VOC's whole-pixel boxes cannot be narrower.
                x = draw(st.floats(0, width - 1, allow_nan=False))
                y = draw(st.floats(0, height - 1, allow_nan=False))
                w = draw(st.floats(1, width - x, allow_nan=False))
                h = draw(st.floats(1, height - y, allow_nan=False))
            boxes.append(DatasetBox(draw(st.sampled_from(classes)), x, y, w, h))
        folder = draw(st.sampled_from(["", "v1/", "v 2/x/"]))
        split = draw(st.sampled_from(["train", "val", "test", ""]))
        images.append(DatasetImage(f"{folder}{stem}{i}.png", width, height, split, boxes))
    return Dataset(classes, images)


PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@PROPERTY_SETTINGS
@given(dataset=datasets(integer=True))
def test_property_integer_boxes_round_trip_exactly(fmt, dataset):
    with tempfile.TemporaryDirectory() as tmp:
        got, _ = write_read(fmt, dataset, Path(tmp) / "out", classes=dataset.classes)
    assert got.classes == dataset.classes
    assert_same_boxes(fmt, dataset, got)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@PROPERTY_SETTINGS
@given(dataset=datasets(integer=False))
def test_property_float_boxes_round_trip_within_tolerance(fmt, dataset):
    with tempfile.TemporaryDirectory() as tmp:
        got, _ = write_read(fmt, dataset, Path(tmp) / "out", classes=dataset.classes)
    assert_same_boxes(fmt, dataset, got, FLOAT_TOLERANCE[fmt])


# --- manifest ---------------------------------------------------------------------------


def sample_manifest() -> dict:
    return {
        "classes": ["mouse", "tail"],
        "frames": [
            {
                "frame_id": 1,
                "image": "frames/3/000001.png",
                "width": 64,
                "height": 48,
                "split": "train",
                "video_id": 3,
                "boxes": [
                    {"class_index": 0, "x": 1.0, "y": 2.0, "w": 10.0, "h": 20.5},
                    {"class_index": 1, "x": 30, "y": 5, "w": 4, "h": 4},
                ],
            },
            {
                "frame_id": 2,
                "image": "frames/3/000002.png",
                "width": 64,
                "height": 48,
                "split": "val",
                "video_id": 3,
                "boxes": [],
            },
        ],
    }


def test_manifest_hash_ignores_key_frame_and_box_order_and_int_float_spelling():
    base = sample_manifest()
    shuffled = json.loads(json.dumps(sample_manifest()))
    shuffled["frames"].reverse()
    shuffled["frames"][1]["boxes"].reverse()
    shuffled["frames"][1]["boxes"][0] = {
        "h": 4.0,
        "w": 4.0,
        "y": 5.0,
        "x": 30.0,
        "class_index": 1,
    }
    shuffled = dict(reversed(list(shuffled.items())))
    assert manifest_hash(shuffled) == manifest_hash(base)
    assert len(manifest_hash(base)) == 64 and int(manifest_hash(base), 16) >= 0


def test_manifest_hash_changes_when_content_changes():
    base = sample_manifest()
    moved = sample_manifest()
    moved["frames"][0]["boxes"][0]["x"] = 1.01
    resplit = sample_manifest()
    resplit["frames"][1]["split"] = "test"
    hashes = {manifest_hash(m) for m in (base, moved, resplit)}
    assert len(hashes) == 3


def test_manifest_canonical_json_is_compact_sorted_utf8_and_refuses_nan():
    text = manifest_canonical_json({"b": 1.0, "a": "é", "frames": []})
    assert text == '{"a":"é","b":1,"frames":[]}'
    with pytest.raises(ValueError):
        manifest_hash({"classes": [], "frames": [{"boxes": [{"x": math.nan}]}]})


def test_manifest_to_dataset_converts_classes_boxes_and_negatives():
    dataset = manifest_to_dataset(sample_manifest())
    assert dataset.classes == ["mouse", "tail"]
    first, second = dataset.images
    assert first.file_name == "frames/3/000001.png" and first.split == "train"
    assert first.boxes == [DatasetBox("mouse", 1, 2, 10, 20.5), DatasetBox("tail", 30, 5, 4, 4)]
    assert second.is_negative and second.boxes == []


def test_manifest_exports_through_the_yolo_writer(tmp_path):
    media = tmp_path / "media"
    for frame in sample_manifest()["frames"]:
        (media / frame["image"]).parent.mkdir(parents=True, exist_ok=True)
        (media / frame["image"]).write_bytes(png_bytes(frame["width"], frame["height"]))
    dataset = manifest_to_dataset(sample_manifest())
    yolo.write(dataset, tmp_path / "yolo", lambda image: media / image.file_name)
    got, _ = yolo.read(tmp_path / "yolo")
    assert_same_boxes("yolo", dataset, got)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m["frames"][0]["boxes"][0].update(class_index=2), "class_index 2"),
        (lambda m: m["frames"][0]["boxes"][0].update(class_index=True), "class_index True"),
        (lambda m: m["frames"][0]["boxes"][0].update(x=60), "outside"),
        (lambda m: m["frames"][0]["boxes"][0].update(w=0), "zero or negative"),
        (lambda m: m["frames"][0]["boxes"][0].update(y="2"), "finite numbers"),
        (lambda m: m["frames"][1].update(frame_id=1), "duplicate frame_id"),
        (lambda m: m["frames"][1].update(image="frames/3/000001.png"), "duplicate file name"),
        (lambda m: m["frames"][1].update(image="../../etc/passwd"), "escapes"),
        (lambda m: m["frames"][1].update(split="holdout"), "split"),
        (lambda m: m["frames"][1].update(width=-1), "positive integers"),
        (lambda m: m["frames"][1].update(video_id=[1]), "video_id"),
        (lambda m: m.update(classes=["a", "a"]), "duplicate class"),
        (lambda m: m.update(frames={}), "frames: not a list"),
    ],
)
def test_manifest_to_dataset_refuses_invalid_manifests(mutate, message):
    manifest = sample_manifest()
    mutate(manifest)
    with pytest.raises(FormatError, match=message):
        manifest_to_dataset(manifest)


def test_unreadable_image_stays_a_problem_after_ultralytics_patches_pillow(tmp_path, monkeypatch):
    """Ultralytics wraps PIL.Image.open to pip-install a HEIF plugin on unknown files."""
    pytest.importorskip("ultralytics")
    import ultralytics.utils.patches  # noqa: F401  (applies the patch)
    from ultralytics.utils import checks

    def refuse(*args, **kwargs):
        raise AssertionError("reader tried to install a package")

    monkeypatch.setattr(checks, "check_requirements", refuse)
    yolo.write(small_dataset(), tmp_path / "ds", png_source)
    (tmp_path / "ds/images/val/b.png").write_bytes(b"GIF89a not really")
    with pytest.raises(FormatError, match="not a readable image"):
        yolo.read(tmp_path / "ds")


# --- readers never fail with anything but FormatError ------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def read_or_format_error(fmt: str, root: Path) -> None:
    try:
        FORMATS[fmt].read(root)
    except FormatError as exc:
        assert exc.problems


@FUZZ_SETTINGS
@given(
    where=st.sampled_from(
        ["doc", "images", "annotations", "categories", "image", "annotation", "category"]
    ),
    key=st.sampled_from(["images", "id", "file_name", "width", "bbox", "image_id", "name"]),
    value=JSON_VALUES,
)
def test_fuzz_coco_reader_reports_garbage_as_format_errors(where, key, value):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        coco.write(small_dataset(), root, png_source)
        path, doc = coco_doc(root)
        if where == "doc":
            doc[key] = value
        elif where in ("images", "annotations", "categories"):
            doc[where] = value
        else:
            doc[where + "s" if where != "category" else "categories"][0][key] = value
        path.write_text(json.dumps(doc))
        read_or_format_error("coco", root)


@FUZZ_SETTINGS
@given(text=st.text(max_size=60), yaml_text=st.none() | st.text(max_size=60))
def test_fuzz_yolo_reader_reports_garbage_as_format_errors(text, yaml_text):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        yolo.write(small_dataset(), root, png_source)
        (root / "labels/train/a.txt").write_text(text)
        if yaml_text is not None:
            (root / "data.yaml").write_text(yaml_text)
        read_or_format_error("yolo", root)


@FUZZ_SETTINGS
@given(
    fmt=st.sampled_from(["voc", "cvat"]),
    pick=st.integers(0, 1000),
    value=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)
def test_fuzz_xml_readers_report_garbage_as_format_errors(fmt, pick, value):
    from xml.etree import ElementTree as ET

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        FORMATS[fmt].write(small_dataset(), root, png_source)
        path = xml_file(fmt, root)
        tree = ET.parse(path)
        nodes = list(tree.iter())
        node = nodes[pick % len(nodes)]
        value = "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 32)  # XML-legal
        if fmt == "cvat" and node.attrib:
            node.set(sorted(node.attrib)[pick % len(node.attrib)], value)
        else:
            node.text = value
        tree.write(path, encoding="utf-8")
        read_or_format_error(fmt, root)


@pytest.mark.parametrize(
    "fmt, folder", [("coco", "annotations"), ("voc", "Annotations"), ("voc", "ImageSets")]
)
def test_symlinked_annotation_folders_are_refused(tmp_path, fmt, folder):
    FORMATS[fmt].write(small_dataset(), tmp_path / "ds", png_source)
    (tmp_path / "ds" / folder).rename(tmp_path / "moved")
    (tmp_path / "ds" / folder).symlink_to(tmp_path / "moved", target_is_directory=True)
    with pytest.raises(FormatError, match="symbolic link"):
        FORMATS[fmt].read(tmp_path / "ds")
