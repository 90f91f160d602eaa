"""Zone parsing, checks naming the field, membership, groups and template nudges."""

from __future__ import annotations

import numpy as np
import pytest

from behavior.core.zones import (
    CircleZone,
    PolygonZone,
    RectZone,
    ZoneError,
    box_overlap_fraction,
    fit_zones,
    parse_zones,
    scale_zones,
    translate_zones,
    validate_zones,
    zone_membership,
    zones_to_json,
)

GOOD = [
    {"name": "centre", "shape": "rect", "x": 10, "y": 20, "w": 100, "h": 80},
    {"name": "object A", "shape": "circle", "cx": 300, "cy": 200, "r": 25},
    {"name": "arm", "shape": "polygon", "points": [[0, 0], [50, 0], [50, 40]], "group": "g"},
    {
        "name": "ring",
        "shape": "polygon",
        "points": [[400, 300], [600, 300], [600, 460], [400, 460]],
        "holes": [[[450, 350], [550, 350], [550, 400], [450, 400]]],
    },
]


def test_round_trip_through_the_json_format():
    zones = parse_zones(GOOD, frame_width=640, frame_height=480)
    assert [type(z) for z in zones] == [RectZone, CircleZone, PolygonZone, PolygonZone]
    assert parse_zones(zones_to_json(zones)) == zones
    assert zones_to_json(zones)[2]["group"] == "g"
    assert zones[3].geometry().area == pytest.approx(200 * 160 - 100 * 50)


def test_a_closed_ring_loses_its_repeated_point():
    (z,) = parse_zones(
        [{"name": "t", "shape": "polygon", "points": [[0, 0], [9, 0], [0, 9], [0, 0]]}]
    )
    assert len(z.points) == 3


def _bad(index, **change):
    data = [dict(z) for z in GOOD]
    data[index].update(change)
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x"}, "zones"),
        ([1], "zones[0]"),
        (_bad(0, shape="ellipse"), "zones[0].shape"),
        (_bad(0, radius=3), "zones[0].radius"),
        ([{"shape": "rect", "x": 0, "y": 0, "w": 1, "h": 1}], "zones[0].name"),
        (_bad(0, name=""), "zones[0].name"),
        (_bad(0, name="a:b"), "zones[0].name"),
        (_bad(0, name=7), "zones[0].name"),
        (_bad(1, name="CENTRE"), "zones[1].name"),  # duplicate, ignoring case
        (_bad(0, w=0), "zones[0].w"),
        (_bad(0, h=-5), "zones[0].h"),
        (_bad(0, x=float("nan")), "zones[0].x"),
        (_bad(0, y=1e12), "zones[0].y"),
        (_bad(0, x="10"), "zones[0].x"),
        (_bad(0, x=True), "zones[0].x"),
        (_bad(1, r=0), "zones[1].r"),
        (_bad(1, r=float("inf")), "zones[1].r"),
        (_bad(2, points=[[0, 0], [1, 1]]), "zones[2].points"),
        (_bad(2, points=[[0, 0], [10, 10], [10, 0], [0, 10]]), "zones[2].points"),  # bow tie
        (_bad(2, points=[[0, 0], [10, 10], [20, 20]]), "zones[2].points"),  # collinear
        (_bad(2, points=[[0, 0], [10, "a"], [20, 0]]), "zones[2].points[1]"),
        (_bad(2, points=[[0, 0], [10], [20, 0]]), "zones[2].points[1]"),
        (_bad(2, points="0,0 1,1"), "zones[2].points"),
        (_bad(2, group=""), "zones[2].group"),
        (_bad(3, holes=[[[0, 0], [5, 0], [5, 5]]]), "zones[3].holes"),  # hole outside
        (_bad(0, x=600), "zones[0].w"),  # partly outside the 640 px frame
        (_bad(0, x=-1), "zones[0].x"),
        (_bad(1, cx=630), "zones[1].r"),
        (_bad(1, cy=500), "zones[1].cy"),
        (_bad(3, points=[[400, 300], [700, 300], [600, 460], [400, 460]]), "zones[3].points[1]"),
    ],
)
def test_bad_zones_name_the_field(data, field):
    with pytest.raises(ZoneError) as exc:
        parse_zones(data, frame_width=640, frame_height=480)
    assert exc.value.field == field
    assert str(exc.value).startswith(field)


