"""Assay presets really partition their apparatus; calibration from a ruler or an arena."""

from __future__ import annotations

import math

import pytest
import shapely

from behavior.core import BehaviorInputError
from behavior.core.calibration import (
    Calibration,
    calibration_from_arena,
    calibration_from_ruler,
)
from behavior.core.presets import (
    elevated_plus_maze,
    light_dark_box,
    novel_object_recognition,
    open_field,
)
from behavior.core.zones import CircleZone, PolygonZone, RectZone, parse_zones, zones_to_json

ARENA = RectZone("arena", 100, 50, 400, 300)
TILTED = PolygonZone("arena", ((120, 40), (500, 80), (480, 380), (90, 340)))


def assert_partition(zones, region):
    geoms = [z.geometry() for z in zones]
    assert sum(g.area for g in geoms) == pytest.approx(region.area, rel=1e-9)
    assert shapely.union_all(geoms).symmetric_difference(region).area == pytest.approx(
        0, abs=1e-6 * region.area
    )
    for i, a in enumerate(geoms):
        for b in geoms[i + 1 :]:
            assert a.intersection(b).area == pytest.approx(0, abs=1e-9 * region.area)
    assert len({z.group for z in zones}) == 1 and zones[0].group


@pytest.mark.parametrize("outline", [ARENA, TILTED], ids=["rect", "tilted quad"])
def test_open_field_centre_is_a_quarter_and_periphery_the_rest(outline):
    zones = open_field(outline)
    assert [z.name for z in zones] == ["centre", "periphery"]
    assert_partition(zones, outline.geometry())
    if outline is ARENA:
        assert zones[0] == RectZone("centre", 200, 125, 200, 150, group="open_field")
        assert zones[0].geometry().area / ARENA.geometry().area == pytest.approx(0.25)
    assert parse_zones(zones_to_json(zones)) == zones  # periphery's hole round-trips


def test_open_field_side_fraction_is_configurable_and_checked():
    zones = open_field(ARENA, side_fraction=0.6)
    assert zones[0].geometry().area / ARENA.geometry().area == pytest.approx(0.36)
    for bad in (0, 1, 1.5, float("nan")):
        with pytest.raises(BehaviorInputError) as exc:
            open_field(ARENA, side_fraction=bad)
        assert exc.value.field == "side_fraction"


def test_open_field_on_a_circle_and_a_hexagon():
    circle = CircleZone("arena", 300, 240, 200)
    zones = open_field(circle)
    region = shapely.union_all([z.geometry() for z in zones])
    assert region.area == pytest.approx(math.pi * 200**2, rel=1e-3)
    assert_partition(zones, region)
    hexagon = PolygonZone(
        "arena", tuple((300 + 100 * math.cos(a), 200 + 100 * math.sin(a)) for a in range(0, 6))
    )
    assert_partition(open_field(hexagon), hexagon.geometry())


def test_elevated_plus_maze_partitions_the_cross():
    zones = elevated_plus_maze(ARENA, arm_width=50)
    names = [z.name for z in zones]
    assert names == ["centre", "open_arm_1", "open_arm_2", "closed_arm_1", "closed_arm_2"]
    centre = zones[0].geometry()
    assert centre.area == pytest.approx(50 * 50)
    cross = shapely.union_all([shapely.box(100, 175, 500, 225), shapely.box(275, 50, 325, 350)])
    assert_partition(zones, cross)
    assert zones[1].geometry().bounds == (100, 175, 275, 225)  # open arms run horizontally
    vertical = elevated_plus_maze(ARENA, arm_width=50, open_axis="vertical")
    assert vertical[1].geometry().bounds == (275, 50, 325, 175)


def test_elevated_plus_maze_on_a_tilted_outline_is_still_a_partition():
    zones = elevated_plus_maze(TILTED, arm_width=40)
    assert_partition(zones, shapely.union_all([z.geometry() for z in zones]))
    assert all(TILTED.geometry().buffer(1e-6).contains(z.geometry()) for z in zones)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"arm_width": 0}, "arm_width"),
        ({"arm_width": 300}, "arm_width"),
        ({"arm_width": 50, "open_axis": "diagonal"}, "open_axis"),
    ],
)
def test_elevated_plus_maze_bad_input_names_the_field(kwargs, field):
    with pytest.raises(BehaviorInputError) as exc:
        elevated_plus_maze(ARENA, **kwargs)
    assert exc.value.field == field


def test_a_bad_outline_names_the_outline_field():
    with pytest.raises(BehaviorInputError) as exc:
        open_field(RectZone("arena", 0, 0, 0, 10))
    assert exc.value.field == "outline.w"


