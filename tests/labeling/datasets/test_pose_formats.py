"""Pose in the dataset formats: COCO keypoints and Ultralytics YOLO pose round-trip exactly
(constructed data, hypothesis), third-party readers accept what we write, and bad files
(mismatched kpt_shape, a keypoint outside the image, an edge to a missing node) are a
FormatError naming the problem."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.annotations.keypoints import SkeletonSpec
from labeling.datasets.formats import FORMATS, Dataset, DatasetBox, DatasetImage, FormatError
from labeling.datasets.formats.pose import guess_flip_pairs
from tests.labeling.datasets.test_formats import png_source

POSE_FORMATS = ["coco", "yolo"]
SKELETON = SkeletonSpec(
    ("snout", "ear_left", "ear_right", "tail_base"), ((0, 1), (0, 2), (0, 3)), ((1, 2),)
)


def pose_dataset(points_per_box: list[list]) -> Dataset:
    images = []
    for i, points in enumerate(points_per_box):
        box = DatasetBox("mouse", 4, 6, 40, 30, points)
        images.append(DatasetImage(f"v1/{i:04d}.png", 64, 48, "train" if i % 2 else "val", [box]))
    images.append(DatasetImage("neg.png", 64, 48, "val", [], is_negative=True))
    return Dataset(classes=["mouse"], images=images, skeleton=SKELETON)


def round_trip(fmt: str, dataset: Dataset) -> Dataset:
    with tempfile.TemporaryDirectory() as tmp:
        FORMATS[fmt].write(dataset, Path(tmp) / "out", png_source)
        got, _ = FORMATS[fmt].read(Path(tmp) / "out")
    return got


def assert_same(want: Dataset, got: Dataset) -> None:
    assert got.skeleton == want.skeleton
    got_by_name = {im.file_name: im for im in got.images}
    for image in want.images:
        other = got_by_name[image.file_name]
        assert [b.keypoints for b in other.boxes] == [b.keypoints for b in image.boxes]


point = st.one_of(
    st.just([0.0, 0.0, 0]),
    st.tuples(
        st.integers(0, 6400).map(lambda v: v / 100),
        st.integers(0, 4800).map(lambda v: v / 100),
        st.sampled_from([1, 2]),
    ).map(list),
)


@pytest.mark.parametrize("fmt", POSE_FORMATS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(boxes=st.lists(st.lists(point, min_size=4, max_size=4), min_size=1, max_size=4))
def test_keypoints_round_trip_exactly(fmt, boxes):
    # A box whose points are all "not labeled" has no keypoints, in every format.
    boxes = [p if any(v for _, _, v in p) else [] for p in boxes]
    dataset = pose_dataset(boxes)
    assert_same(dataset, round_trip(fmt, dataset))


def test_coco_writes_keypoints_as_coco_defines_them(tmp_path):
    dataset = pose_dataset([[[10, 12, 2], [8, 9, 1], [0, 0, 0], [30.5, 20.25, 2]]])
    FORMATS["coco"].write(dataset, tmp_path / "out", png_source)
    doc = json.loads((tmp_path / "out/annotations/instances_val.json").read_text())
    category = doc["categories"][0]
    assert category["keypoints"] == list(SKELETON.keypoints)
    assert category["skeleton"] == [[1, 2], [1, 3], [1, 4]]  # 1-based, as COCO's
    (ann,) = doc["annotations"]
    assert ann["keypoints"] == [10, 12, 2, 8, 9, 1, 0.0, 0.0, 0, 30.5, 20.25, 2]
    assert ann["num_keypoints"] == 3
    pycoco = pytest.importorskip("pycocotools.coco")
    api = pycoco.COCO(str(tmp_path / "out/annotations/instances_val.json"))
    assert api.loadAnns(api.getAnnIds())[0]["num_keypoints"] == 3


def test_yolo_pose_yaml_and_rows_follow_ultralytics(tmp_path):
    dataset = pose_dataset([[[16, 12, 2], [8, 24, 1], [0, 0, 0], [32, 36, 2]]])
    FORMATS["yolo"].write(dataset, tmp_path / "out", png_source)
    data = yaml.safe_load((tmp_path / "out/data.yaml").read_text())
    assert data["kpt_shape"] == [4, 3] and data["flip_idx"] == [0, 2, 1, 3]
    assert data["kpt_names"] == {0: list(SKELETON.keypoints)}
    row = (tmp_path / "out/labels/val/v1/0000.txt").read_text().split()
    assert row[5:] == ["0.25", "0.25", "2", "0.125", "0.5", "1", "0", "0", "0", "0.5", "0.75", "2"]
    from ultralytics.data.utils import img2label_paths, verify_image_label

    image = tmp_path / "out/images/val/v1/0000.png"
    (label,) = img2label_paths([str(image)])
    result = verify_image_label((str(image), label, "", True, 1, 4, 3, False))
    assert result[-1] == "" and result[0] is not None
    assert result[1].shape == (1, 5) and result[4].shape == (1, 4, 3)  # boxes, keypoints


def test_yolo_with_a_mismatched_kpt_shape_is_refused(tmp_path):
    dataset = pose_dataset([[[16, 12, 2], [8, 24, 1], [0, 0, 0], [32, 36, 2]]])
    FORMATS["yolo"].write(dataset, tmp_path / "out", png_source)
    data = yaml.safe_load((tmp_path / "out/data.yaml").read_text())
    data["kpt_shape"] = [5, 3]
    data["kpt_names"] = {0: ["a", "b", "c", "d", "e"]}
    data["flip_idx"] = [0, 1, 2, 3, 4]
    (tmp_path / "out/data.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(FormatError) as exc:
        FORMATS["yolo"].read(tmp_path / "out")
    assert "expected 20 values" in str(exc.value)
    data["kpt_shape"] = [4, 7]
    (tmp_path / "out/data.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(FormatError, match="kpt_shape"):
        FORMATS["yolo"].read(tmp_path / "out")


def test_coco_keypoint_outside_the_image_and_edge_to_a_missing_node(tmp_path):
    dataset = pose_dataset([[[16, 12, 2], [8, 24, 1], [0, 0, 0], [32, 36, 2]]])
    FORMATS["coco"].write(dataset, tmp_path / "out", png_source)
    path = tmp_path / "out/annotations/instances_val.json"
    doc = json.loads(path.read_text())
    doc["annotations"][0]["keypoints"][0] = 500
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="outside the 64x48 image"):
        FORMATS["coco"].read(tmp_path / "out")
    doc["annotations"][0]["keypoints"][0] = 16
    doc["categories"][0]["skeleton"] = [[1, 9]]
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="skeleton edge 1"):
        FORMATS["coco"].read(tmp_path / "out")


def test_writers_refuse_keypoints_that_do_not_fit_the_skeleton(tmp_path):
    dataset = pose_dataset([[[16, 12, 2]]])
    for fmt in POSE_FORMATS:
        with pytest.raises(FormatError, match="1 keypoints, the skeleton has 4"):
            FORMATS[fmt].write(dataset, tmp_path / fmt, png_source)
        assert not (tmp_path / fmt).exists() or not any((tmp_path / fmt).iterdir())


def test_left_right_pairs_are_guessed_from_names():
    names = ["nose", "earL", "earR", "left_hip", "right_hip", "tail-left", "tail-right", "tail"]
    assert guess_flip_pairs(names) == [(1, 2), (3, 4), (5, 6)]
