"""The tracking API without a worker: input checks, permissions, exports and edits."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from tests.tracking.run_helpers import _placeholder_model, make_tracked_run, make_trajectory
from tests.tracking.run_helpers import make_video as make_video_row
from tracking.models import TrackingBatch, TrackingRun


@pytest.fixture
def people(make_user, member_of):
    return {
        "annotator": member_of(make_user("annie"), "annotator"),
        "viewer": member_of(make_user("vic"), "viewer"),
        "outsider": make_user("otto"),
    }


@pytest.fixture
def crossing_run(project):
    """Two animals on straight paths for 60 frames; animal 1 missing on frames 20-24."""
    t = np.arange(60)
    a = np.stack([20 + 2 * t, np.full(60, 50.0)], axis=-1)
    b = np.stack([200 - 2 * t, np.full(60, 120.0)], axis=-1)
    a[20:25] = np.nan
    video = make_video_row(project, frame_count=60)
    return make_tracked_run(
        project=project, video=video, trajectory=make_trajectory(np.stack([a, b], axis=1))
    )


@pytest.mark.django_db
def test_bad_requests_are_400s_naming_the_field_and_store_nothing(
    api_client_for, owner, project, make_user
):
    from labeling.services import project_create

    client = api_client_for(owner)
    model = _placeholder_model(project)
    video = make_video_row(project)
    other = project_create(name="Elsewhere", owner=make_user("elsa"))
    foreign_video = make_video_row(other, name="foreign.mp4")
    foreign_model = _placeholder_model(other)
    url = f"/api/projects/{project.pk}/tracking-runs/"
    cases = [
        ({"model": model.pk, "videos": [video.pk], "n_animals": 0}, "n_animals"),
        ({"model": model.pk, "videos": [video.pk], "n_animals": 21}, "n_animals"),
        ({"model": model.pk, "videos": []}, "videos"),
        ({"model": model.pk, "videos": [foreign_video.pk]}, "videos"),
        ({"model": foreign_model.pk, "videos": [video.pk]}, "model"),
        ({"model": 99999999999999999999, "videos": [video.pk]}, "model"),
        ({"model": model.pk, "videos": [video.pk], "params": {"conf": "NaN"}}, "params.conf"),
        ({"model": model.pk, "videos": [video.pk], "params": {"imgsz": 100}}, "params.imgsz"),
        ({"model": model.pk, "videos": [video.pk], "params": {"bogus": 1}}, "params.bogus"),
        (
            {"model": model.pk, "videos": [video.pk], "animals_per_video": {"123": 2}},
            "animals_per_video",
        ),
    ]
    for body, field in cases:
        response = client.post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in json.dumps(response.json()), (field, response.json())
    assert not TrackingRun.objects.exists() and not TrackingBatch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_broker_down_answers_503_and_keeps_no_run(api_client_for, owner, project, broker_down):
    model = _placeholder_model(project)
    video = make_video_row(project)
    response = api_client_for(owner).post(
        f"/api/projects/{project.pk}/tracking-runs/",
        {"model": model.pk, "videos": [video.pk]},
        format="json",
    )
    assert response.status_code == 503
    assert not TrackingRun.objects.exists() and not TrackingBatch.objects.exists()


@pytest.mark.django_db
def test_outsiders_get_404_and_viewers_cannot_write(api_client_for, crossing_run, people):
    run = crossing_run
    reads = [
        f"/api/tracking-runs/{run.pk}/",
        f"/api/tracking-runs/{run.pk}/track/",
        f"/api/tracking-runs/{run.pk}/trajectory.csv",
        f"/api/tracking-runs/{run.pk}/edits/",
        f"/api/projects/{run.project_id}/tracking-runs/",
    ]
    viewer = api_client_for(people["viewer"])
    outsider = api_client_for(people["outsider"])
    for url in reads:
        assert viewer.get(url).status_code == 200, url
        assert outsider.get(url).status_code == 404, url
    edit = {"animal_a": 1, "animal_b": 2, "from_frame": 10}
    assert viewer.post(f"/api/tracking-runs/{run.pk}/edits/", edit).status_code == 403
    assert outsider.post(f"/api/tracking-runs/{run.pk}/edits/", edit).status_code == 404
    assert outsider.post(f"/api/tracking-runs/{run.pk}/cancel/").status_code == 404
    assert not run.edits.exists()


@pytest.mark.django_db
def test_csv_export_has_every_frame_and_follows_a_swap_edit_and_its_undo(
    api_client_for, crossing_run, people
):
    client = api_client_for(people["annotator"])
    url = f"/api/tracking-runs/{crossing_run.pk}/trajectory.csv"

    def frame_table():
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        return pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))

    before = frame_table()
    assert len(before) == 60 * 2 and set(before.animal) == {1, 2}
    assert (before[(before.animal == 1) & before.frame.between(20, 24)].status == "missing").all()

    response = client.post(
        f"/api/tracking-runs/{crossing_run.pk}/edits/",
        {"animal_a": 1, "animal_b": 2, "from_frame": 30},
        format="json",
    )
    assert response.status_code == 201, response.content
    after = frame_table()
    a_before = before[before.animal == 1].set_index("frame")
    b_after = after[after.animal == 2].set_index("frame")
    assert b_after.loc[40, "x"] == a_before.loc[40, "x"]
    assert after[after.animal == 1].set_index("frame").loc[10, "x"] == a_before.loc[10, "x"]

    edit_id = response.json()["id"]
    assert client.post(f"/api/tracking-edits/{edit_id}/revert/").status_code == 200
    pd.testing.assert_frame_equal(frame_table(), before)

    bad = client.post(
        f"/api/tracking-runs/{crossing_run.pk}/edits/",
        {"animal_a": 1, "animal_b": 1, "from_frame": 3},
        format="json",
    )
    assert bad.status_code == 400 and "animal_b" in bad.json()
    past_end = client.post(
        f"/api/tracking-runs/{crossing_run.pk}/edits/",
        {"animal_a": 1, "animal_b": 2, "from_frame": 600},
        format="json",
    )
    assert past_end.status_code == 400 and "from_frame" in past_end.json()


@pytest.mark.django_db
def test_nwb_mot_and_sidecar_downloads(api_client_for, crossing_run, owner, tmp_path):
    from pynwb import NWBHDF5IO

    client = api_client_for(owner)
    nwb = client.get(f"/api/tracking-runs/{crossing_run.pk}/trajectory.nwb")
    assert nwb.status_code == 200
    path = tmp_path / "run.nwb"
    path.write_bytes(b"".join(nwb.streaming_content))
    with NWBHDF5IO(str(path), "r") as io_:
        series = io_.read().processing["behavior"]["Position"].spatial_series
        assert sorted(series) == ["animal_1", "animal_2"]
        assert series["animal_1"].data.shape == (60, 2)
    mot = client.get(f"/api/tracking-runs/{crossing_run.pk}/trajectory.mot.txt")
    lines = b"".join(mot.streaming_content).decode().splitlines()
    assert len(lines) == 60 * 2 - 5
    sidecar = json.loads(
        b"".join(
            client.get(f"/api/tracking-runs/{crossing_run.pk}/trajectory.json").streaming_content
        )
    )
    assert sidecar["model"]["sha256"] == crossing_run.model_sha256
    assert sidecar["video"]["name"] == crossing_run.video.original_name
    assert client.get(f"/api/tracking-runs/{crossing_run.pk}/trajectory.exe").status_code == 404


@pytest.mark.django_db
def test_deleting_a_tracked_video_or_its_model_is_refused(crossing_run):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        crossing_run.video.delete()
    with pytest.raises(ProtectedError):
        crossing_run.model.delete()


def _nwb_of(client, run, tmp_path):
    from pynwb import NWBHDF5IO

    response = client.get(f"/api/tracking-runs/{run.pk}/trajectory.nwb")
    assert response.status_code == 200
    path = tmp_path / f"run{run.pk}.nwb"
    path.write_bytes(b"".join(response.streaming_content))
    io_ = NWBHDF5IO(str(path), "r")
    return io_, io_.read()


@pytest.mark.django_db
def test_nwb_is_in_metres_with_the_calibration_and_names_the_subject(
    api_client_for, crossing_run, owner, tmp_path
):
    from behavior.models import ArenaSetup, SubjectInfo

    video = crossing_run.video
    ArenaSetup.objects.create(video=video, calibration_method="ruler", px_per_cm=10.0)
    SubjectInfo.objects.create(video=video, subject_id="M-17", group="saline", session="day 2")
    io_, nwbfile = _nwb_of(api_client_for(owner), crossing_run, tmp_path)
    with io_:
        series = nwbfile.processing["behavior"]["Position"].spatial_series["animal_2"]
        assert series.unit == "meters" and series.conversion == 1.0
        # Animal 2 is at x = 200 - 2 t px, y = 120 px: at 10 px/cm, metres are px / 1000.
        assert series.data[10][0] == pytest.approx((200 - 20) / 1000)
        assert series.data[10][1] == pytest.approx(0.12)
        assert "10 px/cm" in series.description
        assert nwbfile.subject.subject_id == "M-17"
        assert "saline" in nwbfile.subject.description
        assert nwbfile.session_id == "day 2"
        assert "day 2" in nwbfile.session_description


@pytest.mark.django_db
def test_nwb_of_an_uncalibrated_video_states_pixels(api_client_for, crossing_run, owner, tmp_path):
    io_, nwbfile = _nwb_of(api_client_for(owner), crossing_run, tmp_path)
    with io_:
        series = nwbfile.processing["behavior"]["Position"].spatial_series["animal_2"]
        assert series.unit == "pixels"
        assert series.data[10][0] == pytest.approx(180.0)
        assert "not calibrated" in series.description
        assert nwbfile.subject is None
