"""Pages and endpoints stay bounded as a project grows: the number of SQL queries per
request is the same with 10 frames as with 200 (paged lists, aggregates in the database,
no query per frame)."""

from __future__ import annotations

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.models import Box, Frame, Video
from tests.conftest import PASSWORD


def grow(project, n: int, *, sources: int = 3) -> list[Frame]:
    """``n`` frames over ``sources`` image sets, most labeled with a box, some negatives,
    some unlabeled; rows only (these requests never open the images)."""
    mouse = project.classes.get(name="mouse")
    videos = [
        Video.objects.create(
            project=project, kind=Video.Kind.IMAGE_SET, original_name=f"set {i}", width=64
        )
        for i in range(sources)
    ]
    frames = Frame.objects.bulk_create(
        [
            Frame(
                project=project,
                video=videos[i % sources],
                frame_index=i,
                image=f"frames/{project.pk}/q/{i}.jpg",
                width=64,
                height=48,
                status=Frame.Status.UNLABELED if i % 7 == 0 else Frame.Status.LABELED,
                is_negative=i % 5 == 0,
                split=("train", "val", "test", "")[i % 4],
            )
            for i in range(n)
        ]
    )
    Box.objects.bulk_create(
        Box(frame=f, label_class=mouse, x=1, y=2, w=10, h=8)
        for f in frames
        if f.status != Frame.Status.UNLABELED and not f.is_negative
    )
    return frames


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def urls(project, frame: Frame) -> list[str]:
    video = frame.video_id
    return [
        reverse("project-detail", args=[project.pk]),
        reverse("label-editor", args=[project.pk]),
        reverse("dataset", args=[project.pk]),
        reverse("video-list", args=[project.pk]),
        reverse("video-detail", args=[project.pk, video]),
        reverse("api-frame-list", args=[project.pk]) + "?limit=50",
        reverse("api-frame-list", args=[project.pk]) + "?limit=5&offset=5&status=labeled",
        reverse("api-frame-list", args=[project.pk]) + f"?video={video}&split=train",
        reverse("api-frame-counts", args=[project.pk]),
        reverse("api-frame-annotation", args=[frame.pk]),
        reverse("api-dataset-stats", args=[project.pk]),
        reverse("api-dataset-jobs", args=[project.pk]),
        reverse("api-video-list", args=[project.pk]),
    ]


@pytest.mark.django_db
def test_query_counts_stay_flat_as_frames_grow(client, project, owner):
    client.login(username=owner.username, password=PASSWORD)
    small = grow(project, 10)
    first = [queries(client, url) for url in urls(project, small[1])]
    big = grow(project, 200)
    # The same requests, now with 21x the frames (and new sources): same query counts.
    second = [queries(client, url) for url in urls(project, big[1])]
    # 3 more sources too: nothing per frame, nothing per source.
    names = urls(project, big[1])
    assert second == first, [
        (u, a, b) for u, a, b in zip(names, first, second, strict=True) if a != b
    ]
    assert max(second) <= 20, list(zip(names, second, strict=True))
