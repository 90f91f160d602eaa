"""Freezing reaches the analysis, the API, the experiment table and ``analyze --json``: a
real H.264 video (decoded by the app's sandboxed decoder) of a dark ellipse that walks for
20 frames and then stays still for 40, with a run whose boxes follow it."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest

from django.core.exceptions import ValidationError
from django.core.management import call_command

from behavior.analysis.runs import run_analysis
from tests.tracking.run_helpers import make_tracked_run, make_trajectory
from tests.tracking.test_tracking_runs import add_video
from tracking.engine.render import Mp4Writer

pytestmark = pytest.mark.django_db

FPS, MOVING, STILL = 30.0, 20, 40
SIZE = (160, 120)


def walk_then_freeze(path):
    """Write the video; return the centres (F, 2) of the ellipse."""
    import cv2

    rng = np.random.default_rng(1)
    floor = np.full((SIZE[1], SIZE[0], 3), 210, np.uint8)
    floor += rng.integers(0, 20, (SIZE[1], SIZE[0], 1), dtype=np.uint8)
    centres = []
    with Mp4Writer(path, size=SIZE, fps=FPS, crf=10, preset="ultrafast") as writer:
        for i in range(MOVING + STILL):
            k = min(i, MOVING)  # from frame MOVING on, the same picture
            x = 30 + 3 * k
            image = floor.copy()
            cv2.ellipse(image, (x, 60), (12, 7), 15 * np.sin(k / 3), 0, 360, (25, 25, 25), -1)
            writer.write(image)
            centres.append((x, 60))
    return np.asarray(centres, dtype=float)


@pytest.fixture
def freezing_run(project, tmp_path):
    centres = walk_then_freeze(tmp_path / "freeze.mp4")
    video = add_video(project, tmp_path / "freeze.mp4")
    assert video.frame_count == MOVING + STILL
    return make_tracked_run(
        project=project, video=video, trajectory=make_trajectory(centres, size=30)
    )


def test_freezing_is_the_still_stretch_within_a_frame(freezing_run):
    off = run_analysis(run=freezing_run)
    assert "time_freezing_s" not in off["animals"][0]
    assert off["parameters"]["freezing"] == {"enabled": False}

    on = run_analysis(run=freezing_run, params={"freezing": "true", "bin_s": "1"})
    animal = on["animals"][0]
    # Frame i's motion is its change since frame i-1: the first still frame (20) still
    # differs from frame 19, so frames 21..59 freeze.
    assert animal["time_freezing_s"] == pytest.approx((STILL - 1) / FPS, abs=1 / FPS + 1e-6)
    bins = [b["time_freezing_s"] for b in animal["bins"]]
    assert bins[0] == pytest.approx((30 - MOVING - 1) / FPS, abs=1 / FPS + 1e-6)
    assert sum(bins) == pytest.approx(animal["time_freezing_s"])
    assert on["parameters"]["freezing"]["enabled"] is True
    assert on["parameters"]["freezing"]["freeze_threshold"] == 0.02


def test_a_stricter_threshold_or_longer_minimum_freezes_less(freezing_run):
    strict = run_analysis(run=freezing_run, params={"freezing": True, "min_freeze_s": 2})
    assert strict["animals"][0]["time_freezing_s"] == 0.0


@pytest.mark.parametrize(
    "params, field",
    [
        ({"freezing": "perhaps"}, "freezing"),
        ({"freezing": True, "freeze_threshold": 2}, "freeze_threshold"),
        ({"freezing": True, "motion_cutoff": "x"}, "motion_cutoff"),
        ({"freezing": True, "min_freeze_s": -1}, "min_freeze_s"),
    ],
)
def test_bad_freezing_parameters_name_the_field(freezing_run, params, field):
    with pytest.raises(ValidationError) as excinfo:
        run_analysis(run=freezing_run, params=params)
    assert field in excinfo.value.message_dict


def test_pages_refuse_freezing_on_videos_longer_than_the_limit(freezing_run):
    with pytest.raises(ValidationError) as excinfo:
        run_analysis(run=freezing_run, params={"freezing": True}, freezing_max_frames=10)
    assert "manage.py analyze --freezing" in excinfo.value.message_dict["freezing"][0]


def test_requests_never_measure_freezing_themselves_the_command_does(
    api_client_for, owner, project, freezing_run
):
    """Decoding a video takes seconds to minutes: the API and the pages read a finished
    background job's result (tests/behavior/test_freezing_jobs.py); without one,
    the measures come without freezing and say where the job stands, and an export that
    asks for freezing is a 400 naming it."""
    api = api_client_for(owner)
    response = api.get(f"/api/tracking-runs/{freezing_run.pk}/analysis/?freezing=true")
    assert response.status_code == 200, response.content
    assert "time_freezing_s" not in response.json()["animals"][0]
    assert response.json()["freezing_job"]["status"] == "none"
    bad = api.get(f"/api/tracking-runs/{freezing_run.pk}/analysis/?freeze_threshold=nope")
    assert bad.status_code == 400 and "freeze_threshold" in bad.json()

    response = api.get(f"/api/projects/{project.pk}/experiment.csv?freezing=true")
    assert response.status_code == 400
    assert "not started" in response.json()["freezing"][0]

    out = StringIO()
    call_command("analyze", "--run", str(freezing_run.pk), "--freezing", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["animals"][0]["time_freezing_s"] > 1.0


def test_a_run_whose_video_file_is_gone_is_a_400_not_a_500(api_client_for, owner, freezing_run):
    from django.core.files.storage import default_storage

    default_storage.delete(freezing_run.video.file.name)
    with pytest.raises(ValidationError) as excinfo:
        run_analysis(run=freezing_run, params={"freezing": True})
    assert "freezing" in excinfo.value.message_dict
    # The rest of the analysis never needed the video.
    response = api_client_for(owner).get(f"/api/tracking-runs/{freezing_run.pk}/analysis/")
    assert response.status_code == 200