def test_zones_of_one_group_may_not_overlap_but_may_share_an_edge():
    left = RectZone("left", 0, 0, 50, 50, group="g")
    right = RectZone("right", 50, 0, 50, 50, group="g")
    validate_zones([left, right])
    with pytest.raises(ZoneError) as exc:
        validate_zones([left, RectZone("over", 40, 0, 50, 50, group="g")])
    assert exc.value.field == "zones[1]"
    validate_zones([left, RectZone("over", 40, 0, 50, 50)])  # no group: overlap allowed


def test_too_many_zones_is_refused():
    data = [{"name": f"z{i}", "shape": "rect", "x": 0, "y": 0, "w": 1, "h": 1} for i in range(101)]
    with pytest.raises(ZoneError):
        parse_zones(data)


def test_membership_is_vectorised_closed_and_nan_is_outside():
    zones = parse_zones(GOOD)
    xy = np.array([[10, 20], [110, 100], [111, 100], [300, 225], [300, 226], [np.nan, 5]])
    m = zone_membership(zones, xy)
    assert m["centre"].tolist() == [True, True, False, False, False, False]
    assert m["object A"].tolist() == [False, False, False, True, False, False]
    ring = zone_membership(zones, np.array([[500, 375], [420, 320], [450, 350]]))["ring"]
    assert ring.tolist() == [False, True, True]  # in the hole, in the ring, on the hole's edge


def test_shared_boundary_goes_to_the_first_zone_of_the_group():
    zones = [RectZone("a", 0, 0, 50, 50, group="g"), RectZone("b", 50, 0, 50, 50, group="g")]
    m = zone_membership(zones, np.array([[50.0, 10.0], [60.0, 10.0]]))
    assert m["a"].tolist() == [True, False] and m["b"].tolist() == [False, True]


def test_box_overlap_fraction_for_each_shape():
    boxes = np.array([[0, 0, 20, 20], [90, 0, 110, 20], [np.nan] * 4, [5, 5, 5, 9]])
    rect = RectZone("r", 100, 0, 100, 100)
    frac = box_overlap_fraction(rect, boxes)
    assert frac[0] == 0 and frac[1] == pytest.approx(0.5)
    assert np.isnan(frac[2]) and np.isnan(frac[3])
    poly = PolygonZone("p", ((100, 0), (200, 0), (200, 100), (100, 100)))
    np.testing.assert_allclose(box_overlap_fraction(poly, boxes[:2]), frac[:2])
    disc = CircleZone("c", 100, 10, 1000)
    assert box_overlap_fraction(disc, boxes[:1])[0] == pytest.approx(1.0)


def test_box_membership_falls_back_to_the_centre_without_a_box():
    zone = RectZone("r", 100, 0, 100, 100)
    xy = np.array([[95.0, 10.0], [150.0, 10.0]])
    boxes = np.array([[92, 0, 112, 20], [np.nan] * 4])  # 60 % inside; no box
    m = zone_membership([zone], xy, boxes_xyxy=boxes, mode="box")["r"]
    assert m.tolist() == [True, True]


def test_translate_and_scale_a_template():
    zones = parse_zones(GOOD[:3])
    moved = translate_zones(zones, 5, -3)
    assert moved[0] == RectZone("centre", 15, 17, 100, 80)
    assert moved[1].cx == 305 and moved[1].r == 25
    assert moved[2].group == "g"
    scaled = scale_zones(zones, 2.0, 0.5, origin=(10, 20))
    assert scaled[0] == RectZone("centre", 10, 20, 200, 40)
    assert scaled[1].r == pytest.approx(25.0)  # sqrt(2 * 0.5)
    assert scaled[2].points[1] == (90.0, 10.0)


def test_fit_a_template_onto_a_moved_arena():
    template = [RectZone("centre", 25, 25, 50, 50)]
    (fitted,) = fit_zones(
        template, {"x": 0, "y": 0, "w": 100, "h": 100}, {"x": 10, "y": 20, "w": 200, "h": 100}
    )
    assert fitted == RectZone("centre", 60, 45, 100, 50)
    with pytest.raises(ValueError, match="target.w"):
        fit_zones(template, {"x": 0, "y": 0, "w": 100, "h": 100}, {"x": 0, "y": 0, "w": 0, "h": 1})
