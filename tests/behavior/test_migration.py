"""The behaviour models moved from the tracking app to their own app without touching the
database: a database migrated to the state before the move, with rows in every behaviour
table, keeps those rows after migrating forward, readable through the behaviour app."""

from __future__ import annotations

import pytest

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.training.helpers import fake_model, make_frames

# The last state with the behaviour models in the tracking app (the behaviour app unborn).
BEFORE_MOVE = [("tracking", "0001_initial"), ("behavior", None)]
MOVED = {
    "ArenaTemplate": "tracking_arenatemplate",
    "ArenaSetup": "tracking_arenasetup",
    "SubjectInfo": "tracking_subjectinfo",
    "AnalysisSettings": "tracking_analysissettings",
    "AnimalSubject": "tracking_animalsubject",
    "ExperimentRunChoice": "tracking_experimentrunchoice",
    "FreezingJob": "tracking_freezingjob",
}
ZONES = [{"name": "centre", "shape": "rect", "x": 10, "y": 20, "w": 100, "h": 80}]


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader sees what is applied now


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_move_are_kept_and_read_by_the_behaviour_app(owner, project):
    from tracking.models import TrackingRun

    # What the behaviour rows refer to (tables the move does not concern).
    video = make_frames(project, splits=["train"])[0].video
    run = TrackingRun.objects.create(
        project=project, model=fake_model(project), video=video, model_sha256="0", n_animals=2
    )
    permission_type = ContentType.objects.get(app_label="behavior", model="arenasetup").pk

    executor = _migrate(BEFORE_MOVE)
    old = executor.loader.project_state(("tracking", "0001_initial")).apps
    assert "behavior" not in {config.label for config in old.get_app_configs()}
    assert ContentType.objects.filter(app_label="tracking", model="arenasetup").exists()

    template = old.get_model("tracking", "ArenaTemplate").objects.create(
        project_id=project.pk, name="box A", frame_width=640, frame_height=480, zones=ZONES
    )
    old.get_model("tracking", "ArenaSetup").objects.create(
        video_id=video.pk,
        template_id=template.pk,
        calibration_method="ruler",
        ruler={"x1": 0, "y1": 0, "x2": 40, "y2": 0, "length_cm": 10},
        px_per_cm=4.0,
        zones=ZONES,
        nudge={"dx": 2, "dy": -1, "scale": 1.0},
    )
    old.get_model("tracking", "SubjectInfo").objects.create(
        video_id=video.pk, subject_id="M1", group="control", session="day 1"
    )
    old.get_model("tracking", "AnalysisSettings").objects.create(
        project_id=project.pk, bin_s=60.0, min_bout_s=0.5, smoothing="median"
    )
    old.get_model("tracking", "AnimalSubject").objects.create(
        video_id=video.pk, animal=2, subject_id="M2", group="treated"
    )
    old.get_model("tracking", "ExperimentRunChoice").objects.create(
        video_id=video.pk, run_id=run.pk, chosen_by_id=owner.pk
    )
    job = old.get_model("tracking", "FreezingJob").objects.create(
        run_id=run.pk,
        key="k" * 64,
        params={"motion_cutoff": 10.0, "dilate_px": 4, "sigma": 1.0},
        status="succeeded",
        progress=1.0,
        motion=f"tracking/{project.pk}/{run.pk}/motion-1.npy",
    )

    executor = _migrate(executor.loader.graph.leaf_nodes())
    assert not executor.migration_plan(executor.loader.graph.leaf_nodes())  # all applied

    from behavior.models import (
        AnalysisSettings,
        AnimalSubject,
        ArenaSetup,
        ArenaTemplate,
        ExperimentRunChoice,
        FreezingJob,
        SubjectInfo,
    )

    # Same tables, no new ones.
    tables = connection.introspection.table_names()
    for name, table in MOVED.items():
        model = locals()[name]
        assert model._meta.app_label == "behavior"
        assert model._meta.db_table == table and table in tables
    assert not [t for t in tables if t.startswith("behavior_")]

    # Every row, through the new models and the reverse accessors the code uses.
    video.refresh_from_db()
    setup = ArenaSetup.objects.get(video=video)
    assert setup.template == ArenaTemplate.objects.get(project=project, name="box A")
    assert (setup.px_per_cm, setup.zones) == (4.0, ZONES)
    assert setup.nudge == {"dx": 2, "dy": -1, "scale": 1.0}
    assert setup.arena_dict()["calibration"] == "ruler"
    assert video.arena_setup == setup
    assert video.subject_info == SubjectInfo.objects.get(subject_id="M1", group="control")
    settings_row = AnalysisSettings.objects.get(project=project)
    assert (settings_row.bin_s, settings_row.min_bout_s, settings_row.smoothing) == (
        60.0,
        0.5,
        "median",
    )
    assert list(video.animal_subjects.values_list("animal", "subject_id")) == [(2, "M2")]
    assert ExperimentRunChoice.objects.get(video=video).run_id == run.pk
    assert video.experiment_run.chosen_by == owner
    freezing = run.freezing_jobs.get()
    assert freezing == FreezingJob.objects.get(pk=job.pk)
    assert (freezing.status, freezing.params["motion_cutoff"]) == ("succeeded", 10.0)
    assert freezing.motion.name == f"tracking/{project.pk}/{run.pk}/motion-1.npy"
    assert AnimalSubject.objects.count() == 1

    # The content type (and so any permission granted on it) followed the model.
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(ArenaSetup).pk == permission_type
    assert not ContentType.objects.filter(app_label="tracking", model="arenasetup").exists()
