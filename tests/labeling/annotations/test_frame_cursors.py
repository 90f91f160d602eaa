"""Frame lists found by a frame (``after``, ``before``, ``around``): the editor loads a
13,622-frame list a page at a time and jumps anywhere in it with a bounded number of
queries, and a filtered list that changes under it (frames labeled meanwhile) skips
nothing."""

from __future__ import annotations

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assisted.models import Proposal, ProposalSource
from labeling.models import Frame, Video
from labeling.services import project_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def frames(project) -> list[Frame]:
    """45 rows over two videos (the list orders by video, then frame index); every third
    frame unlabeled. Rows only: these requests never open the images."""
    videos = [
        Video.objects.create(project=project, original_name=name, width=64, height=48)
        for name in ("b.mp4", "a.mp4")
    ]
    rows = Frame.objects.bulk_create(
        Frame(
            project=project,
            video=videos[i % 2],
            frame_index=(7 * i) % 45,  # not in id order: the list's order is not the ids'
            image=f"frames/{project.pk}/c/{i}.jpg",
            width=64,
            height=48,
            status=Frame.Status.UNLABELED if i % 3 == 0 else Frame.Status.LABELED,
        )
        for i in range(45)
    )
    return sorted(rows, key=lambda f: (f.video_id, f.frame_index, f.pk))


@pytest.fixture
def client(api_client_for, owner):
    return api_client_for(owner)


def listing(client, project, **params) -> dict:
    response = client.get(reverse("api-frame-list", args=[project.pk]), params)
    assert response.status_code == 200, response.content
    return response.json()


def ids(body) -> list[int]:
    return [f["id"] for f in body["results"]]


def test_after_walks_the_list_page_by_page_as_offsets_do(client, project, frames):
    order = [f.pk for f in frames]
    first = listing(client, project, limit=10)
    assert ids(first) == order[:10] and first["offset"] == 0 and first["count"] == 45
    walked, body = ids(first), first
    while body["next"]:
        body = listing(client, project, limit=10, after=walked[-1])
        assert body["offset"] == len(walked) and body["count"] == 45
        walked += ids(body)
    assert walked == order
    assert body["offset"] == 40 and body["previous"] and not body["next"]
    # The next link is a cursor too, and past the end there is nothing.
    assert f"after={order[-11]}" in listing(client, project, limit=10, after=order[-21])["next"]
    end = listing(client, project, limit=10, after=order[-1])
    assert ids(end) == [] and end["offset"] == 45 and not end["next"]


def test_before_gives_the_frames_just_before_in_list_order(client, project, frames):
    order = [f.pk for f in frames]
    body = listing(client, project, limit=10, before=order[25])
    assert ids(body) == order[15:25] and body["offset"] == 15
    assert body["next"] and f"before={order[15]}" in body["previous"]
    start = listing(client, project, limit=10, before=order[4])
    assert ids(start) == order[:4] and start["offset"] == 0 and not start["previous"]


def test_around_finds_the_page_and_the_position_of_a_frame(client, project, frames):
    order = [f.pk for f in frames]
    body = listing(client, project, limit=12, around=order[30])
    assert body["position"] == 30 and body["count"] == 45
    assert body["offset"] == 27 and ids(body) == order[27:39]  # a quarter of a page before it
    near_start = listing(client, project, limit=12, around=order[1])
    assert near_start["position"] == 1 and near_start["offset"] == 0
    assert ids(near_start) == order[:12] and not near_start["previous"]


def test_a_filtered_list_changed_meanwhile_skips_nothing(client, project, frames, owner):
    unlabeled = [f.pk for f in frames if f.status == Frame.Status.UNLABELED]
    assert len(unlabeled) == 15
    first = listing(client, project, status="unlabeled", limit=5)
    assert ids(first) == unlabeled[:5]
    # The person labels the five frames they were shown: they leave the filtered list.
    Frame.objects.filter(pk__in=unlabeled[:5]).update(status=Frame.Status.LABELED)
    # An offset would now skip five frames; the cursor (a frame no longer in the list)
    # continues right after it.
    assert ids(listing(client, project, status="unlabeled", limit=5, offset=5)) == unlabeled[10:15]
    after = listing(client, project, status="unlabeled", limit=5, after=unlabeled[4])
    assert ids(after) == unlabeled[5:10] and after["offset"] == 0 and after["count"] == 10
    # "Around" a frame that is not in the filtered list: the first page, no position.
    missing = listing(client, project, status="unlabeled", limit=5, around=unlabeled[0])
    assert missing["position"] is None and ids(missing) == unlabeled[5:10]