def test_a_concave_quad_outline_is_refused():
    dart = PolygonZone("arena", ((0, 0), (100, 50), (0, 100), (30, 50)))
    with pytest.raises(BehaviorInputError) as exc:
        elevated_plus_maze(dart, arm_width=10)
    assert exc.value.field == "outline"


@pytest.mark.parametrize(
    ("side", "light_bounds"),
    [
        ("left", (100, 50, 300, 350)),
        ("right", (300, 50, 500, 350)),
        ("top", (100, 50, 500, 200)),
        ("bottom", (100, 200, 500, 350)),
    ],
)
def test_light_dark_box_halves(side, light_bounds):
    zones = light_dark_box(ARENA, light_side=side)
    assert zones[0].name == "light" and zones[0].geometry().bounds == light_bounds
    assert_partition(zones, ARENA.geometry())


def test_light_dark_box_two_thirds_light_and_bad_side():
    zones = light_dark_box(TILTED, light_fraction=2 / 3)
    assert_partition(zones, TILTED.geometry())
    with pytest.raises(BehaviorInputError) as exc:
        light_dark_box(ARENA, light_side="north")
    assert exc.value.field == "light_side"


def test_novel_object_zones():
    zones = novel_object_recognition({"familiar": (150, 150), "novel": (450, 150)}, radius=30)
    assert zones == [CircleZone("familiar", 150, 150, 30), CircleZone("novel", 450, 150, 30)]
    assert [z.name for z in novel_object_recognition([(100, 100)], radius=5)] == ["object_1"]
    with pytest.raises(BehaviorInputError) as exc:
        novel_object_recognition([(100, 100), (5, float("nan"))], radius=5)
    assert exc.value.field == "objects[1]"
    with pytest.raises(BehaviorInputError) as exc:
        novel_object_recognition([(10, 10)], radius=30, frame_width=640, frame_height=480)
    assert exc.value.field == "objects[0]"


# --- calibration -------------------------------------------------------------------------
def test_ruler_calibration():
    cal = calibration_from_ruler(x1=10, y1=10, x2=310, y2=410, length_cm=50)
    assert cal.px_per_cm == pytest.approx(10.0)
    assert cal.units == "cm" and cal.length(250) == pytest.approx(25)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"x2": 10, "y2": 10}, "ruler.x2"),  # zero length
        ({"x2": 13, "y2": 13}, "ruler.x2"),  # < 10 px
        ({"length_cm": 0}, "ruler.length_cm"),
        ({"length_cm": -3}, "ruler.length_cm"),
        ({"length_cm": float("nan")}, "ruler.length_cm"),
        ({"length_cm": float("inf")}, "ruler.length_cm"),
        ({"length_cm": 1e9}, "ruler.length_cm"),
        ({"x1": float("nan")}, "ruler.x1"),
        ({"y1": 1e300}, "ruler.y1"),
        ({"y2": "300"}, "ruler.y2"),
    ],
)
def test_bad_ruler_names_the_field(kwargs, field):
    args = {"x1": 10, "y1": 10, "x2": 310, "y2": 410, "length_cm": 50, **kwargs}
    with pytest.raises(BehaviorInputError) as exc:
        calibration_from_ruler(**args)
    assert exc.value.field == field


def test_arena_calibration_from_rect_quad_and_circle():
    assert calibration_from_arena(outline=ARENA, width_cm=40, height_cm=30).px_per_cm == 10
    square = PolygonZone("a", ((0, 0), (100, 0), (100, 100), (0, 100)))
    assert calibration_from_arena(outline=square, width_cm=50, height_cm=50).px_per_cm == 2
    disc = CircleZone("a", 300, 200, 150)
    assert calibration_from_arena(outline=disc, width_cm=60, height_cm=60).px_per_cm == 5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"width_cm": 30, "height_cm": 40}, "arena.height_cm"),  # swapped
        ({"width_cm": 0}, "arena.width_cm"),
        ({"height_cm": float("nan")}, "arena.height_cm"),
        ({"outline": PolygonZone("a", ((0, 0), (50, 0), (0, 50)))}, "arena.outline"),
    ],
)
def test_bad_arena_calibration_names_the_field(kwargs, field):
    args = {"outline": ARENA, "width_cm": 40, "height_cm": 30, **kwargs}
    with pytest.raises(BehaviorInputError) as exc:
        calibration_from_arena(**args)
    assert exc.value.field == field


def test_uncalibrated_is_pixels_and_a_bad_scale_is_refused():
    assert Calibration().units == "px" and Calibration().length(7.0) == 7.0
    with pytest.raises(BehaviorInputError) as exc:
        Calibration(px_per_cm=0)
    assert exc.value.field == "px_per_cm"
