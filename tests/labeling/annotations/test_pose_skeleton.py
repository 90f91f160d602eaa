"""Pose, step one: a project's skeleton (API and page) and keypoints saved with the frame's
boxes through the annotation save (versioned, validated, 409 on a stale version)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.annotations.keypoints import (
    SkeletonError,
    SkeletonSpec,
    carried_keypoints,
    keypoints_clean,
    skeleton_change_problems,
    skeleton_from,
    skeleton_from_flip_idx,
)
from labeling.models import Box, Role, Skeleton
from tests.labeling.annotation_helpers import make_frames, make_video

W, H = 320, 240
NAMES = ["snout", "ear_left", "ear_right", "tail_base"]
SKELETON = {
    "keypoints": NAMES,
    "edges": [["snout", "ear_left"], ["snout", "ear_right"], [0, 3]],
    "flip_pairs": [["ear_left", "ear_right"]],
}
POINTS = [[20, 30, 2], [15, 25, 1], [25, 25, 2], [0, 0, 0]]


# --- pure ---------------------------------------------------------------------------------
def test_skeleton_from_names_edges_and_flip_idx():
    spec = skeleton_from(**SKELETON)
    assert spec.keypoints == tuple(NAMES)
    assert spec.edges == ((0, 1), (0, 2), (0, 3))
    assert spec.flip_idx == [0, 2, 1, 3]
    assert skeleton_from_flip_idx(NAMES, spec.flip_idx) == [(1, 2)]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"keypoints": []}, "keypoints"),
        ({"keypoints": ["a", "A"]}, "keypoints[1]"),
        ({"keypoints": ["a", "b,c"]}, "keypoints[1]"),
        ({"keypoints": ["a", "b"], "edges": [["a", "nose"]]}, "edges[0]"),
        ({"keypoints": ["a", "b"], "edges": [[0, 5]]}, "edges[0]"),
        ({"keypoints": ["a", "b"], "edges": [["a", "a"]]}, "edges[0]"),
        ({"keypoints": ["a", "b", "c"], "flip_pairs": [[0, 1], [1, 2]]}, "flip_pairs[1]"),
    ],
)
def test_bad_skeletons_name_the_field(kwargs, field):
    with pytest.raises(SkeletonError) as exc:
        skeleton_from(**kwargs)
    assert field in exc.value.errors


def test_a_labeled_keypoint_cannot_be_removed_or_moved_but_may_be_renamed():
    old = SkeletonSpec(tuple(NAMES))
    removed = SkeletonSpec(("snout", "ear_left"))
    moved = SkeletonSpec(("ear_left", "snout", "ear_right", "tail_base"))
    renamed = SkeletonSpec(("nose", "ear_left", "ear_right", "tail_base", "tail_tip"))
    assert (
        "cannot be removed"
        in skeleton_change_problems(old=old, new=removed, labeled={3})["keypoints"]
    )
    assert "cannot move" in skeleton_change_problems(old=old, new=moved, labeled={0})["keypoints"]
    assert skeleton_change_problems(old=old, new=renamed, labeled={0, 3}) == {}
    assert skeleton_change_problems(old=old, new=removed, labeled={0, 1}) == {}
    assert skeleton_change_problems(old=old, new=None, labeled={0})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.floats(0, W, allow_nan=False),
            st.floats(0, H, allow_nan=False),
            st.sampled_from([1, 2]),
        ),
        min_size=4,
        max_size=4,
    )
)
def test_keypoints_clean_keeps_points_inside_the_image_snapped(points):
    cleaned = keypoints_clean([list(p) for p in points], count=4, width=W, height=H)
    for (x, y, v), (cx, cy, cv) in zip(points, cleaned, strict=True):
        assert cv == v and abs(cx - x) <= 0.005 and abs(cy - y) <= 0.005
        assert 0 <= cx <= W and 0 <= cy <= H
    assert keypoints_clean(cleaned, count=4, width=W, height=H) == cleaned  # idempotent


@pytest.mark.parametrize(
    "points, needle",
    [
        ([[1, 1, 2]], "Give 4 keypoints"),
        ([[400, 1, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0]], "outside the 320x240 image"),
        ([[1, 1, 3], [0, 0, 0], [0, 0, 0], [0, 0, 0]], "visibility"),
        ([[float("nan"), 1, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0]], "finite"),
        ([[1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]], "[x, y, visibility]"),
    ],
)
def test_keypoints_clean_refuses_garbage(points, needle):
    with pytest.raises(ValueError, match=None) as exc:
        keypoints_clean(points, count=4, width=W, height=H)
    assert needle in str(exc.value)


def test_not_labeled_points_are_zeroed_and_an_all_unlabeled_list_is_none():
    assert keypoints_clean([[5, 5, 0]] * 4, count=4, width=W, height=H) == []
    out = keypoints_clean([[5, 5, 0], [1, 2, 2], [0, 0, 0], [0, 0, 0]], count=4, width=W, height=H)
    assert out[0] == [0.0, 0.0, 0]


def test_a_box_sent_without_keypoints_keeps_the_overlapping_stored_boxs():
    stored = [(1, (10, 10, 50, 50), POINTS), (1, (200, 100, 40, 40), [[210, 110, 2]] * 4)]
    sent = [
        (1, (12, 11, 50, 50), None),
        (1, (100, 100, 20, 20), None),
        (2, (200, 100, 40, 40), None),
    ]
    out = carried_keypoints(sent, stored)
    assert out == [POINTS, [], []]  # moved box keeps; new box none; other class none


# --- API ----------------------------------------------------------------------------------
@pytest.fixture
def frame(project):
    return make_frames(make_video(project, width=W, height=H), 1)[0]


@pytest.fixture
def mouse(project):
    return project.classes.get(name="mouse")


def put_skeleton(client, project, data):
    return client.put(f"/api/projects/{project.pk}/skeleton/", data, format="json")


def save(client, frame, mouse, *, version=0, points=None, **box):
    entry = {"class_id": mouse.pk, "x": 10, "y": 10, "w": 50, "h": 50, **box}
    if points is not None:
        entry["keypoints"] = points
    body = {"version": version, "boxes": [entry], "is_negative": False}
    return client.put(f"/api/frames/{frame.pk}/annotation/", body, format="json")


@pytest.mark.django_db
def test_skeleton_api_round_trip_and_roles(api_client_for, owner, project, make_user, member_of):
    client = api_client_for(owner)
    assert client.get(f"/api/projects/{project.pk}/skeleton/").status_code == 404
    response = put_skeleton(client, project, SKELETON)
    assert response.status_code == 200, response.content
    assert response.json()["flip_idx"] == [0, 2, 1, 3]
    annotator = member_of(make_user("ann"), Role.ANNOTATOR)
    got = api_client_for(annotator).get(f"/api/projects/{project.pk}/skeleton/").json()
    assert got["keypoints"] == NAMES and got["edges"] == [[0, 1], [0, 2], [0, 3]]
    assert put_skeleton(api_client_for(annotator), project, {"keypoints": ["x"]}).status_code == 403
    assert (
        api_client_for(make_user("oscar")).get(f"/api/projects/{project.pk}/skeleton/").status_code
        == 404
    )
    bad = put_skeleton(client, project, {"keypoints": ["a"], "edges": [["a", "nose"]]})
    assert bad.status_code == 400 and "edges[0]" in bad.json()
    assert Skeleton.objects.get(project=project).keypoints == NAMES  # unchanged


@pytest.mark.django_db
def test_keypoints_save_with_the_boxes_versioned(api_client_for, owner, project, frame, mouse):
    client = api_client_for(owner)
    put_skeleton(client, project, SKELETON)
    response = save(client, frame, mouse, points=POINTS)
    assert response.status_code == 200, response.content
    assert response.json()["boxes"][0]["keypoints"] == [
        [20.0, 30.0, 2],
        [15.0, 25.0, 1],
        [25.0, 25.0, 2],
        [0.0, 0.0, 0],
    ]
    # A stale version is a 409 whose current state carries the keypoints.
    stale = save(client, frame, mouse, version=0, points=[[1, 1, 2]] * 4)
    assert stale.status_code == 409
    assert stale.json()["current"]["boxes"][0]["keypoints"][0] == [20.0, 30.0, 2]
    # The box editor (no keypoints field) moves the box: its keypoints stay.
    moved = save(client, frame, mouse, version=1, x=12)
    assert moved.status_code == 200
    assert moved.json()["boxes"][0]["keypoints"][1] == [15.0, 25.0, 1]
    # An explicit [] removes them.
    cleared = save(client, frame, mouse, version=2, x=12, points=[])
    assert "keypoints" not in cleared.json()["boxes"][0]  # only on a box that has some


@pytest.mark.django_db
@pytest.mark.parametrize(
    "points, needle",
    [
        ([[400, 30, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0]], "outside"),
        ([[1, 1, 2]], "Give 4 keypoints"),
        ([[1, 1, 5], [0, 0, 0], [0, 0, 0], [0, 0, 0]], "visibility"),
        ([[1, 2]], "triples"),
    ],
)
def test_bad_keypoints_are_a_400_naming_the_box(
    api_client_for, owner, project, frame, mouse, points, needle
):
    client = api_client_for(owner)
    put_skeleton(client, project, SKELETON)
    response = save(client, frame, mouse, points=points)
    assert response.status_code == 400
    assert "boxes[0].keypoints" in response.json() and needle in str(response.json())
    assert not Box.objects.filter(frame=frame).exists()


@pytest.mark.django_db
def test_keypoints_in_a_boxes_only_project_are_refused(api_client_for, owner, frame, mouse):
    response = save(api_client_for(owner), frame, mouse, points=[[1, 1, 2]])
    assert response.status_code == 400
    assert "no skeleton" in str(response.json()["boxes[0].keypoints"])


@pytest.mark.django_db
def test_skeleton_changes_keep_labels_safe(api_client_for, owner, project, frame, mouse):
    client = api_client_for(owner)
    put_skeleton(client, project, SKELETON)
    save(client, frame, mouse, points=POINTS)
    # tail_base (position 4) has no label: it may go; snout may not move.
    moved = put_skeleton(client, project, {"keypoints": ["ear_left", "snout", "ear_right"]})
    assert moved.status_code == 400 and "cannot move" in str(moved.json()["keypoints"])
    gone = put_skeleton(client, project, {"keypoints": ["snout", "ear_left"]})
    assert gone.status_code == 400 and "cannot be removed" in str(gone.json()["keypoints"])
    assert client.delete(f"/api/projects/{project.pk}/skeleton/").status_code == 400
    grown = put_skeleton(client, project, {"keypoints": ["nose", *NAMES[1:], "tail_tip"]})
    assert grown.status_code == 200
    assert Box.objects.get(frame=frame).keypoints[4] == [0.0, 0.0, 0]  # padded
    shrunk = put_skeleton(client, project, {"keypoints": ["nose", "ear_left", "ear_right"]})
    assert shrunk.status_code == 200
    assert len(Box.objects.get(frame=frame).keypoints) == 3


@pytest.mark.django_db
def test_adding_a_skeleton_later_keeps_the_boxes(api_client_for, owner, project, frame, mouse):
    client = api_client_for(owner)
    assert save(client, frame, mouse).status_code == 200
    put_skeleton(client, project, SKELETON)
    box = Box.objects.get(frame=frame)
    assert (box.x, box.w, box.keypoints) == (10, 50, [])


@pytest.mark.django_db
def test_skeleton_page_form(client, owner, project, make_user, member_of):
    client.force_login(owner)
    url = f"/projects/{project.pk}/skeleton/"
    assert "No skeleton" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "keypoints": "snout\near_left\near_right\ntail_base",
            "edges": "snout, ear_left\nsnout, ear_right",
            "flip_pairs": "ear_left, ear_right",
        },
    )
    assert response.status_code == 302
    spec = Skeleton.objects.get(project=project)
    assert spec.keypoints == NAMES and spec.flip_pairs == [[1, 2]]
    bad = client.post(url, {"keypoints": "a\nb", "edges": "a, nose"})
    assert bad.status_code == 400 and "not a keypoint" in bad.content.decode()
    viewer = member_of(make_user("vic"), Role.VIEWER)
    client.force_login(viewer)
    assert client.post(url, {"keypoints": "x"}).status_code == 403
    assert Skeleton.objects.get(project=project).keypoints == NAMES
