"""``manage.py analyze``: the JSON shape scripts rely on, the values of a constructed run,
zones and calibration from the command line, and clear errors."""

from __future__ import annotations

import io
import json

import pytest

from django.core.management import CommandError, call_command

from behavior.arenas.services import arena_setup_save
from tests.tracking.run_helpers import (
    ARENA_CM,
    OPEN_FIELD,
    make_tracked_run,
    make_trajectory,
    make_video,
    walk_right,
)

pytestmark = pytest.mark.django_db

ANIMAL_KEYS = {
    "animal",
    "distance",
    "mean_speed",
    "time_moving_s",
    "time_immobile_s",
    "zones",
    "bins",
}
ZONE_KEYS = {"time_s", "entries", "exits", "latency_s", "distance"}


@pytest.fixture
def run(project):
    video = make_video(project)
    return make_tracked_run(project=project, video=video, trajectory=make_trajectory(walk_right()))


def analyze(*args: str) -> dict:
    out = io.StringIO()
    call_command("analyze", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_json_shape_with_the_videos_arena(run):
    arena_setup_save(video=run.video, calibration="arena", arena=ARENA_CM, **OPEN_FIELD)
    result = analyze("--run", str(run.pk), "--bins", "5")
    assert {"run", "units", "fps", "animals"} <= set(result)
    assert result["run"] == run.pk and result["units"] == "cm"
    assert result["fps"] == pytest.approx(30.0)
    (animal,) = result["animals"]
    assert ANIMAL_KEYS <= set(animal)
    assert set(animal["zones"]) == {"centre", "periphery"}
    for zone in animal["zones"].values():
        assert ZONE_KEYS <= set(zone)
    assert animal["distance"] == pytest.approx(29.9)
    assert animal["zones"]["centre"]["latency_s"] == pytest.approx(100 / 30)
    assert len(animal["bins"]) == 2
    assert ANIMAL_KEYS - {"animal", "bins"} <= set(animal["bins"][0])


def test_zones_and_calibration_from_the_command_line(run, tmp_path):
    zones = tmp_path / "ZONES.json"
    zones.write_text(
        json.dumps(
            {"zones": [{"name": "left", "shape": "rect", "x": 0, "y": 0, "w": 200, "h": 480}]}
        )
    )
    result = analyze("--run", str(run.pk), "--zones", str(zones), "--px-per-cm", "2")
    (animal,) = result["animals"]
    assert result["units"] == "cm" and animal["distance"] == pytest.approx(149.5)
    left = animal["zones"]["left"]
    assert left["exits"] == 1 and left["time_s"] == pytest.approx(101 / 30)
    assert analyze("--run", str(run.pk))["units"] == "px"  # no arena stored, no calibration


def test_the_table_without_json(run):
    out = io.StringIO()
    call_command("analyze", "--run", str(run.pk), stdout=out)
    assert "Animal 1: distance 299.0 px" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--run", "999999"], "No tracking run with id 999999"),
        (["--end", "60"], "end_s: 60 s is past the end of the recording"),
        (["--px-per-cm", "-3"], "px_per_cm: must be > 0"),
        (["--px-per-cm", "nan"], "px_per_cm: must be finite"),
        (["--bins", "0"], "bin_s: must be at least 0.5 s"),
        (["--zones", "/nonexistent/ZONES.json"], "--zones: cannot read"),
    ],
)
def test_bad_input_is_a_clear_command_error(run, args, words):
    if args[0] != "--run":
        args = ["--run", str(run.pk), *args]
    with pytest.raises(CommandError) as exc:
        call_command("analyze", *args, "--json", stdout=io.StringIO())
    assert words in str(exc.value)


def test_bad_zone_files_name_the_zone(run, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "x", "shape": "rect", "x": 0, "y": 0, "w": 9000, "h": 5}]')
    with pytest.raises(CommandError, match=r"zones\[0\]\.w"):
        call_command("analyze", "--run", str(run.pk), "--zones", str(bad), stdout=io.StringIO())
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("analyze", "--run", str(run.pk), "--zones", str(broken), stdout=io.StringIO())
