"""Dataset versions: split assignment, the immutable manifest, the YOLO layout, the API."""

from __future__ import annotations

import pytest

from django.core.exceptions import ValidationError

from labeling.datasets.formats import yolo
from labeling.datasets.formats.manifest import manifest_hash
from labeling.datasets.versions import (
    dataset_version_create,
    dataset_version_manifest,
    dataset_version_write_yolo,
)
from labeling.models import DatasetVersion, Frame, Role, Video
from labeling.services import label_class_add, project_create
from tests.training.helpers import HEIGHT, WIDTH, make_frames, stored_files


@pytest.mark.django_db
def test_version_freezes_labeled_frames_with_pixel_boxes_and_assigns_missing_splits(project, owner):
    label_class_add(project=project, name="pellet")
    frames = make_frames(
        project, splits=["train", "val", "test", "", "", ""], negatives=2, unlabeled=3
    )
    version = dataset_version_create(project=project, name="first", created_by=owner)

    manifest = dataset_version_manifest(version=version)
    assert manifest["classes"] == ["mouse", "pellet"]
    labeled = [f for f in frames if f.status != Frame.Status.UNLABELED]
    assert sorted(f["frame_id"] for f in manifest["frames"]) == sorted(f.pk for f in labeled)
    by_id = {f["frame_id"]: f for f in manifest["frames"]}
    first = frames[0]
    box = first.boxes.get()
    assert by_id[first.pk]["boxes"] == [
        {"class_index": 0, "x": box.x, "y": box.y, "w": box.w, "h": box.h}
    ]
    assert (by_id[first.pk]["width"], by_id[first.pk]["height"]) == (WIDTH, HEIGHT)
    assert by_id[first.pk]["image"] == first.image.name
    assert sum(not f["boxes"] for f in manifest["frames"]) == 2  # the negatives are in

    # Frames that had a split kept it; every labeled frame has one now; unlabeled ones don't.
    for frame in frames:
        frame.refresh_from_db()
    assert [f.split for f in frames[:3]] == ["train", "val", "test"]
    assert all(f.split in ("train", "val", "test") for f in labeled)
    assert all(f.split == "" for f in frames if f.status == Frame.Status.UNLABELED)
    assert {f["frame_id"]: f["split"] for f in manifest["frames"]} == {
        f.pk: f.split for f in labeled
    }

    assert version.content_hash == manifest_hash(manifest)
    assert version.classes == ["mouse", "pellet"]
    assert sum(version.frame_counts.values()) == len(labeled)
    assert version.box_count == 6
    assert version.name == "first" and version.created_by == owner


@pytest.mark.django_db
def test_versions_are_stable_and_immutable(project, owner):
    # Ten unassigned frames (some land in train at 50 %) and one already in val.
    frames = make_frames(project, splits=[""] * 10 + ["val"])
    one = dataset_version_create(project=project, name="", created_by=owner)
    splits = dict(Frame.objects.values_list("pk", "split"))
    two = dataset_version_create(project=project, name="", created_by=owner)
    assert one.content_hash == two.content_hash  # same content, same hash
    assert dict(Frame.objects.values_list("pk", "split")) == splits  # nothing moved
    assert one.name.startswith("v1") and two.name.startswith("v2")

    # Later edits never reach an existing version.
    before = dataset_version_manifest(version=one)
    box = frames[0].boxes.get()
    box.x += 5
    box.save()
    assert dataset_version_manifest(version=one) == before
    three = dataset_version_create(project=project, name="", created_by=owner)
    assert three.content_hash != one.content_hash


@pytest.mark.django_db
def test_split_by_video_keeps_each_video_in_one_split(project, owner):
    project.split_by_video = True
    project.save()
    videos = [
        Video.objects.create(project=project, original_name=f"v{i}.mp4", width=WIDTH, height=HEIGHT)
        for i in range(8)
    ]
    for i, video in enumerate(videos):
        make_frames(project, splits=[""] * 3, video=video, seed=i)
    try:
        dataset_version_create(project=project, name="by video", created_by=owner)
    except ValidationError as exc:  # a split can be empty with 8 videos; still one per video
        assert "split" in exc.message_dict
    for video in videos:
        assert len(set(video.frames.values_list("split", flat=True))) == 1


