"""Proposals are kept apart from labels: accept, reject, accept-above, the machine-made mark,
and that nothing pending reaches an export or a dataset version."""

from __future__ import annotations

import io
import zipfile

import pytest

from django.urls import reverse

from assisted.models import MachineLabel, Proposal, ProposalSource
from assisted.selectors import machine_label_of
from assisted.services import ProposalInput, proposals_accept_above, proposals_replace
from labeling.datasets.versions import dataset_version_create, dataset_version_manifest
from labeling.models import Box, Frame, Role
from tests.labeling.annotation_helpers import make_frames, make_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def frames(project):
    return make_frames(make_video(project), 4)


@pytest.fixture
def mouse(project):
    return project.classes.order_by("index").first()


def _propose(frame, mouse, *scores, x=10.0):
    return proposals_replace(
        frame=frame,
        source=ProposalSource.MODEL,
        proposals=[
            ProposalInput(mouse.pk, x + 40 * i, 20, 30, 25, s) for i, s in enumerate(scores)
        ],
        model_ref="model #1 “m”",
    )


def test_replace_cleans_machine_output_and_never_duplicates(frames, mouse):
    frame = frames[0]
    made = proposals_replace(
        frame=frame,
        source=ProposalSource.BOOTSTRAP,
        proposals=[
            ProposalInput(mouse.pk, -10, -10, 40, 30, 0.9),  # clipped to the frame
            ProposalInput(mouse.pk, 400, 10, 30, 30, 0.8),  # outside the 320x240 frame
            ProposalInput(mouse.pk, 10, 10, 30, 30, float("nan")),
            ProposalInput(mouse.pk, 10, 10, 30, 30, 1.7),  # score capped
        ],
    )
    assert [(p.x, p.y, p.w, p.h, p.score) for p in made] == [
        (0, 0, 30, 20, 0.9),
        (10, 10, 30, 30, 1.0),
    ]
    _propose(frame, mouse, 0.5)
    proposals_replace(frame=frame, source=ProposalSource.BOOTSTRAP, proposals=[])
    assert list(Proposal.objects.filter(frame=frame).values_list("source", flat=True)) == ["model"]


def test_accept_adds_boxes_and_marks_machine_made_until_a_person_saves(
    frames, mouse, owner, api_client_for
):
    frame = frames[0]
    Box.objects.create(frame=frame, label_class=mouse, x=200, y=100, w=20, h=20)
    _propose(frame, mouse, 0.9, 0.4)
    client = api_client_for(owner)
    got = client.get(reverse("api-frame-proposals", args=[frame.pk])).json()
    assert [p["score"] for p in got["proposals"]] == [0.9, 0.4]
    assert got["machine_label"] is None

    stale = client.post(
        reverse("api-frame-proposals-accept", args=[frame.pk]), {"version": 5}, format="json"
    )
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    assert Box.objects.filter(frame=frame).count() == 1

    res = client.post(
        reverse("api-frame-proposals-accept", args=[frame.pk]), {"version": 0}, format="json"
    )
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["version"] == 1 and body["status"] == "labeled"
    assert len(body["boxes"]) == 3  # the person's box kept, both proposals added
    frame.refresh_from_db()
    assert machine_label_of(frame=frame).min_score == 0.4
    assert set(Proposal.objects.filter(frame=frame).values_list("status", flat=True)) == {
        "accepted"
    }
    again = client.post(
        reverse("api-frame-proposals-accept", args=[frame.pk]), {"version": 1}, format="json"
    )
    assert again.status_code == 400 and "proposals" in again.json()

    # A person's save (here: marking it reviewed) ends the machine-made mark.
    put = client.put(
        reverse("api-frame-annotation", args=[frame.pk]),
        {"version": 1, "boxes": body["boxes"], "status": "reviewed"},
        format="json",
    )
    assert put.status_code == 200
    frame.refresh_from_db()
    assert machine_label_of(frame=frame) is None
    assert MachineLabel.objects.filter(frame=frame).exists()  # the record stays


