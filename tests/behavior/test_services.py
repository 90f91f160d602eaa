"""Behaviour services: arenas validated by the core (errors name the field, nothing is
stored), templates moved onto videos, and measures of constructed runs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from django.core.exceptions import ValidationError

from behavior.analysis.runs import run_analysis
from behavior.arenas.services import (
    arena_setup_save,
    arena_template_apply,
    arena_template_create,
)
from behavior.experiment.services import analysis_settings_save, subject_info_save
from behavior.models import AnalysisSettings, ArenaSetup, ArenaTemplate
from tests.tracking.run_helpers import (
    ARENA_CM,
    OPEN_FIELD,
    OUTLINE,
    make_tracked_run,
    make_trajectory,
    make_video,
    sit_still,
    walk_right,
)
from tracking.models import TrackingEdit

pytestmark = pytest.mark.django_db

SQUARE = {"name": "box", "shape": "rect", "x": 10, "y": 10, "w": 50, "h": 50}
BOWTIE = {"name": "bowtie", "shape": "polygon", "points": [[0, 0], [100, 100], [100, 0], [0, 100]]}


def field_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


@pytest.fixture
def video(project):
    return make_video(project)


# --- validation -------------------------------------------------------------------------
def test_a_self_intersecting_polygon_is_refused_naming_its_points(video):
    with pytest.raises(ValidationError) as exc:
        arena_setup_save(video=video, zones=[SQUARE, BOWTIE])
    assert "zones[1].points" in field_of(exc)
    assert "simple polygon" in field_of(exc)["zones[1].points"][0]
    assert not ArenaSetup.objects.exists()


def test_a_refused_save_leaves_the_previous_arena_as_it_was(video):
    arena_setup_save(video=video, zones=[SQUARE])
    with pytest.raises(ValidationError):
        arena_setup_save(video=video, zones=[SQUARE, BOWTIE], ruler={"x1": 0})
    assert ArenaSetup.objects.get(video=video).zones[0]["name"] == "box"


@pytest.mark.parametrize(
    ("zone", "field"),
    [
        ({"name": "z", "shape": "rect", "x": 600, "y": 10, "w": 100, "h": 50}, "zones[0].w"),
        ({"name": "z", "shape": "rect", "x": -5, "y": 10, "w": 10, "h": 50}, "zones[0].x"),
        ({"name": "z", "shape": "circle", "cx": 630, "cy": 240, "r": 30}, "zones[0].r"),
        (
            {"name": "z", "shape": "polygon", "points": [[0, 0], [700, 0], [0, 10]]},
            "zones[0].points[1]",
        ),
        ({"name": "z", "shape": "rect", "x": float("nan"), "y": 0, "w": 5, "h": 5}, "zones[0].x"),
        ({"name": "z", "shape": "rect", "x": 1e300, "y": 0, "w": 5, "h": 5}, "zones[0].x"),
        ({"name": "z", "shape": "circle", "cx": 100, "cy": 100, "radius": 5}, "zones[0].radius"),
        ({"name": "a:b", "shape": "rect", "x": 0, "y": 0, "w": 5, "h": 5}, "zones[0].name"),
    ],
)
def test_zones_off_the_frame_or_with_bad_numbers_name_the_field(video, zone, field):
    with pytest.raises(ValidationError) as exc:
        arena_setup_save(video=video, zones=[zone])
    assert field in field_of(exc), field_of(exc)
    assert not ArenaSetup.objects.exists()


@pytest.mark.parametrize(
    ("ruler", "field"),
    [
        ({"x1": 100, "y1": 100, "x2": 100, "y2": 100, "length_cm": 40}, "ruler.x2"),
        ({"x1": 100, "y1": 100, "x2": 500, "y2": 100, "length_cm": 0}, "ruler.length_cm"),
        (
            {"x1": 100, "y1": 100, "x2": 500, "y2": 100, "length_cm": float("nan")},
            "ruler.length_cm",
        ),
        ({"x1": 100, "y1": 100, "x2": 500, "y2": 100, "length_cm": 1e9}, "ruler.length_cm"),
        ({"x1": 1e12, "y1": 100, "x2": 500, "y2": 100, "length_cm": 40}, "ruler.x1"),
        ({"x1": 100, "y1": 100, "x2": 900, "y2": 100, "length_cm": 40}, "ruler.x2"),
        ({"x1": 100, "y1": 100, "x2": 500, "y2": 100}, "ruler.length_cm"),
        ({"x1": "100", "y1": 100, "x2": 500, "y2": 100, "length_cm": 40}, "ruler.x1"),
    ],
)
def test_bad_rulers_name_the_field(video, ruler, field):
    with pytest.raises(ValidationError) as exc:
        arena_setup_save(video=video, calibration="ruler", ruler=ruler)
    assert field in field_of(exc), field_of(exc)
    assert not ArenaSetup.objects.exists()


def test_a_ruler_gives_pixels_per_cm(video):
    setup = arena_setup_save(
        video=video, ruler={"x1": 100, "y1": 200, "x2": 500, "y2": 200, "length_cm": 40}
    )
    assert setup.calibration_method == "ruler"
    assert setup.px_per_cm == pytest.approx(10.0)


def test_the_arena_outline_and_real_size_give_pixels_per_cm(video):
    setup = arena_setup_save(video=video, calibration="arena", arena=ARENA_CM)
    assert setup.px_per_cm == pytest.approx(10.0)
    with pytest.raises(ValidationError) as exc:
        arena_setup_save(
            video=video, calibration="arena", arena={**ARENA_CM, "width_cm": 40, "height_cm": 48}
        )
    assert "arena.height_cm" in field_of(exc)  # width and height swapped


def test_the_open_field_preset_makes_centre_and_periphery_and_is_recorded(video):
    setup = arena_setup_save(video=video, **OPEN_FIELD)
    names = [z["name"] for z in setup.zones]
    assert names == ["centre", "periphery"]
    assert setup.zones[0] == {
        "name": "centre",
        "shape": "rect",
        "x": 200.0,
        "y": 140.0,
        "w": 240.0,
        "h": 200.0,
        "group": "open_field",
    }
    assert setup.preset == "open_field"
    assert setup.preset_params["outline"]["w"] == 480


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"outline": OUTLINE, "side_fraction": 1.5}, "preset_params.side_fraction"),
        ({"outline": {**OUTLINE, "w": 700}}, "preset_params.outline.w"),
        ({}, "preset_params.outline"),
        ({"outline": OUTLINE, "sides": 3}, "preset_params.sides"),
    ],
)
def test_bad_preset_parameters_name_the_field(video, params, field):
    with pytest.raises(ValidationError) as exc:
        arena_setup_save(video=video, preset="open_field", preset_params=params)
    assert field in field_of(exc), field_of(exc)


def test_the_plus_maze_preset_measures_open_and_closed_arms_as_unions(video):
    setup = arena_setup_save(
        video=video,
        preset="elevated_plus_maze",
        preset_params={"outline": OUTLINE, "arm_width": 40},
    )
    assert set(setup.unions) == {"open_arms", "closed_arms"}
    assert len(setup.zones) == 5


# --- templates ----------------------------------------------------------------------------
def test_a_template_is_moved_by_each_videos_nudge(project, video):
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    template = arena_template_create(project=project, name="OF box 1", from_video=video)
    other = make_video(project, name="mouse-2.mp4")
    setups = arena_template_apply(
        template=template, videos=[other], nudge={other.pk: {"dx": 10, "dy": -5}}
    )
    centre = setups[0].zones[0]
    assert (centre["x"], centre["y"], centre["w"]) == (210.0, 135.0, 240.0)
    assert setups[0].template == template and setups[0].nudge == {"dx": 10, "dy": -5, "scale": 1}
    assert setups[0].px_per_cm == pytest.approx(10.0)


def test_a_template_scaled_about_the_arena_centre_scales_the_calibration(project, video):
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    template = arena_template_create(project=project, name="OF", from_video=video)
    (setup,) = arena_template_apply(
        template=template, videos=[video], nudge={video.pk: {"scale": 0.5}}
    )
    centre = setup.zones[0]
    # The arena centre (320, 240) stays put; the centre square halves.
    assert (centre["x"], centre["y"], centre["w"], centre["h"]) == (260.0, 190.0, 120.0, 100.0)
    assert setup.px_per_cm == pytest.approx(5.0)


def test_a_template_follows_a_video_recorded_at_another_resolution(project, video):
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    template = arena_template_create(project=project, name="OF", from_video=video)
    big = make_video(project, name="hd.mp4", width=1280, height=960)
    (setup,) = arena_template_apply(template=template, videos=[big])
    assert setup.zones[0]["x"] == pytest.approx(400.0)
    assert setup.px_per_cm == pytest.approx(20.0)
    wide = make_video(project, name="wide.mp4", width=1280, height=720)
    with pytest.raises(ValidationError) as exc:
        arena_template_apply(template=template, videos=[wide])
    assert "videos[0]" in field_of(exc)


def test_applying_a_template_is_all_or_nothing(project, video):
    arena_setup_save(video=video, **OPEN_FIELD)
    template = arena_template_create(project=project, name="OF", from_video=video)
    a = make_video(project, name="a.mp4")
    b = make_video(project, name="b.mp4")
    with pytest.raises(ValidationError) as exc:
        arena_template_apply(template=template, videos=[a, b], nudge={b.pk: {"dx": 200}})
    # The moved outline is checked first: it reaches past the frame.
    assert list(field_of(exc)) == ["videos[1].preset_params.outline.w"], field_of(exc)
    assert not ArenaSetup.objects.filter(video__in=[a, b]).exists()
    with pytest.raises(ValidationError) as exc:
        arena_template_apply(template=template, videos=[a], nudge={a.pk: {"scale": float("inf")}})
    assert "videos[0].scale" in field_of(exc)


def test_template_names_are_unique_per_project(project, video):
    arena_setup_save(video=video, zones=[SQUARE])
    arena_template_create(project=project, name="Box", from_video=video)
    with pytest.raises(ValidationError) as exc:
        arena_template_create(project=project, name=" box ", from_video=video)
    assert "name" in field_of(exc)
    assert ArenaTemplate.objects.count() == 1


# --- measures -------------------------------------------------------------------------------
@pytest.fixture
def walking_run(project, video):
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    return make_tracked_run(project=project, video=video, trajectory=make_trajectory(walk_right()))


def test_measures_of_a_constructed_walk(walking_run):
    out = run_analysis(run=walking_run)
    assert out["units"] == "cm" and out["fps"] == pytest.approx(30.0)
    (animal,) = out["animals"]
    assert animal["distance"] == pytest.approx(29.9)  # 299 px at 10 px/cm
    assert animal["mean_speed"] == pytest.approx(2.99)
    assert animal["time_moving_s"] == pytest.approx(10.0)
    centre = animal["zones"]["centre"]
    assert centre["entries"] == 1 and centre["exits"] == 0
    assert centre["latency_s"] == pytest.approx(100 / 30)
    assert centre["time_s"] == pytest.approx(200 / 30)
    periphery = animal["zones"]["periphery"]
    assert periphery["exits"] == 1 and periphery["entries"] == 0  # started inside: no entry
    assert out["parameters"]["px_per_cm"] == pytest.approx(10.0)


def test_time_bins_sum_to_the_whole_window(walking_run):
    out = run_analysis(run=walking_run, params={"bin_s": "2.5"})
    bins = out["animals"][0]["bins"]
    assert [b["start_s"] for b in bins] == pytest.approx([0, 2.5, 5, 7.5])
    assert sum(b["distance"] for b in bins) == pytest.approx(out["animals"][0]["distance"])
    assert sum(b["zones"]["centre"]["entries"] for b in bins) == 1
    assert out["parameters"]["bin_s"] == 2.5


def test_an_animal_sitting_still_is_immobile(project, video):
    run = make_tracked_run(project=project, video=video, trajectory=make_trajectory(sit_still()))
    (animal,) = run_analysis(run=run)["animals"]
    assert animal["distance"] == 0 and animal["time_immobile_s"] == pytest.approx(10.0)
    assert out_units(run) == "px"


def out_units(run) -> str:
    return run_analysis(run=run)["units"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end_s": "60"}, "end_s"),  # the recording is 10 s
        ({"start_s": "nan"}, "start_s"),
        ({"start_s": "1e999"}, "start_s"),
        ({"start_s": "5", "end_s": "2"}, "end_s"),
        ({"bin_s": "-1"}, "bin_s"),
        ({"bin_s": "0.0001"}, "bin_s"),
        ({"bin_s": "often"}, "bin_s"),
        ({"max_gap_s": "0"}, "max_gap_s"),
        ({"smoothing": "gaussian"}, "smoothing"),
        ({"smoothing": "median", "smoothing_window": "4"}, "smoothing_window"),
        ({"count_initial_entry": "maybe"}, "count_initial_entry"),
        ({"membership": "box", "box_overlap": "2"}, "box_overlap"),
        ({"windows": "1"}, "windows"),
    ],
)
def test_bad_analysis_parameters_name_the_field(walking_run, params, field):
    with pytest.raises(ValidationError) as exc:
        run_analysis(run=walking_run, params=params)
    assert field in field_of(exc), field_of(exc)


def test_the_projects_settings_are_the_defaults_and_a_request_overrides_them(project, walking_run):
    analysis_settings_save(project=project, end_s=5, bin_s=None, count_initial_entry=True)
    out = run_analysis(run=walking_run)
    assert out["parameters"]["window_end_s"] == 5.0
    assert out["animals"][0]["zones"]["periphery"]["entries"] == 1  # start position counted
    assert run_analysis(run=walking_run, params={"end_s": ""})["parameters"]["window_end_s"] == 10
    for bad, field in (
        ({"min_immobile_s": -1}, "min_immobile_s"),
        ({"savgol_polyorder": -5}, "savgol_polyorder"),
        ({"smoothing_window": 10**20}, "smoothing_window"),
        ({"bin_s": 1e9}, "bin_s"),
    ):
        with pytest.raises(ValidationError) as exc:
            analysis_settings_save(project=project, **bad)
        assert field in field_of(exc)
    assert AnalysisSettings.objects.get(project=project).min_immobile_s == 1.0


def test_identity_edits_change_the_results_and_reverting_restores_them(project, video):
    arena_setup_save(video=video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    centres = np.stack([walk_right(), sit_still()], axis=1)
    run = make_tracked_run(project=project, video=video, trajectory=make_trajectory(centres))
    before = run_analysis(run=run)
    assert [a["distance"] for a in before["animals"]] == pytest.approx([29.9, 0.0])
    edit = TrackingEdit.objects.create(run=run, animal_a=1, animal_b=2, from_frame=0)
    swapped = run_analysis(run=run)
    assert [a["distance"] for a in swapped["animals"]] == pytest.approx([0.0, 29.9])
    edit.reverted_at = edit.created_at
    edit.save()
    assert run_analysis(run=run) == before


def test_a_run_without_a_trajectory_cannot_be_analysed(walking_run):
    walking_run.status = "running"
    with pytest.raises(ValidationError) as exc:
        run_analysis(run=walking_run)
    assert "run" in field_of(exc)


def test_zones_and_calibration_can_be_given_instead_of_the_arena(walking_run):
    out = run_analysis(run=walking_run, zones=[SQUARE], px_per_cm=2)
    assert list(out["animals"][0]["zones"]) == ["box"]
    assert out["animals"][0]["distance"] == pytest.approx(149.5)
    with pytest.raises(ValidationError) as exc:
        run_analysis(run=walking_run, px_per_cm=math.inf)
    assert "px_per_cm" in field_of(exc)


def test_subject_fields_are_bounded(video):
    subject_info_save(video=video, subject_id="M1", group="saline", notes="line 1\nline 2")
    with pytest.raises(ValidationError) as exc:
        subject_info_save(video=video, group="x" * 101)
    assert "group" in field_of(exc)
