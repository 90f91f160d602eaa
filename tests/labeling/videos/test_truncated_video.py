"""A recording cut short (an upload or copy that stopped early) is called an incomplete
file, not "not a recognised video format" (issue 21, item 15): the usual camera MP4 keeps
its index (moov) at the end, so a cut copy has none and FFmpeg cannot even open it."""

from __future__ import annotations

from pathlib import Path

import pytest

from media.probe import VideoProbeError, probe_video
from tests.labeling.video_helpers import table_counts, upload, write_video

INCOMPLETE = "incomplete file (the upload or copy was cut short)"


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cut")
    made = {}
    for faststart in (False, True):
        whole = write_video(folder / f"whole-{faststart}.mp4", frames=60, faststart=faststart)
        data = whole.read_bytes()
        for share in (0.9, 0.5, 0.05):
            cut = folder / f"cut-{faststart}-{share}.mp4"
            cut.write_bytes(data[: int(len(data) * share)])
            made[f"{'index first' if faststart else 'index last'}, {share:.0%} kept"] = cut
        made[f"whole {faststart}"] = whole
    return made


CUT_CASES = [
    f"{where}, {share:.0%} kept"
    for where in ("index last", "index first")
    for share in (0.9, 0.5, 0.05)
]


@pytest.mark.parametrize("case", CUT_CASES)
def test_a_recording_cut_short_is_an_incomplete_file(recordings, case):
    with pytest.raises(VideoProbeError) as caught:
        probe_video(recordings[case], strict=True)
    assert INCOMPLETE in str(caught.value), str(caught.value)
    assert "not a recognised" not in str(caught.value)


def test_whole_recordings_and_garbage_are_told_apart(recordings, tmp_path):
    for faststart in (False, True):
        assert probe_video(recordings[f"whole {faststart}"], strict=True).frame_count == 60
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(bytes(range(256)) * 400)
    with pytest.raises(VideoProbeError) as caught:
        probe_video(garbage, strict=True)
    assert "not a recognised video format" in str(caught.value)
    # An ISO file header followed by junk is damaged, not cut short.
    header = recordings["whole False"].read_bytes()[:32]
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(header + bytes(range(256)) * 40)
    with pytest.raises(VideoProbeError) as caught:
        probe_video(damaged, strict=True)
    assert INCOMPLETE not in str(caught.value)


@pytest.mark.django_db
def test_the_upload_says_incomplete_file_and_keeps_nothing(
    api_client_for, owner, project, recordings
):
    counts = table_counts()
    response = upload(api_client_for(owner), project.pk, ("day 3.mp4", recordings[CUT_CASES[1]]))
    assert response.status_code == 400
    assert INCOMPLETE in response.json()["file"][0], response.json()
    assert table_counts() == counts
