"""The annotation API: versioned saves, idempotent retries, validation, permissions, lists,
the frame image and the editor page."""

from __future__ import annotations

import json
import math
import re

import pytest

from labeling.annotations.geometry import EmptyBox, PixelBox, clip_box
from labeling.models import Box, Frame, Role
from labeling.services import project_create
from tests.labeling.annotation_helpers import make_frames, make_video, store_image

W, H = 320, 240


# --- pure geometry (no database) --------------------------------------------------------
def test_clip_box_clips_to_the_image_and_snaps_to_hundredths():
    assert clip_box(PixelBox(-10, 200.004, 50, 100), width=W, height=H) == PixelBox(
        0, 200.0, 40, 40
    )


@pytest.mark.parametrize(
    "box",
    [
        PixelBox(math.nan, 0, 10, 10),
        PixelBox(0, math.inf, 10, 10),
        PixelBox(10, 10, -5, 10),
        PixelBox(10, 10, 5, 0),
    ],
)
def test_clip_box_refuses_garbage(box):
    with pytest.raises(ValueError):
        clip_box(box, width=W, height=H)


def test_clip_box_refuses_a_box_outside_the_image():
    with pytest.raises(EmptyBox):
        clip_box(PixelBox(400, 10, 50, 50), width=W, height=H)
    with pytest.raises(EmptyBox):  # 0.5 px sliver left inside
        clip_box(PixelBox(-49.5, 10, 50, 50), width=W, height=H)


# --- fixtures ---------------------------------------------------------------------------
@pytest.fixture
def people(make_user, member_of):
    return {
        "annotator": member_of(make_user("ann"), Role.ANNOTATOR),
        "viewer": member_of(make_user("vic"), Role.VIEWER),
        "outsider": make_user("oscar"),
    }


@pytest.fixture
def video(project):
    return make_video(project, width=W, height=H)


@pytest.fixture
def frame(video):
    return make_frames(video, 1)[0]


@pytest.fixture
def mouse(project):
    return project.classes.get(name="mouse")


def url(frame) -> str:
    return f"/api/frames/{frame.pk}/annotation/"


def body(mouse, version=0, boxes=None, **extra):
    if boxes is None:
        boxes = [{"class_id": mouse.pk, "x": 10, "y": 20, "w": 30, "h": 40}]
    return {"version": version, "boxes": boxes, "is_negative": False, **extra}


def put_raw(client, frame, raw: str | bytes):
    return client.put(url(frame), data=raw, content_type="application/json")


def assert_untouched(frame):
    frame.refresh_from_db()
    assert frame.annotation_version == 0
    assert frame.status == Frame.Status.UNLABELED
    assert not frame.is_negative
    assert not Box.objects.filter(frame=frame).exists()


# --- versioning and idempotency ---------------------------------------------------------
@pytest.mark.django_db
def test_a_new_frame_is_unlabeled_at_version_zero(api_client_for, owner, frame):
    response = api_client_for(owner).get(url(frame))
    assert response.status_code == 200
    assert response.json() == {
        "frame_id": frame.pk,
        "version": 0,
        "boxes": [],
        "is_negative": False,
        "status": "unlabeled",
        "request_id": "",
        "annotated_by": None,
        "annotated_at": None,
    }


@pytest.mark.django_db
def test_a_save_stores_boxes_in_image_pixels_and_bumps_the_version(
    api_client_for, people, frame, mouse
):
    client = api_client_for(people["annotator"])
    boxes = [
        {"class_id": mouse.pk, "x": 10.25, "y": 20.5, "w": 30, "h": 40},
        {"class_id": mouse.pk, "x": 100, "y": 100, "w": 50.75, "h": 60},
    ]
    response = client.put(url(frame), body(mouse, boxes=boxes, request_id="r1"), format="json")
    assert response.status_code == 200, response.content
    saved = response.json()
    assert saved["version"] == 1 and saved["status"] == "labeled"
    assert saved["boxes"] == boxes
    assert saved["annotated_by"] == "ann"
    assert client.get(url(frame)).json() == saved
    assert Box.objects.filter(frame=frame).count() == 2


