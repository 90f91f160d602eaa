"""The experiment table's run of each video is chosen explicitly (default: the newest
finished run with the video's animal count), shown and stored per video; and each animal of
a multi-animal video may have its own subject, group and session."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from behavior.arenas.services import arena_setup_save
from behavior.experiment.services import subject_info_save
from behavior.models import ExperimentRunChoice
from labeling.models import Role
from tests.tracking.run_helpers import (
    ARENA_CM,
    OPEN_FIELD,
    make_tracked_run,
    make_trajectory,
    make_video,
    sit_still,
    walk_right,
)
from webapp.models import JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(api_client_for, owner):
    return api_client_for(owner)


@pytest.fixture
def mouse(project):
    """A one-mouse video tracked once for real, then by a newer two-animal test run."""
    video = make_video(project, name="m1.mp4")
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    subject_info_save(video=video, subject_id="M1", group="saline")
    real = make_tracked_run(project=project, video=video, trajectory=make_trajectory(walk_right()))
    pair = np.stack([walk_right(), sit_still()], axis=1)
    test = make_tracked_run(project=project, video=video, trajectory=make_trajectory(pair))
    return video, real, test


def _csv(api, project) -> pd.DataFrame:
    response = api.get(f"/api/projects/{project.pk}/experiment.csv")
    assert response.status_code == 200, response.content
    return pd.read_csv(io.StringIO(response.content.decode()))


def test_a_newer_test_run_with_more_animals_does_not_change_the_table(api, project, mouse):
    video, real, test = mouse
    df = _csv(api, project)
    assert df["run"].tolist() == [real.pk] and df["animal"].tolist() == [1]
    body = api.get(f"/api/videos/{video.pk}/experiment-run/").json()
    assert body["run"] == real.pk and body["chosen"] is False and body["n_animals"] == 1
    assert [c["id"] for c in body["candidates"]] == [test.pk, real.pk]
    assert "default" in body["description"]


def test_choosing_a_run_is_stored_shown_and_used(api, project, mouse):
    video, real, test = mouse
    url = f"/api/videos/{video.pk}/experiment-run/"
    chosen = api.put(url, {"run": test.pk}, format="json")
    assert chosen.status_code == 200 and chosen.json()["run"] == test.pk
    assert chosen.json()["chosen"] is True
    assert ExperimentRunChoice.objects.get(video=video).run == test
    df = _csv(api, project)
    assert df["run"].tolist() == [test.pk, test.pk] and df["animal"].tolist() == [1, 2]
    runs = api.get(f"/api/projects/{project.pk}/experiment/").json()["runs"]
    assert runs[0]["run"] == test.pk and runs[0]["chosen"] is True
    back = api.put(url, {"run": None}, format="json")
    assert back.json()["run"] == real.pk and back.json()["chosen"] is False
    assert not ExperimentRunChoice.objects.filter(video=video).exists()


def test_only_a_finished_run_of_the_same_video_can_be_chosen(api, project, mouse):
    video, real, _ = mouse
    other = make_video(project, name="m2.mp4")
    elsewhere = make_tracked_run(
        project=project, video=other, trajectory=make_trajectory(walk_right())
    )
    running = make_tracked_run(
        project=project, video=video, trajectory=make_trajectory(walk_right())
    )
    running.status = JobStatus.RUNNING
    running.save()
    url = f"/api/videos/{video.pk}/experiment-run/"
    for bad, words in (
        (elsewhere.pk, "No such run"),
        (running.pk, "not finished"),
        ("7", "run id"),
        (True, "run id"),
        (10**30, "run id"),
    ):
        response = api.put(url, {"run": bad}, format="json")
        assert response.status_code == 400 and words in response.json()["run"][0], bad
    assert not ExperimentRunChoice.objects.exists()


def test_viewers_see_the_choice_but_cannot_make_it(api_client_for, make_user, member_of, mouse):
    video, _, test = mouse
    viewer = api_client_for(member_of(make_user("vera"), Role.VIEWER))
    url = f"/api/videos/{video.pk}/experiment-run/"
    assert viewer.get(url).status_code == 200
    assert viewer.put(url, {"run": test.pk}, format="json").status_code == 403
    animal = f"/api/videos/{video.pk}/subject/animals/1/"
    assert viewer.get(animal).status_code == 200
    assert viewer.put(animal, {"subject_id": "X"}, format="json").status_code == 403
    stranger = api_client_for(make_user("mallory"))
    assert stranger.get(url).status_code == 404


def test_each_animal_of_a_pair_has_its_own_subject(api, project, mouse):
    video, _, test = mouse
    api.put(f"/api/videos/{video.pk}/experiment-run/", {"run": test.pk}, format="json")
    url = f"/api/videos/{video.pk}/subject/animals/2/"
    saved = api.put(url, {"subject_id": "M2", "group": "drug"}, format="json")
    assert saved.status_code == 200 and saved.json()["subject_id"] == "M2"
    df = _csv(api, project)
    assert df["subject_id"].tolist() == ["M1", "M2"]
    assert df["group"].tolist() == ["saline", "drug"]
    only_drug = api.get(f"/api/projects/{project.pk}/experiment/?group=drug").json()
    assert [r["animal"] for r in only_drug["rows"]] == [2]
    bad = api.put(f"/api/videos/{video.pk}/subject/animals/500/", {}, format="json")
    assert bad.status_code == 400 and "animal" in bad.json()


def test_a_run_chosen_for_the_table_is_not_deleted_from_under_it(api, project, mouse):
    video, real, test = mouse
    api.put(f"/api/videos/{video.pk}/experiment-run/", {"run": test.pk}, format="json")
    refused = api.delete(f"/api/tracking-runs/{test.pk}/")
    assert refused.status_code == 400
    assert "chosen for “m1.mp4” in the experiment table" in refused.content.decode()
    assert ExperimentRunChoice.objects.get(video=video).run == test
    api.put(f"/api/videos/{video.pk}/experiment-run/", {"run": None}, format="json")
    assert api.delete(f"/api/tracking-runs/{test.pk}/").status_code == 204
