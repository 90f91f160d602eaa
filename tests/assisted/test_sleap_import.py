"""Importing SLEAP's real predictions file (two mice, 15 nodes): the project takes the
skeleton, predictions become keypoint proposals on the frames the project sampled, and
accepting them stores the keypoints with the boxes. Bad input refuses, nothing written."""

from __future__ import annotations

import json

import pytest

from django.core.exceptions import ValidationError
from django.core.management import call_command

from assisted.models import Proposal, ProposalSource
from assisted.services import proposals_accept
from assisted.sleap_import import sleap_import
from labeling.annotations.skeletons import skeleton_set, skeleton_spec
from labeling.models import Box, Skeleton
from tests.conftest import SHARED_DATA
from tests.labeling.annotation_helpers import make_frames, make_video

SLP = SHARED_DATA / "two-mice-homecage.predictions.slp"
NODES = [
    "nose", "head", "earL", "earR", "neck", "shoulderL", "shoulderR", "tail_base", "haunchL",
    "haunchR", "trunk", "tail0", "tail1", "tail2", "tail_tip",
]  # fmt: skip

pytestmark = pytest.mark.skipif(not SLP.exists(), reason=f"{SLP} is absent (shared test data)")


@pytest.fixture
def video(project):
    video = make_video(project, "mice.mp4", width=1024, height=768)
    make_frames(video, 3, start=100)  # frames 100, 101, 102
    return video


def test_the_real_file_reads_with_sleap_io():
    from labeling.datasets.formats.sleap import read_slp

    slp = read_slp(SLP)
    assert list(slp.skeleton.keypoints) == NODES
    assert len(slp.skeleton.edges) == 14
    assert set(slp.skeleton.flip_pairs) == {(5, 6), (8, 9), (2, 3)}
    (video,) = slp.videos
    assert (video.width, video.height) == (1024, 768)
    assert len(video.frames) >= 1400
    instances = [i for frame in video.frames.values() for i in frame]
    assert all(i.predicted for i in instances)  # a predictions file
    assert {"track_0", "track_1"} <= {i.track for i in instances}  # some are untracked


@pytest.mark.django_db
def test_predictions_become_keypoint_proposals(project, video, owner):
    result = sleap_import(project=project, video=video, path=SLP)
    assert result.skeleton_created and result.frames_matched == 3
    assert result.frames_missing == result.frames_in_file - 3
    assert result.labels_created == 0
    spec = skeleton_spec(project=project)
    assert list(spec.keypoints) == NODES and spec.flip_idx[2] == 3
    proposals = list(Proposal.objects.filter(frame__video=video))
    assert len(proposals) == result.proposals_created >= 3
    for p in proposals:
        assert p.source == ProposalSource.IMPORT and 0 <= p.score <= 1
        assert len(p.keypoints) == 15
        seen = [(x, y) for x, y, v in p.keypoints if v]
        assert seen and all(p.x <= x <= p.x + p.w and p.y <= y <= p.y + p.h for x, y in seen)
    # A re-import replaces the pending imported proposals (no duplicates).
    again = sleap_import(project=project, video=video, path=SLP)
    assert Proposal.objects.filter(frame__video=video).count() == again.proposals_created
    # Accepting stores the keypoints with the boxes.
    frame = proposals[0].frame
    frame.refresh_from_db()
    state = proposals_accept(frame=frame, user=owner, version=frame.annotation_version)
    assert state.boxes and all(len(b["keypoints"]) == 15 for b in state.boxes)
    assert Box.objects.filter(frame=frame).exclude(keypoints=[]).count() == len(state.boxes)


@pytest.mark.django_db
def test_bad_input_refuses_and_writes_nothing(project, video, tmp_path):
    other_size = make_video(project, "other.mp4", width=640, height=480)
    with pytest.raises(ValidationError, match="1024x768"):
        sleap_import(project=project, video=other_size, path=SLP)
    skeleton_set(project=project, keypoints=["nose", "tail_base", "snout"])
    with pytest.raises(ValidationError, match="not in the project's skeleton"):
        sleap_import(project=project, video=video, path=SLP)
    garbage = tmp_path / "x.slp"
    garbage.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValidationError, match="not a SLEAP labels file"):
        sleap_import(project=project, video=video, path=garbage)
    assert not Proposal.objects.exists()
    assert Skeleton.objects.get(project=project).keypoints == ["nose", "tail_base", "snout"]


@pytest.mark.django_db
def test_command_prints_a_json_summary(project, video, capsys):
    call_command("import_sleap", str(SLP), "--project", project.name, "--video", str(video.pk))
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames_matched"] == 3 and summary["proposals_created"] >= 3
