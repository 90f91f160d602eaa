"""Pose through the dataset export/import services: COCO and YOLO pose exports of a
project with keypoints import back exactly (into a new project: its skeleton comes along;
into one whose skeleton lists the keypoints in another order: mapped by name; an unknown
keypoint name: refused, nothing imported); the DeepLabCut export is read by sleap-io."""

from __future__ import annotations

import pytest

from django.core.exceptions import ValidationError

from labeling.annotations.skeletons import skeleton_set, skeleton_spec
from labeling.datasets.exporting import dataset_export
from labeling.datasets.importing import dataset_import
from labeling.models import Box, Frame, Skeleton
from labeling.services import project_create
from tests.labeling.dataset_helpers import make_frame, make_source, snapshot

NAMES = ["snout", "ear_left", "ear_right", "tail_base"]
P1 = [[20.5, 10.25, 2], [18, 8, 1], [0.0, 0.0, 0], [40, 30, 2]]
P2 = [[5, 5, 2], [6, 4, 2], [7, 4, 2], [30, 40, 1]]


@pytest.fixture
def pose_project(project):
    skeleton_set(
        project=project,
        keypoints=NAMES,
        edges=[["snout", "ear_left"], ["snout", "ear_right"], ["snout", "tail_base"]],
        flip_pairs=[["ear_left", "ear_right"]],
    )
    source = make_source(project, "cage A")
    frames = [
        make_frame(source, 0, boxes=[("mouse", 10, 5, 40, 30)], split="train"),
        make_frame(source, 1, boxes=[("mouse", 2, 2, 40, 44)], split="val"),
        make_frame(source, 2, split="val"),  # negative
        make_frame(source, 3, boxes=[("mouse", 1, 1, 20, 20)], split="test"),  # no keypoints
    ]
    Box.objects.filter(frame=frames[0]).update(keypoints=P1)
    Box.objects.filter(frame=frames[1]).update(keypoints=P2)
    return project


def keypoints_by_frame(project) -> dict[int, list]:
    out = {}
    for frame in Frame.objects.filter(project=project).order_by("frame_index"):
        out[frame.frame_index] = [b.keypoints for b in frame.boxes.order_by("id")]
    return out


def as_floats(points):
    return [[float(x), float(y), v] for x, y, v in points]


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["coco", "yolo"])
def test_export_then_import_into_a_new_project_keeps_skeleton_and_keypoints(
    fmt, pose_project, owner, tmp_path
):
    dataset_export(project=pose_project, fmt=fmt, out_dir=tmp_path / "out")
    other = project_create(name=f"copy {fmt}", owner=owner)
    result = dataset_import(project=other, fmt=fmt, path=tmp_path / "out", created_by=owner)
    assert result.frames_created == 4
    spec = skeleton_spec(project=other)
    assert spec == skeleton_spec(project=pose_project)
    got = sorted(
        (b.frame.source_name, b.keypoints) for b in Box.objects.filter(frame__project=other)
    )
    want = sorted([("v", as_floats(P1)), ("v", as_floats(P2)), ("v", [])], key=lambda r: str(r[1]))
    assert sorted(str(kp) for _, kp in got) == sorted(str(kp) for _, kp in want)


@pytest.mark.django_db
def test_reimport_into_the_same_project_changes_nothing(pose_project, owner, tmp_path):
    before = keypoints_by_frame(pose_project)
    dataset_export(project=pose_project, fmt="coco", out_dir=tmp_path / "out")
    result = dataset_import(
        project=pose_project, fmt="coco", path=tmp_path / "out", created_by=owner
    )
    assert (result.frames_created, result.frames_unchanged) == (0, 4)
    assert keypoints_by_frame(pose_project) == before


@pytest.mark.django_db
def test_import_maps_keypoints_by_name_and_refuses_unknown_names(pose_project, owner, tmp_path):
    dataset_export(project=pose_project, fmt="yolo", out_dir=tmp_path / "out")
    reordered = project_create(name="reordered", owner=owner)
    skeleton_set(project=reordered, keypoints=["tail_base", "snout", "ear_right", "ear_left"])
    dataset_import(project=reordered, fmt="yolo", path=tmp_path / "out", created_by=owner)
    box = Box.objects.filter(frame__project=reordered).exclude(keypoints=[]).order_by("x").first()
    assert box.keypoints == [P2[3], P2[0], P2[2], P2[1]]  # the x=2 box holds P2
    stranger = project_create(name="stranger", owner=owner)
    skeleton_set(project=stranger, keypoints=["nose", "tail_base"])
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        dataset_import(project=stranger, fmt="yolo", path=tmp_path / "out", created_by=owner)
    assert "keypoint 'snout' is not in the project's skeleton" in str(exc.value)
    assert snapshot() == before


@pytest.mark.django_db
def test_dlc_export_is_read_by_sleap_io(pose_project, tmp_path):
    sio = pytest.importorskip("sleap_io")
    Frame.objects.filter(project=pose_project, frame_index=3).delete()  # 1 box: single animal
    dataset_export(project=pose_project, fmt="dlc", out_dir=tmp_path / "dlc")
    (csv,) = (tmp_path / "dlc/labeled-data").rglob("CollectedData_*.csv")
    labels = sio.load_dlc(str(csv))
    skeleton = labels.skeletons[0]
    # sleap-io sorts a DLC file's bodyparts by name: compare by name.
    assert sorted(skeleton.node_names) == sorted(NAMES)
    assert {frozenset(e) for e in skeleton.edge_names} == {
        frozenset(("snout", n)) for n in NAMES[1:]
    }  # from config.yaml
    found = {}
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            by_name = dict(zip(skeleton.node_names, inst.numpy().tolist(), strict=True))
            found[lf.frame_idx] = [by_name[n] for n in NAMES]
    assert len(found) == 2
    got = next(v for v in found.values() if v[0][0] == 20.5)
    assert got[0] == [20.5, 10.25] and got[1] == [18.0, 8.0] and got[3] == [40.0, 30.0]
    assert all(v != v for v in got[2])  # NaN: not labeled


@pytest.mark.django_db
def test_dlc_export_refuses_several_animals_and_a_boxes_only_project(project, tmp_path):
    source = make_source(project, "cage A")
    make_frame(source, 0, boxes=[("mouse", 1, 1, 10, 10)], split="train")
    with pytest.raises(ValidationError, match="needs a skeleton"):
        dataset_export(project=project, fmt="dlc", out_dir=tmp_path / "a")
    skeleton_set(project=project, keypoints=NAMES)
    make_frame(source, 1, boxes=[("mouse", 1, 1, 10, 10), ("mouse", 20, 20, 10, 10)])
    with pytest.raises(ValidationError, match="single-animal"):
        dataset_export(project=project, fmt="dlc", out_dir=tmp_path / "b")
    assert Skeleton.objects.count() == 1
