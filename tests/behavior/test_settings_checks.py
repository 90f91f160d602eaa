"""The project's saved analysis settings get the same validation as a request's query (one
validator, ``AnalysisParams.checked``), and settings stored before that validation existed
do not block the project's analyses and exports: they fall back to the default, with a
warning naming the setting and where to fix it."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from behavior.arenas.services import arena_setup_save
from behavior.models import AnalysisSettings
from tests.tracking.run_helpers import (
    ARENA_CM,
    OPEN_FIELD,
    make_tracked_run,
    make_trajectory,
    make_video,
    walk_right,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(project):
    video = make_video(project)
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    return make_tracked_run(project=project, video=video, trajectory=make_trajectory(walk_right()))


@pytest.fixture
def api(api_client_for, owner):
    return api_client_for(owner)


BAD = [
    ({"start_s": 50, "end_s": 10}, "end_s"),
    ({"bin_s": 1e-9}, "bin_s"),
    ({"bin_s": 0.01}, "bin_s"),
    ({"smoothing": None, "smoothing_window": -7210}, "smoothing_window"),
    ({"smoothing": None, "smoothing_window": 4}, "smoothing_window"),
    ({"start_s": -3}, "start_s"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
def test_saved_settings_are_refused_like_the_query(api, project, run, body, field):
    url = f"/api/projects/{project.pk}/analysis-settings/"
    saved = api.generic("PUT", url, json.dumps(body), content_type="application/json")
    assert saved.status_code == 400, saved.content
    assert field in saved.json(), saved.json()
    assert not AnalysisSettings.objects.filter(project=project).exists()
    query = "&".join(f"{k}={'' if v is None else v}" for k, v in body.items())
    asked = api.get(f"/api/tracking-runs/{run.pk}/analysis/?{query}")
    assert asked.status_code == 400 and field in asked.json(), asked.content
    exported = api.get(f"/api/projects/{project.pk}/experiment.csv?{query}")
    assert exported.status_code == 400 and field in exported.json(), exported.content


def test_good_settings_are_still_saved(api, project):
    url = f"/api/projects/{project.pk}/analysis-settings/"
    body = {"start_s": 1, "end_s": 8, "bin_s": 0.5, "smoothing": None, "smoothing_window": 7}
    saved = api.put(url, body, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["end_s"] == 8 and saved.json()["bin_s"] == 0.5


# -7210 cannot be stored at all: the column is a PositiveIntegerField.
STORABLE = [(body, field) for body, field in BAD if body.get("smoothing_window", 0) >= 0]
GOOD = {"start_s": "", "end_s": "", "bin_s": "", "smoothing": "", "smoothing_window": "5"}


@pytest.mark.parametrize(("body", "field"), STORABLE)
def test_bad_stored_settings_fall_back_to_the_default_with_a_warning(
    api, project, run, body, field
):
    # Stored as an older version (or the admin) could: no validation on the way in.
    AnalysisSettings.objects.create(project=project, **{k: v or "" for k, v in body.items()})
    analysis = api.get(f"/api/tracking-runs/{run.pk}/analysis/")
    assert analysis.status_code == 200, analysis.content
    warnings = analysis.json()["warnings"]
    assert len(warnings) == 1 and f"{field} = " in warnings[0], warnings
    assert "Analysis settings" in warnings[0] and "Experiment page" in warnings[0]
    table = api.get(f"/api/projects/{project.pk}/experiment/")
    assert table.status_code == 200 and table.json()["warnings"] == warnings
    csv = api.get(f"/api/projects/{project.pk}/experiment.csv")
    assert csv.status_code == 200
    assert len(pd.read_csv(io.StringIO(csv.content.decode()))) == 1
    assert api.get(f"/api/projects/{project.pk}/experiment.xlsx").status_code == 200
    # A request that gives the value itself is not warned about it.
    given = "&".join(f"{k}={GOOD[k]}" for k in body)
    assert api.get(f"/api/tracking-runs/{run.pk}/analysis/?{given}").json()["warnings"] == []


def test_projects_default_to_a_minimum_zone_bout_of_0_2_s(api, project, run):
    settings = api.get(f"/api/projects/{project.pk}/analysis-settings/").json()
    assert settings["min_bout_s"] == 0.2
    analysis = api.get(f"/api/tracking-runs/{run.pk}/analysis/").json()
    assert analysis["parameters"]["min_bout_s"] == 0.2
    off = api.get(f"/api/tracking-runs/{run.pk}/analysis/?min_bout_s=0").json()
    assert off["parameters"]["min_bout_s"] == 0.0
    bad = api.get(f"/api/tracking-runs/{run.pk}/analysis/?min_bout_s=-1")
    assert bad.status_code == 400 and "min_bout_s" in bad.json()