@pytest.mark.django_db
def test_boxes_partly_outside_are_clipped_to_the_image(api_client_for, owner, frame, mouse):
    boxes = [{"class_id": mouse.pk, "x": -20, "y": 200, "w": 60, "h": 100}]
    response = api_client_for(owner).put(url(frame), body(mouse, boxes=boxes), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["boxes"] == [{"class_id": mouse.pk, "x": 0, "y": 200, "w": 40, "h": 40}]


@pytest.mark.django_db
def test_a_stale_version_gets_409_and_the_other_writers_boxes_stay(
    api_client_for, owner, people, frame, mouse
):
    alice, bob = api_client_for(owner), api_client_for(people["annotator"])
    theirs = [{"class_id": mouse.pk, "x": 1, "y": 2, "w": 30, "h": 40}]
    assert bob.put(url(frame), body(mouse, boxes=theirs), format="json").status_code == 200

    response = alice.put(url(frame), body(mouse, version=0), format="json")
    assert response.status_code == 409
    conflict = response.json()
    assert conflict["code"] == "version_conflict"
    assert conflict["current"]["version"] == 1
    assert conflict["current"]["boxes"] == theirs
    assert conflict["current"]["annotated_by"] == "ann"
    # Nothing of Alice's reached the database.
    assert alice.get(url(frame)).json()["boxes"] == theirs
    assert list(Box.objects.filter(frame=frame).values_list("x", flat=True)) == [1]

    # Based on the current version, her save goes through.
    response = alice.put(url(frame), body(mouse, version=1), format="json")
    assert response.status_code == 200 and response.json()["version"] == 2


@pytest.mark.django_db
def test_a_retried_save_returns_the_stored_result_without_duplicates(
    api_client_for, owner, frame, mouse
):
    client = api_client_for(owner)
    first = client.put(url(frame), body(mouse, request_id="save-7f3a"), format="json")
    retry = client.put(url(frame), body(mouse, request_id="save-7f3a"), format="json")
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.json()["version"] == 1
    assert Box.objects.filter(frame=frame).count() == 1
    # A new request id based on the old version is a conflict, not a silent duplicate.
    other = client.put(url(frame), body(mouse, request_id="save-8b21"), format="json")
    assert other.status_code == 409


@pytest.mark.django_db
def test_a_replayed_request_id_with_other_boxes_is_a_409_with_a_reason(
    api_client_for, owner, frame, mouse
):
    client = api_client_for(owner)
    first = client.put(url(frame), body(mouse, request_id="save-7f3a"), format="json")
    assert first.status_code == 200
    moved = [{"class_id": mouse.pk, "x": 50, "y": 60, "w": 30, "h": 40}]
    replay = client.put(url(frame), body(mouse, boxes=moved, request_id="save-7f3a"), format="json")
    assert replay.status_code == 409
    answer = replay.json()
    assert answer["code"] == "request_id_reused" and "save-7f3a" in answer["detail"]
    assert answer["current"]["boxes"] == first.json()["boxes"]
    negative = client.put(
        url(frame), body(mouse, boxes=[], is_negative=True, request_id="save-7f3a"), format="json"
    )
    assert negative.status_code == 409
    stored = Box.objects.get(frame=frame)
    assert (stored.x, stored.y) == (10, 20)


@pytest.mark.django_db
def test_mark_reviewed_then_an_edit_makes_it_labeled_again(api_client_for, owner, frame, mouse):
    client = api_client_for(owner)
    assert client.put(url(frame), body(mouse), format="json").json()["status"] == "labeled"
    reviewed = client.put(url(frame), body(mouse, version=1, status="reviewed"), format="json")
    assert reviewed.status_code == 200 and reviewed.json()["status"] == "reviewed"
    frame.refresh_from_db()
    assert frame.status == Frame.Status.REVIEWED
    edited = client.put(url(frame), body(mouse, version=2), format="json")
    assert edited.json()["status"] == "labeled"


@pytest.mark.django_db
def test_no_animal_is_a_labeled_negative_and_clearing_it_unlabels(
    api_client_for, owner, frame, mouse
):
    client = api_client_for(owner)
    response = client.put(
        url(frame), {"version": 0, "boxes": [], "is_negative": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "labeled" and response.json()["is_negative"]
    response = client.put(
        url(frame), {"version": 1, "boxes": [], "is_negative": False}, format="json"
    )
    assert response.json()["status"] == "unlabeled"


# --- validation: 400 naming the field, nothing changes ----------------------------------
def _box(**overrides):
    return {"class_id": "MOUSE", "x": 10, "y": 10, "w": 20, "h": 20, **overrides}


BAD_BODIES = [
    (
        "nan literal",
        '{"version":0,"boxes":[{"class_id":"MOUSE","x":NaN,"y":1,"w":2,"h":3}]}',
        "boxes[0].x",
    ),
    (
        "infinity literal",
        '{"version":0,"boxes":[{"class_id":"MOUSE","x":1,"y":-Infinity,"w":2,"h":3}]}',
        "boxes[0].y",
    ),
    (
        "overflowing number",
        '{"version":0,"boxes":[{"class_id":"MOUSE","x":1,"y":1,"w":1e999,"h":3}]}',
        "boxes[0].w",
    ),
    ("string coordinate", {"version": 0, "boxes": [_box(x="12")]}, "boxes[0].x"),
    ("null coordinate", {"version": 0, "boxes": [_box(h=None)]}, "boxes[0].h"),
    ("boolean coordinate", {"version": 0, "boxes": [_box(), _box(w=True)]}, "boxes[1].w"),
    (
        "missing coordinate",
        {"version": 0, "boxes": [{"class_id": "MOUSE", "x": 1, "y": 1, "w": 5}]},
        "boxes[0].h",
    ),
    ("string class id", {"version": 0, "boxes": [_box(class_id="1")]}, "boxes[0].class_id"),
    ("unknown class id", {"version": 0, "boxes": [_box(class_id=987654)]}, "boxes[0].class_id"),
    (
        "another project's class",
        {"version": 0, "boxes": [_box(class_id="OTHER")]},
        "boxes[0].class_id",
    ),
    ("negative width", {"version": 0, "boxes": [_box(w=-20)]}, "boxes[0]"),
    ("inverted box", {"version": 0, "boxes": [_box(x=50, w=-30, h=-10)]}, "boxes[0]"),
    ("outside the image", {"version": 0, "boxes": [_box(x=W + 5)]}, "boxes[0]"),
    ("zero area after clipping", {"version": 0, "boxes": [_box(y=-20, h=20)]}, "boxes[0]"),
    ("too many boxes", {"version": 0, "boxes": [_box()] * 1001}, "boxes"),
    ("boxes not a list", {"version": 0, "boxes": {"x": 1}}, "boxes"),
    ("missing version", {"boxes": []}, "version"),
    ("negative version", {"version": -1, "boxes": []}, "version"),
    ("string version", {"version": "0", "boxes": []}, "version"),
    ("non-boolean is_negative", {"version": 0, "boxes": [], "is_negative": "yes"}, "is_negative"),
    (
        "boxes on a negative frame",
        {"version": 0, "boxes": [_box()], "is_negative": True},
        "is_negative",
    ),
    ("unknown status", {"version": 0, "boxes": [_box()], "status": "done"}, "status"),
    ("reviewed with nothing", {"version": 0, "boxes": [], "status": "reviewed"}, "status"),
    ("unlabeled with boxes", {"version": 0, "boxes": [_box()], "status": "unlabeled"}, "status"),
    (
        "request id with odd characters",
        {"version": 0, "boxes": [], "request_id": "a b<"},
        "request_id",
    ),
    ("request id too long", {"version": 0, "boxes": [], "request_id": "x" * 65}, "request_id"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case,payload,field", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
    api_client_for, owner, frame, mouse, case, payload, field
):
    other = project_create(name="Elsewhere", owner=owner)
    ids = {"MOUSE": mouse.pk, "OTHER": other.classes.get().pk}
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    for name, pk in ids.items():
        raw = raw.replace(f'"{name}"', str(pk))
    response = put_raw(api_client_for(owner), frame, raw)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert_untouched(frame)


# --- minimum box size of the editor's saves ---------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "size,fields",
    [
        ((3, 20), ["boxes[1].w"]),
        ((20, 3.99), ["boxes[1].h"]),
        ((3, 2), ["boxes[1].h", "boxes[1].w"]),
    ],
)
def test_a_new_box_under_the_minimum_is_a_400_naming_the_side(
    api_client_for, owner, frame, mouse, size, fields
):
    w, h = size
    boxes = [
        {"class_id": mouse.pk, "x": 10, "y": 20, "w": 30, "h": 40},
        {"class_id": mouse.pk, "x": 100, "y": 100, "w": w, "h": h},
    ]
    response = api_client_for(owner).put(url(frame), body(mouse, boxes=boxes), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert sorted(errors) == fields
    assert "at least 4 px" in " ".join(errors[fields[0]])
    assert_untouched(frame)


@pytest.mark.django_db
def test_the_minimum_counts_what_is_left_inside_the_image(api_client_for, owner, frame, mouse):
    boxes = [{"class_id": mouse.pk, "x": W - 3, "y": 20, "w": 30, "h": 40}]  # 3 px inside
    response = api_client_for(owner).put(url(frame), body(mouse, boxes=boxes), format="json")
    assert response.status_code == 400 and "boxes[0].w" in response.json()
    assert_untouched(frame)


@pytest.mark.django_db
def test_small_boxes_already_stored_stay_editable_and_imports_may_store_them(
    api_client_for, owner, frame, mouse
):
    """Dataset imports and accepted proposals (the service, without the editor's minimum)
    may store boxes smaller than 4 px; an editor save that keeps them unchanged goes
    through, moving one makes it a new box, which must have the minimum size."""
    from labeling.annotations.services import BoxInput, annotation_save

    annotation_save(
        frame=frame,
        user=owner,
        version=0,
        boxes=[BoxInput(mouse.pk, 5, 5, 2, 3)],
        is_negative=False,
    )
    tiny = {"class_id": mouse.pk, "x": 5, "y": 5, "w": 2, "h": 3}
    added = {"class_id": mouse.pk, "x": 100, "y": 100, "w": 30, "h": 30}
    client = api_client_for(owner)
    response = client.put(url(frame), body(mouse, version=1, boxes=[tiny, added]), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["boxes"] == [tiny, added]

    moved = dict(tiny, x=6)
    response = client.put(url(frame), body(mouse, version=2, boxes=[moved, added]), format="json")
    assert response.status_code == 400 and sorted(response.json()) == ["boxes[0].h", "boxes[0].w"]
    frame.refresh_from_db()
    assert frame.annotation_version == 2 and Box.objects.filter(frame=frame).count() == 2


@pytest.mark.django_db
def test_a_body_over_10_mb_is_refused_naming_the_body(api_client_for, owner, frame, mouse):
    box = json.dumps(
        {
            "class_id": mouse.pk,
            "x": 1.123456789,
            "y": 1.123456789,
            "w": 5.123456789,
            "h": 5.123456789,
        }
    )
    raw = '{"version":0,"boxes":[' + ",".join([box] * 140_000) + "]}"
    assert len(raw) > 10 * 1024**2
    response = put_raw(api_client_for(owner), frame, raw)
    assert response.status_code == 400
    assert "body" in response.json()
    assert_untouched(frame)


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["[1, 2]", "not json", '"a string"', ""])
def test_a_body_that_is_not_an_object_is_a_400(api_client_for, owner, frame, raw):
    response = put_raw(api_client_for(owner), frame, raw)
    assert response.status_code == 400
    assert_untouched(frame)


# --- permissions ------------------------------------------------------------------------
def _requests(frame, project, mouse):
    return {
        "get": lambda c: c.get(url(frame)),
        "put": lambda c: c.put(url(frame), body(mouse), format="json"),
        "list": lambda c: c.get(f"/api/projects/{project.pk}/frames/"),
        "counts": lambda c: c.get(f"/api/projects/{project.pk}/frames/counts/"),
        "image": lambda c: c.get(f"/api/frames/{frame.pk}/image/"),
    }


EXPECTED = {
    "owner": {"get": 200, "put": 200, "list": 200, "counts": 200, "image": 200},
    "annotator": {"get": 200, "put": 200, "list": 200, "counts": 200, "image": 200},
    "viewer": {"get": 200, "put": 403, "list": 200, "counts": 200, "image": 200},
    "outsider": {"get": 404, "put": 404, "list": 404, "counts": 404, "image": 404},
}


@pytest.mark.django_db
@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize("action", ["get", "put", "list", "counts", "image"])
def test_permission_matrix(api_client_for, owner, people, project, frame, mouse, who, action):
    user = owner if who == "owner" else people[who]
    response = _requests(frame, project, mouse)[action](api_client_for(user))
    assert response.status_code == EXPECTED[who][action], getattr(response, "content", b"")[:300]
    if action == "put" and response.status_code != 200:
        assert_untouched(frame)
    if who == "outsider":
        assert b"Open field" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["get", "put", "list", "image"])
def test_anonymous_requests_are_refused(api_client_for, project, frame, mouse, action):
    response = _requests(frame, project, mouse)[action](api_client_for())
    assert response.status_code in (401, 403)
    assert_untouched(frame)


@pytest.mark.django_db
def test_viewers_can_also_not_mark_reviewed(api_client_for, owner, people, frame, mouse):
    api_client_for(owner).put(url(frame), body(mouse), format="json")
    response = api_client_for(people["viewer"]).put(
        url(frame), body(mouse, version=1, status="reviewed"), format="json"
    )
    assert response.status_code == 403
    frame.refresh_from_db()
    assert frame.status == Frame.Status.LABELED and frame.annotation_version == 1


# --- frame list: filters, ordering allow-list, scoping ----------------------------------
@pytest.fixture
def listed(project, owner, mouse, api_client_for):
    v1 = make_video(project, "a.mp4", width=W, height=H)
    v2 = make_video(project, "b.mp4", width=W, height=H)
    train = make_frames(v1, 3, split="train")
    test = make_frames(v2, 2, split="test")
    client = api_client_for(owner)
    client.put(url(train[1]), body(mouse), format="json")
    client.put(url(test[0]), {"version": 0, "boxes": [], "is_negative": True}, format="json")
    client.put(
        url(test[0]),
        {"version": 1, "boxes": [], "is_negative": True, "status": "reviewed"},
        format="json",
    )
    return {"v1": v1, "v2": v2, "train": train, "test": test, "client": client}


def ids(response):
    assert response.status_code == 200, response.content
    return [f["id"] for f in response.json()["results"]]


@pytest.mark.django_db
def test_frame_list_filters_by_status_video_and_split(project, listed):
    client, base = listed["client"], f"/api/projects/{project.pk}/frames/"
    train, test = listed["train"], listed["test"]
    everything = client.get(base)
    assert ids(everything) == [f.pk for f in train + test]
    first = everything.json()["results"][1]
    assert first["box_count"] == 1 and first["status"] == "labeled" and first["version"] == 1
    assert first["video_name"] == "a.mp4" and first["image_url"].endswith(f"/{train[1].pk}/image/")
    assert ids(client.get(base, {"status": "unlabeled"})) == [train[0].pk, train[2].pk, test[1].pk]
    assert ids(client.get(base, {"status": "reviewed"})) == [test[0].pk]
    assert ids(client.get(base, {"video": listed["v2"].pk})) == [f.pk for f in test]
    assert ids(client.get(base, {"split": "train", "status": "labeled"})) == [train[1].pk]
    assert ids(client.get(base, {"split": "none"})) == []


@pytest.mark.django_db
def test_frame_list_orders_only_by_allowed_fields(project, listed):
    client, base = listed["client"], f"/api/projects/{project.pk}/frames/"
    everything = [f.pk for f in listed["train"] + listed["test"]]
    assert ids(client.get(base, {"ordering": "-frame_index"})) == everything[::-1]
    assert ids(client.get(base, {"ordering": "id"})) == sorted(everything)
    for bad in [
        "owner__password",
        "project__created_by__password",
        "-video__project__name",
        "image",
        "frame_index,id",
    ]:
        response = client.get(base, {"ordering": bad})
        assert response.status_code == 400, bad
        assert "ordering" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params,field",
    [
        ({"status": "done"}, "status"),
        ({"video": "abc"}, "video"),
        ({"split": "holdout"}, "split"),
    ],
)
def test_frame_list_refuses_bad_filters_naming_them(project, listed, params, field):
    response = listed["client"].get(f"/api/projects/{project.pk}/frames/", params)
    assert response.status_code == 400 and field in response.json()


@pytest.mark.django_db
def test_frame_list_is_paginated_and_never_shows_other_projects(
    project, listed, owner, api_client_for
):
    client, base = listed["client"], f"/api/projects/{project.pk}/frames/"
    page = client.get(base, {"limit": 2, "offset": 2}).json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"] and page["previous"]
    other = project_create(name="Other lab", owner=owner)
    foreign = make_frames(make_video(other, "theirs.mp4"), 2)
    # Even when asked for the other project's video, this project's list stays its own.
    assert ids(client.get(base, {"video": foreign[0].video_id})) == []
    assert set(ids(client.get(base))).isdisjoint({f.pk for f in foreign})


@pytest.mark.django_db
def test_counts_per_status_split_class_and_video(project, listed):
    counts = listed["client"].get(f"/api/projects/{project.pk}/frames/counts/").json()
    assert counts["total"] == 5
    assert counts["status"] == {"unlabeled": 3, "labeled": 1, "reviewed": 1}
    assert counts["split"] == {"train": 3, "val": 0, "test": 2, "none": 0}
    assert counts["classes"] == [
        {
            "id": project.classes.get().pk,
            "name": "mouse",
            "index": 0,
            "color": "#e6194b",
            "boxes": 1,
            "frames": 1,
        }
    ]
    assert [(v["name"], v["frames"], v["labeled"]) for v in counts["videos"]] == [
        ("a.mp4", 3, 1),
        ("b.mp4", 2, 1),
    ]


# --- the frame image --------------------------------------------------------------------
@pytest.mark.django_db
def test_the_image_is_served_with_a_server_chosen_type_and_nosniff(api_client_for, owner, frame):
    response = api_client_for(owner).get(
        f"/api/frames/{frame.pk}/image/", HTTP_ACCEPT="image/avif,image/webp,image/*"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == frame.image.open("rb").read()


@pytest.mark.django_db
def test_an_image_file_that_is_not_an_image_is_never_served_as_html(api_client_for, owner, frame):
    frame.image = store_image(b"<html><script>alert(1)</script></html>", ext="html")
    frame.save(update_fields=["image"])
    response = api_client_for(owner).get(f"/api/frames/{frame.pk}/image/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_a_missing_image_file_is_a_404(api_client_for, owner, frame):
    from django.core.files.storage import default_storage

    default_storage.delete(frame.image.name)
    assert api_client_for(owner).get(f"/api/frames/{frame.pk}/image/").status_code == 404


# --- the editor page --------------------------------------------------------------------
@pytest.mark.django_db
def test_editor_page_escapes_names_and_needs_no_inline_code(client, owner, project, frame):
    project.classes.create(name='<img src=x onerror="alert(1)">', index=1)
    frame.video.original_name = "<script>alert('v')</script>.mp4"
    frame.video.save(update_fields=["original_name"])
    client.force_login(owner)
    response = client.get(f"/projects/{project.pk}/label/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;v&#x27;)&lt;/script&gt;.mp4" in html
    assert "script-src 'self'" in response["Content-Security-Policy"]
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert " style=" not in html
    assert 'data-can-write="true"' in html


@pytest.mark.django_db
def test_editor_page_is_read_only_for_viewers_and_hidden_from_outsiders(client, people, project):
    client.force_login(people["viewer"])
    response = client.get(f"/projects/{project.pk}/label/")
    assert response.status_code == 200 and 'data-can-write="false"' in response.content.decode()
    client.force_login(people["outsider"])
    assert client.get(f"/projects/{project.pk}/label/").status_code == 404