@pytest.mark.django_db
def test_refuses_without_labeled_frames_or_without_train_and_val(project, owner):
    before = stored_files("datasets")  # media is shared by the tests of one run
    make_frames(project, splits=[], unlabeled=4)
    with pytest.raises(ValidationError) as exc:
        dataset_version_create(project=project, name="x", created_by=owner)
    assert "frames" in exc.value.message_dict

    make_frames(project, splits=["train", "train", "test"], seed=1)
    with pytest.raises(ValidationError) as exc:
        dataset_version_create(project=project, name="x", created_by=owner)
    assert "val" in exc.value.message_dict["split"][0]
    assert not DatasetVersion.objects.exists()
    assert stored_files("datasets") == before  # no manifest left behind


@pytest.mark.django_db
def test_write_yolo_layout_round_trips_the_boxes(project, owner, tmp_path):
    frames = make_frames(project, splits=["train"] * 3 + ["val"] * 2, negatives=1)
    Frame.objects.filter(pk=frames[-1].pk).update(split="val")
    version = dataset_version_create(project=project, name="yolo", created_by=owner)

    data_yaml = dataset_version_write_yolo(version=version, out_dir=tmp_path / "ds")
    assert data_yaml == tmp_path / "ds" / "data.yaml"
    text = data_yaml.read_text()
    assert "train: images/train" in text and "val: images/val" in text
    assert sorted(p.name for p in (tmp_path / "ds" / "images" / "train").iterdir()) == sorted(
        f"{f.pk}.jpg" for f in frames[:3]
    )
    negative = tmp_path / "ds" / "labels" / "val" / f"{frames[-1].pk}.txt"
    assert negative.read_text() == ""

    dataset, _ = yolo.read(tmp_path / "ds")
    read = {img.file_name: img for img in dataset.images}
    for frame in frames[:5]:
        box = frame.boxes.get()
        got = read[f"{frame.pk}.jpg"].boxes[0]
        assert (got.x, got.y, got.w, got.h) == pytest.approx((box.x, box.y, box.w, box.h), abs=0.01)


# --- API ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_dataset_version_api_is_scoped_by_membership(
    project, owner, make_user, member_of, api_client_for
):
    make_frames(project)
    viewer = member_of(make_user("vera"), Role.VIEWER)
    stranger = make_user("mallory")
    other = project_create(name="Other lab", owner=stranger)
    make_frames(other)
    dataset_version_create(project=other, name="theirs", created_by=stranger)

    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/dataset-versions/", {"name": "v-api"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "v-api" and body["frame_counts"] == {"train": 6, "val": 2, "test": 0}
    assert body["box_count"] == 8 and len(body["content_hash"]) == 64

    listed = api_client_for(viewer).get(f"/api/projects/{project.pk}/dataset-versions/")
    assert [v["name"] for v in listed.json()] == ["v-api"]  # not the other lab's
    detail = api_client_for(viewer).get(f"/api/dataset-versions/{body['id']}/")
    assert detail.status_code == 200 and detail.json()["id"] == body["id"]

    assert (
        api_client_for(viewer)
        .post(f"/api/projects/{project.pk}/dataset-versions/", {}, format="json")
        .status_code
        == 403
    )
    assert api_client_for(stranger).get(f"/api/dataset-versions/{body['id']}/").status_code == 404
    assert (
        api_client_for(stranger).get(f"/api/projects/{project.pk}/dataset-versions/").status_code
        == 404
    )
    assert (
        api_client_for(stranger)
        .post(f"/api/projects/{project.pk}/dataset-versions/", {}, format="json")
        .status_code
        == 404
    )
    assert DatasetVersion.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_dataset_version_api_refusal_is_a_400_naming_the_field(project, owner, api_client_for):
    before = stored_files("datasets")
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/dataset-versions/", {}, format="json"
    )
    assert response.status_code == 400
    assert "frames" in response.json()
    assert stored_files("datasets") == before and not DatasetVersion.objects.exists()
