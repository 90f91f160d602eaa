"""Assay presets: the standard zones of an assay built from the arena outline the user drags.

``outline`` is a :class:`~.zones.RectZone` or a 4-corner :class:`~.zones.PolygonZone`
(corners in order: top-left, top-right, bottom-right, bottom-left *of the apparatus*, so a
maze filmed at an angle still works). Directions below ("left", "horizontal") are in the
apparatus' own frame: "horizontal" runs along the first edge (corner 0 → corner 1).
Internally a point ``(u, v)`` of the unit square maps to the outline bilinearly; lines of
constant ``u`` or ``v`` stay straight, so zones cut along them tile the outline exactly.
A rect outline gives rect zones, a polygon outline polygon zones.

Zones of one preset that partition the apparatus share a ``group`` (see :mod:`.zones`), so
time in them sums to the tracked time inside the apparatus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import shapely
import shapely.affinity

from .errors import BehaviorInputError, finite_number, positive_number
from .zones import CircleZone, PolygonZone, RectZone, Zone, ZoneError, check_zone, validate_zones

# Measures for unions of zones the preset returns (see measures.AnalysisParams.unions).
EPM_UNIONS: dict[str, list[str]] = {
    "open_arms": ["open_arm_1", "open_arm_2"],
    "closed_arms": ["closed_arm_1", "closed_arm_2"],
}
# A circular open field becomes a polygon of this many vertices (area error ~0.04 %), so
# centre and periphery share exactly the same boundary.
CIRCLE_VERTICES = 128


class _Quad:
    """Bilinear map of the unit square onto an outline's four corners."""

    def __init__(self, outline: Zone, field: str) -> None:
        if isinstance(outline, RectZone):
            x, y, w, h = outline.x, outline.y, outline.w, outline.h
            corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
            self.is_rect = True
        elif isinstance(outline, PolygonZone) and len(outline.points) == 4 and not outline.holes:
            corners = list(outline.points)
            self.is_rect = False
        else:
            raise BehaviorInputError(field, "must be a rect or a 4-corner polygon")
        check_zone(outline, field)
        if not self.is_rect:
            geom = outline.geometry()
            if geom.convex_hull.area - geom.area > 1e-9 * geom.area:
                raise BehaviorInputError(field, "the 4 corners must make a convex outline")
        self.c = np.asarray(corners, dtype=np.float64)
        self.width = (_norm(self.c[1] - self.c[0]) + _norm(self.c[2] - self.c[3])) / 2
        self.height = (_norm(self.c[3] - self.c[0]) + _norm(self.c[2] - self.c[1])) / 2

    def point(self, u: float, v: float) -> tuple[float, float]:
        c = self.c
        p = (1 - u) * (1 - v) * c[0] + u * (1 - v) * c[1] + u * v * c[2] + (1 - u) * v * c[3]
        return float(p[0]), float(p[1])

    def ring(self, u0: float, v0: float, u1: float, v1: float) -> tuple[tuple[float, float], ...]:
        return (self.point(u0, v0), self.point(u1, v0), self.point(u1, v1), self.point(u0, v1))

    def zone(self, name: str, u0: float, v0: float, u1: float, v1: float, group: str) -> Zone:
        if self.is_rect:
            (x0, y0), (x1, y1) = self.point(u0, v0), self.point(u1, v1)
            return RectZone(name, x0, y0, x1 - x0, y1 - y0, group=group)
        return PolygonZone(name, self.ring(u0, v0, u1, v1), group=group)


def _norm(v: np.ndarray) -> float:
    return float(np.hypot(v[0], v[1]))


def _fraction(value: float, field: str) -> float:
    value = finite_number(value, field)
    if not 0 < value < 1:
        raise BehaviorInputError(field, f"must be strictly between 0 and 1, got {value:g}")
    return value


def open_field(
    outline: Zone, *, side_fraction: float = 0.5, group: str = "open_field"
) -> list[Zone]:
    """``centre`` and ``periphery`` of an open field.

    The centre is the arena shrunk about its middle to ``side_fraction`` of its side
    (default 0.5: the centre square has half the side, so 25 % of the area); the periphery
    is the rest of the arena (a polygon with the centre as its hole). Besides a rect or a
    4-corner polygon, ``outline`` may be any simple polygon (shrunk about its centroid; it
    must contain its own shrunk copy) or a circle (as a 128-gon).
    """
    f = _fraction(side_fraction, "side_fraction")
    if isinstance(outline, RectZone) or (
        isinstance(outline, PolygonZone) and len(outline.points) == 4 and not outline.holes
    ):
        quad = _Quad(outline, "outline")
        lo, hi = 0.5 - f / 2, 0.5 + f / 2
        centre = quad.zone("centre", lo, lo, hi, hi, group)
        hole = quad.ring(lo, lo, hi, hi)
        shell = quad.ring(0, 0, 1, 1)
    else:
        if isinstance(outline, CircleZone):
            check_zone(outline, "outline")
            arena = shapely.Point(outline.cx, outline.cy).buffer(
                outline.r, quad_segs=CIRCLE_VERTICES // 4
            )
        elif isinstance(outline, PolygonZone) and not outline.holes:
            check_zone(outline, "outline")
            arena = outline.geometry()
        else:
            raise BehaviorInputError("outline", "must be a rect, circle or polygon without holes")
        inner = shapely.affinity.scale(arena, f, f, origin="centroid")
        if not arena.contains(inner):
            raise BehaviorInputError(
                "outline", "the arena does not contain its shrunk centre (too concave)"
            )
        shell = tuple((float(x), float(y)) for x, y in arena.exterior.coords[:-1])
        hole = tuple((float(x), float(y)) for x, y in inner.exterior.coords[:-1])
        centre = PolygonZone("centre", hole, group=group)
    periphery = PolygonZone("periphery", shell, (hole,), group=group)
    zones = [centre, periphery]
    validate_zones(zones)
    return zones