@pytest.mark.parametrize("ordering", ["-frame_index", "status", "-status", "id", "-created_at"])
def test_cursors_follow_every_ordering_a_cursor_can(client, project, frames, ordering):
    everything = ids(listing(client, project, ordering=ordering, limit=100))
    assert sorted(everything) == sorted(f.pk for f in frames)
    for i in (0, 7, 22, 44):
        after = listing(client, project, ordering=ordering, limit=6, after=everything[i])
        assert ids(after) == everything[i + 1 : i + 7] and after["offset"] == i + 1
        before = listing(client, project, ordering=ordering, limit=6, before=everything[i])
        assert ids(before) == everything[max(0, i - 6) : i]
        around = listing(client, project, ordering=ordering, limit=8, around=everything[i])
        assert around["position"] == i and everything[i] in ids(around)


@pytest.mark.parametrize(
    "params,field",
    [
        ({"after": "abc"}, "after"),
        ({"before": "-3"}, "before"),
        ({"around": "9" * 40}, "around"),
        ({"after": "1", "before": "2"}, "before"),
        ({"after": "1", "offset": "10"}, "offset"),
        ({"after": "1", "ordering": "annotated_at"}, "after"),
    ],
)
def test_bad_cursors_are_a_400_naming_the_field(client, project, frames, params, field):
    if "after" in params and params["after"] == "1":
        params = {**params, "after": str(frames[3].pk)}
    response = client.get(reverse("api-frame-list", args=[project.pk]), params)
    assert response.status_code == 400 and field in response.json(), response.content


def test_another_projects_frame_is_no_cursor_here(client, project, frames, owner):
    other = project_create(name="Other lab", owner=owner)
    video = Video.objects.create(project=other, original_name="theirs.mp4", width=64, height=48)
    theirs = Frame.objects.create(project=other, video=video, frame_index=0, width=64, height=48)
    for field in ("after", "before"):
        response = client.get(reverse("api-frame-list", args=[project.pk]), {field: theirs.pk})
        assert response.status_code == 400 and "No such frame" in response.json()[field][0]
    around = listing(client, project, around=theirs.pk, limit=5)
    assert around["position"] is None and theirs.pk not in ids(around)


def test_the_proposal_list_pages_by_cursor_too(client, project, frames):
    mouse = project.classes.get(name="mouse")
    with_pending = frames[::4]
    Proposal.objects.bulk_create(
        Proposal(
            frame=f,
            label_class=mouse,
            x=1,
            y=1,
            w=5,
            h=5,
            score=0.9,
            source=ProposalSource.BOOTSTRAP,
        )
        for f in with_pending
    )
    url = reverse("api-proposal-frame-list", args=[project.pk])
    order = [f.pk for f in with_pending]
    body = client.get(url, {"proposals": "pending", "after": order[2], "limit": 3}).json()
    assert ids(body) == order[3:6] and body["offset"] == 3 and body["count"] == len(order)
    around = client.get(url, {"proposals": "pending", "around": order[-1], "limit": 4}).json()
    assert around["position"] == len(order) - 1 and ids(around)[-1] == order[-1]


def queries(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_cursor_pages_take_the_same_few_queries_at_any_list_length(
    client, project, frames, django_assert_max_num_queries
):
    url = reverse("api-frame-list", args=[project.pk])

    def counts(pick) -> list[int]:
        return [
            queries(client, url, {"limit": 10, "after": pick.pk}),
            queries(client, url, {"limit": 10, "before": pick.pk, "status": "labeled"}),
            queries(client, url, {"limit": 10, "around": pick.pk}),
        ]

    small = counts(frames[20])
    video = frames[0].video
    Frame.objects.bulk_create(
        Frame(project=project, video=video, frame_index=1000 + i, width=64, height=48)
        for i in range(400)
    )
    assert counts(frames[20]) == small
    # Session, user, project and membership, then the cursor frame, count, page, position.
    with django_assert_max_num_queries(12):
        client.get(url, {"limit": 200, "around": frames[30].pk, "status": "unlabeled"})