def test_reject_keeps_labels_and_hides_proposals(frames, mouse, owner, api_client_for):
    frame = frames[1]
    _propose(frame, mouse, 0.9, 0.8)
    client = api_client_for(owner)
    res = client.post(reverse("api-frame-proposals-reject", args=[frame.pk]))
    assert res.json() == {"rejected": 2}
    assert client.get(reverse("api-frame-proposals", args=[frame.pk])).json()["proposals"] == []
    frame.refresh_from_db()
    assert frame.status == Frame.Status.UNLABELED and frame.annotation_version == 0


def test_accept_above_takes_only_frames_whose_every_proposal_clears_it(
    project, frames, mouse, owner, api_client_for
):
    _propose(frames[0], mouse, 0.95)
    _propose(frames[1], mouse, 0.95, 0.3)  # one doubtful box: left for a person
    _propose(frames[2], mouse, 0.6)
    _propose(frames[3], mouse, 0.99)
    Box.objects.create(frame=frames[3], label_class=mouse, x=1, y=1, w=9, h=9)
    Frame.objects.filter(pk=frames[3].pk).update(status=Frame.Status.LABELED)  # a person's
    client = api_client_for(owner)
    url = reverse("api-proposal-accept-above", args=[project.pk])
    assert client.post(url, {"score": 1.5}, format="json").status_code == 400
    assert "score" in client.post(url, {"score": "0.5"}, format="json").json()
    listed = client.get(reverse("api-proposal-frame-list", args=[project.pk])).json()
    assert [f["id"] for f in listed["results"]] == [f.pk for f in frames]

    res = client.post(url, {"score": 0.9}, format="json")
    assert res.json() == {"accepted": 1, "boxes": 1, "skipped": 2}  # frame 3 is not unlabeled
    machine = client.get(
        reverse("api-proposal-frame-list", args=[project.pk]), {"proposals": "machine"}
    ).json()
    assert [f["id"] for f in machine["results"]] == [frames[0].pk]
    assert Box.objects.filter(frame=frames[3]).count() == 1  # never overwritten
    assert proposals_accept_above(project=project, user=owner, score=0.5)["accepted"] == 1


def test_pending_proposals_never_reach_exports_or_dataset_versions(
    project, mouse, owner, api_client_for
):
    video = make_video(project)
    frames = make_frames(video, 2, split="train") + make_frames(video, 2, split="val", start=2)
    for frame in frames:
        _propose(frame, mouse, 0.9)
    client = api_client_for(owner)
    for frame in (frames[0], frames[2]):
        url = reverse("api-frame-proposals-accept", args=[frame.pk])
        assert client.post(url, {"version": 0}, format="json").status_code == 200
    version = dataset_version_create(project=project, name="v1", created_by=owner)
    manifest = dataset_version_manifest(version=version)
    assert sorted(f["frame_id"] for f in manifest["frames"]) == [frames[0].pk, frames[2].pk]
    assert version.box_count == 2
    res = client.get(reverse("api-dataset-export", args=[project.pk]), {"format": "yolo"})
    assert res.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(res.streaming_content)))
    labels = [n for n in archive.namelist() if n.endswith(".txt") and "labels/" in n]
    boxes = sum(len(archive.read(n).decode().split()) // 5 for n in labels)
    assert boxes == 2  # the accepted frames' boxes only


def test_access_non_members_get_404_and_viewers_cannot_write(
    frames, mouse, make_user, member_of, api_client_for, project
):
    _propose(frames[0], mouse, 0.9)
    stranger = api_client_for(make_user())
    viewer = api_client_for(member_of(make_user(), Role.VIEWER))
    for client, code in ((stranger, 404), (viewer, 403)):
        accept = reverse("api-frame-proposals-accept", args=[frames[0].pk])
        assert client.post(accept, {"version": 0}, format="json").status_code == code
        reject = reverse("api-frame-proposals-reject", args=[frames[0].pk])
        assert client.post(reject).status_code == code
        above = reverse("api-proposal-accept-above", args=[project.pk])
        assert client.post(above, {"score": 0.1}, format="json").status_code == code
    assert stranger.get(reverse("api-frame-proposals", args=[frames[0].pk])).status_code == 404
    assert viewer.get(reverse("api-frame-proposals", args=[frames[0].pk])).status_code == 200
    assert Proposal.objects.filter(status="pending").count() == 1