def elevated_plus_maze(
    outline: Zone,
    *,
    arm_width: float,
    open_axis: Literal["horizontal", "vertical"] = "horizontal",
    group: str = "epm",
) -> list[Zone]:
    """``centre``, ``open_arm_1/2`` and ``closed_arm_1/2`` of an elevated plus maze.

    ``outline`` bounds the cross (its edges touch the four arm ends); ``arm_width`` is the
    arms' width in px. The centre is the square where the arms cross (``arm_width`` on a
    side); each arm runs from the centre to the outline. Arm 1 is the left/top one. The five
    zones partition the cross (not the bounding outline). For "time in open arms" use the
    unions :data:`EPM_UNIONS`.
    """
    quad = _Quad(outline, "outline")
    width = positive_number(arm_width, "arm_width")
    if width >= min(quad.width, quad.height):
        raise BehaviorInputError(
            "arm_width",
            f"{width:g} px is not smaller than the maze ({quad.width:.0f}×{quad.height:.0f} px)",
        )
    if open_axis not in ("horizontal", "vertical"):
        raise BehaviorInputError(
            "open_axis", f"must be 'horizontal' or 'vertical', got {open_axis!r}"
        )
    au, av = width / quad.width / 2, width / quad.height / 2
    u0, u1, v0, v1 = 0.5 - au, 0.5 + au, 0.5 - av, 0.5 + av
    horizontal = ("open" if open_axis == "horizontal" else "closed") + "_arm"
    vertical = ("closed" if open_axis == "horizontal" else "open") + "_arm"
    zones = [
        quad.zone("centre", u0, v0, u1, v1, group),
        quad.zone(f"{horizontal}_1", 0, v0, u0, v1, group),
        quad.zone(f"{horizontal}_2", u1, v0, 1, v1, group),
        quad.zone(f"{vertical}_1", u0, 0, u1, v0, group),
        quad.zone(f"{vertical}_2", u0, v1, u1, 1, group),
    ]
    zones.sort(key=lambda z: ["centre", "open", "closed"].index(z.name.split("_")[0]))
    validate_zones(zones)
    return zones


def light_dark_box(
    outline: Zone,
    *,
    light_side: Literal["left", "right", "top", "bottom"] = "left",
    light_fraction: float = 0.5,
    group: str = "light_dark",
) -> list[Zone]:
    """``light`` and ``dark`` compartments splitting the box; the light one is on
    ``light_side`` and takes ``light_fraction`` of the box's length along that axis (0.5:
    two halves; many boxes are 2/3 light)."""
    quad = _Quad(outline, "outline")
    f = _fraction(light_fraction, "light_fraction")
    cuts = {
        "left": ((0, 0, f, 1), (f, 0, 1, 1)),
        "right": ((1 - f, 0, 1, 1), (0, 0, 1 - f, 1)),
        "top": ((0, 0, 1, f), (0, f, 1, 1)),
        "bottom": ((0, 1 - f, 1, 1), (0, 0, 1, 1 - f)),
    }
    if light_side not in cuts:
        raise BehaviorInputError(
            "light_side", f"must be left, right, top or bottom; got {light_side!r}"
        )
    light, dark = cuts[light_side]
    zones = [quad.zone("light", *light, group), quad.zone("dark", *dark, group)]
    validate_zones(zones)
    return zones


def novel_object_recognition(
    objects: Sequence[Sequence[float]] | Mapping[str, Sequence[float]],
    *,
    radius: float,
    frame_width: float | None = None,
    frame_height: float | None = None,
) -> list[Zone]:
    """One circular zone of ``radius`` px around each object position ``(x, y)``.

    ``objects``: a list of points (zones ``object_1``, ``object_2``, ...) or a mapping
    name → point (e.g. ``{"familiar": (120, 200), "novel": (420, 200)}``). The zones are not a
    partition (most of the arena is in none) and have no group.
    """
    r = positive_number(radius, "radius")
    items = (
        list(objects.items())
        if isinstance(objects, Mapping)
        else [(f"object_{k + 1}", p) for k, p in enumerate(objects)]
    )
    if not items:
        raise BehaviorInputError("objects", "needs at least one object position")
    zones: list[Zone] = []
    for k, (name, point) in enumerate(items):
        where = f"objects[{k}]"
        if not isinstance(point, Sequence) or len(point) != 2:
            raise BehaviorInputError(where, "must be a point (x, y)")
        x, y = finite_number(point[0], where), finite_number(point[1], where)
        zones.append(CircleZone(str(name), x, y, r))
    try:
        validate_zones(zones, frame_width=frame_width, frame_height=frame_height)
    except ZoneError as exc:
        # "zones[1].r" means nothing to the caller; name the object it came from.
        k = exc.field.split("]")[0].removeprefix("zones[")
        field = f"objects[{k}]" if k.isdigit() else "objects"
        raise BehaviorInputError(field, exc.message) from None
    return zones
