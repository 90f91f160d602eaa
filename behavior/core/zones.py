"""Named zones (rect, circle, polygon) in original-video pixels; parsing, checks, membership.

Coordinates: pixels of the original video, ``x`` to the right, ``y`` down, origin at the
top-left corner of the frame (the same system as the tracking engine's boxes).

JSON format (what the zone editor sends and :func:`zones_to_json` writes back)::

    [{"name": "centre", "shape": "rect", "x": 10, "y": 20, "w": 100, "h": 80},
     {"name": "object A", "shape": "circle", "cx": 300, "cy": 200, "r": 25},
     {"name": "arm", "shape": "polygon", "points": [[0, 0], [50, 0], [50, 40]]}]

Optional keys: ``"group"`` on any zone (see below) and ``"holes"`` on a polygon (a list of
rings, each ``[[x, y], ...]``; the periphery of an open field is the arena with the centre as
a hole). Any other key is rejected so a typo (``"radius"``) fails loudly.

Membership (``zone_membership``):

* ``"centre"`` (default): the animal is in a zone when its centre point lies in the *closed*
  zone (its outline counts as inside, so an animal hugging an arena wall is in the arena).
* ``"box"``: when the share of its box's area inside the zone is ``>= box_overlap``
  (default 0.5). A frame without a box, or with a zero-area box, falls back to its centre.

Zone groups: zones with the same ``group`` may not overlap (as in EthoVision XT zone
groups); a point on a boundary they share goes to the first of them in list order (in box
mode: to the zone holding the largest share of the box). So the zones of a partition (the
presets' ``group``) count every tracked frame in exactly one zone, never two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from .errors import HUGE, BehaviorInputError, finite_number

MembershipMode = Literal["centre", "box"]

MAX_ZONES = 100
MAX_POINTS = 10_000
MAX_NAME = 100
# Smallest zone worth having: a square pixel. Below that it is a slip of the mouse.
MIN_AREA_PX2 = 1.0
# Circles are exact for point membership; for box overlap they are this fine a polygon
# (area error ~0.04 %).
CIRCLE_QUAD_SEGS = 64
_KEYS = {
    "rect": {"x", "y", "w", "h"},
    "circle": {"cx", "cy", "r"},
    "polygon": {"points", "holes"},
}


class ZoneError(BehaviorInputError):
    """A zone definition is unusable; ``field`` is e.g. ``"zones[2].points"``."""


# --- data --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Zone:
    """Base of the three shapes; ``name`` is unique in a set, ``group`` see module docs."""

    name: str
    group: str | None = field(default=None, kw_only=True)

    shape = ""

    def geometry(self) -> BaseGeometry:
        raise NotImplementedError

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """bool (F,): which points lie in the closed zone; NaN points are never inside."""
        geom = self.geometry()
        shapely.prepare(geom)
        return np.asarray(shapely.intersects_xy(geom, x, y), dtype=bool)

    def _fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "shape": self.shape, **self._fields()}
        if self.group is not None:
            out["group"] = self.group
        return out

    def mapped(self, fn: Callable[[np.ndarray], np.ndarray], scale: float) -> Zone:
        """This zone with every point ``p`` (array (..., 2)) moved to ``fn(p)``; lengths that
        are not points (a radius) are multiplied by ``scale``."""
        raise NotImplementedError


@dataclass(frozen=True)
class RectZone(Zone):
    """Axis-aligned rectangle: top-left ``(x, y)``, size ``w`` × ``h``."""

    x: float
    y: float
    w: float
    h: float

    shape = "rect"

    def geometry(self) -> BaseGeometry:
        return shapely.box(self.x, self.y, self.x + self.w, self.y + self.h)

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (x >= self.x) & (x <= self.x + self.w) & (y >= self.y) & (y <= self.y + self.h)

    def _fields(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}

    def mapped(self, fn, scale):
        (x1, y1), (x2, y2) = fn(np.array([[self.x, self.y], [self.x + self.w, self.y + self.h]]))
        return RectZone(
            self.name,
            float(min(x1, x2)),
            float(min(y1, y2)),
            float(abs(x2 - x1)),
            float(abs(y2 - y1)),
            group=self.group,
        )


@dataclass(frozen=True)
class CircleZone(Zone):
    """Disc of centre ``(cx, cy)`` and radius ``r``."""

    cx: float
    cy: float
    r: float

    shape = "circle"

    def geometry(self) -> BaseGeometry:
        return Point(self.cx, self.cy).buffer(self.r, quad_segs=CIRCLE_QUAD_SEGS)

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (x - self.cx) ** 2 + (y - self.cy) ** 2 <= self.r**2

    def _fields(self) -> dict[str, Any]:
        return {"cx": self.cx, "cy": self.cy, "r": self.r}

    def mapped(self, fn, scale):
        ((cx, cy),) = fn(np.array([[self.cx, self.cy]]))
        return CircleZone(self.name, float(cx), float(cy), self.r * scale, group=self.group)


@dataclass(frozen=True)
class PolygonZone(Zone):
    """Simple polygon ``points`` ((x, y), ...) not closed (first point not repeated), with
    optional ``holes`` (rings in the same form)."""

    points: tuple[tuple[float, float], ...]
    holes: tuple[tuple[tuple[float, float], ...], ...] = ()

    shape = "polygon"

    def geometry(self) -> BaseGeometry:
        return Polygon(self.points, self.holes)

    def _fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"points": [list(p) for p in self.points]}
        if self.holes:
            out["holes"] = [[list(p) for p in ring] for ring in self.holes]
        return out

    def mapped(self, fn, scale):
        def ring(points):
            return tuple((float(x), float(y)) for x, y in fn(np.asarray(points, dtype=float)))

        return PolygonZone(
            self.name,
            ring(self.points),
            tuple(ring(h) for h in self.holes),
            group=self.group,
        )


# --- parsing and checks ------------------------------------------------------------------
def parse_zones(
    data: Any,
    *,
    frame_width: float | None = None,
    frame_height: float | None = None,
    field_name: str = "zones",
) -> list[Zone]:
    """Zones from the JSON format; ZoneError naming the field on anything unusable.

    Checked: the list and each item's type, known shape and keys, every number finite and
    within ±1e6, rect w/h and circle r > 0, polygons with >= 3 distinct points, not
    self-intersecting, area >= 1 px², names non-empty, without ``:`` (it separates the parts
    of the flattened column names ``zone:<name>:time_s``) and unique ignoring case, zones of
    one group not overlapping, and — when the frame size is given — every zone wholly inside
    the frame ``[0, frame_width] × [0, frame_height]``.
    """
    if not isinstance(data, list | tuple):
        raise ZoneError(field_name, f"must be a list of zones, got {type(data).__name__}")
    if len(data) > MAX_ZONES:
        raise ZoneError(field_name, f"at most {MAX_ZONES} zones, got {len(data)}")
    zones = [_parse_zone(item, f"{field_name}[{i}]") for i, item in enumerate(data)]
    validate_zones(zones, frame_width=frame_width, frame_height=frame_height, field_name=field_name)
    return zones


def zones_to_json(zones: Iterable[Zone]) -> list[dict[str, Any]]:
    """The JSON format back; ``parse_zones(zones_to_json(z)) == z``."""
    return [z.to_json() for z in zones]


def validate_zones(
    zones: Sequence[Zone],
    *,
    frame_width: float | None = None,
    frame_height: float | None = None,
    field_name: str = "zones",
) -> None:
    """The checks of :func:`parse_zones` on zones built in code (presets, transforms)."""
    if frame_width is not None:
        frame_width = _positive(frame_width, "frame_width")
    if frame_height is not None:
        frame_height = _positive(frame_height, "frame_height")
    seen: dict[str, int] = {}
    for i, zone in enumerate(zones):
        where = f"{field_name}[{i}]"
        _check_name(zone.name, f"{where}.name")
        key = zone.name.casefold()
        if key in seen:
            raise ZoneError(
                f"{where}.name", f"duplicate zone name {zone.name!r} (as {field_name}[{seen[key]}])"
            )
        seen[key] = i
        if zone.group is not None:
            _check_name(zone.group, f"{where}.group")
        check_zone(zone, where)
        if frame_width is not None and frame_height is not None:
            _check_in_frame(zone, where, frame_width, frame_height)
    _check_groups(zones, field_name)


def _parse_zone(item: Any, where: str) -> Zone:
    if not isinstance(item, Mapping):
        raise ZoneError(where, f"must be an object, got {type(item).__name__}")
    shape = item.get("shape")
    if shape not in _KEYS:
        raise ZoneError(f"{where}.shape", f"must be one of rect, circle, polygon; got {shape!r}")
    for key in item:
        if key not in _KEYS[shape] | {"name", "shape", "group"}:
            raise ZoneError(f"{where}.{key}", f"unknown key for a {shape} zone")
    if "name" not in item:
        raise ZoneError(f"{where}.name", "is required")
    name = item["name"]
    _check_name(name, f"{where}.name")
    group = item.get("group")
    if group is not None:
        _check_name(group, f"{where}.group")

    def number(key: str) -> float:
        if key not in item:
            raise ZoneError(f"{where}.{key}", "is required")
        return _number(item[key], f"{where}.{key}")

    if shape == "rect":
        return RectZone(
            name.strip(), number("x"), number("y"), number("w"), number("h"), group=group
        )
    if shape == "circle":
        return CircleZone(name.strip(), number("cx"), number("cy"), number("r"), group=group)
    if "points" not in item:
        raise ZoneError(f"{where}.points", "is required")
    points = _ring(item["points"], f"{where}.points")
    holes_data = item.get("holes", [])
    if not isinstance(holes_data, list | tuple):
        raise ZoneError(f"{where}.holes", "must be a list of rings")
    holes = tuple(_ring(h, f"{where}.holes[{k}]") for k, h in enumerate(holes_data))
    return PolygonZone(name.strip(), points, holes, group=group)


def _ring(data: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(data, list | tuple):
        raise ZoneError(where, "must be a list of [x, y] points")
    if len(data) > MAX_POINTS:
        raise ZoneError(where, f"at most {MAX_POINTS} points, got {len(data)}")
    points = []
    for k, p in enumerate(data):
        if not isinstance(p, list | tuple) or len(p) != 2:
            raise ZoneError(f"{where}[{k}]", "must be a pair [x, y]")
        points.append((_number(p[0], f"{where}[{k}]"), _number(p[1], f"{where}[{k}]")))
    # Editors often close the ring by repeating the first point; shapely closes it anyway.
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3:
        raise ZoneError(where, "needs at least 3 distinct points")
    return tuple(points)


def _number(value: Any, where: str) -> float:
    try:
        return finite_number(value, where)
    except BehaviorInputError as exc:
        raise ZoneError(exc.field, exc.message) from None


def _positive(value: Any, where: str) -> float:
    value = _number(value, where)
    if value <= 0:
        raise ZoneError(where, f"must be > 0, got {value:g}")
    return value


def _check_name(name: Any, where: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ZoneError(where, "must be a non-empty string")
    if len(name) > MAX_NAME:
        raise ZoneError(where, f"at most {MAX_NAME} characters")
    if ":" in name:
        raise ZoneError(where, "may not contain ':' (it separates parts of column names)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ZoneError(where, "may not contain control characters")


def check_zone(zone: Zone, where: str) -> None:
    """The shape checks of one zone (numbers, sizes, simple polygon); ``where`` prefixes
    the field named in the ZoneError (``"outline"`` -> ``"outline.w"``)."""
    if isinstance(zone, RectZone):
        for key in ("x", "y", "w", "h"):
            _number(getattr(zone, key), f"{where}.{key}")
        if zone.w <= 0:
            raise ZoneError(f"{where}.w", f"must be > 0, got {zone.w:g}")
        if zone.h <= 0:
            raise ZoneError(f"{where}.h", f"must be > 0, got {zone.h:g}")
        if zone.w * zone.h < MIN_AREA_PX2:
            raise ZoneError(f"{where}.w", f"zone area {zone.w * zone.h:g} px² is degenerate")
    elif isinstance(zone, CircleZone):
        for key in ("cx", "cy", "r"):
            _number(getattr(zone, key), f"{where}.{key}")
        if zone.r <= 0:
            raise ZoneError(f"{where}.r", f"must be > 0, got {zone.r:g}")
        if math.pi * zone.r**2 < MIN_AREA_PX2:
            raise ZoneError(f"{where}.r", f"radius {zone.r:g} px gives a degenerate zone")
    elif isinstance(zone, PolygonZone):
        for k, (x, y) in enumerate(zone.points):
            _number(x, f"{where}.points[{k}]")
            _number(y, f"{where}.points[{k}]")
        shell = Polygon(zone.points)
        if not shell.is_valid:
            reason = shapely.is_valid_reason(shell)
            raise ZoneError(f"{where}.points", f"not a simple polygon ({reason})")
        if shell.area < MIN_AREA_PX2:
            raise ZoneError(f"{where}.points", f"polygon area {shell.area:g} px² is degenerate")
        if zone.holes:
            geom = zone.geometry()
            if not geom.is_valid:
                reason = shapely.is_valid_reason(geom)
                raise ZoneError(f"{where}.holes", f"holes must lie inside the polygon ({reason})")
            if geom.area < MIN_AREA_PX2:
                raise ZoneError(f"{where}.holes", "the holes leave a degenerate zone")
    else:
        raise ZoneError(where, f"unknown zone type {type(zone).__name__}")


def _check_in_frame(zone: Zone, where: str, width: float, height: float) -> None:
    def outside(x: float, y: float) -> bool:
        return x < 0 or y < 0 or x > width or y > height

    frame = f"the {width:g}×{height:g} px frame"
    if isinstance(zone, RectZone):
        if zone.x < 0 or zone.x > width:
            raise ZoneError(f"{where}.x", f"x={zone.x:g} lies outside {frame}")
        if zone.y < 0 or zone.y > height:
            raise ZoneError(f"{where}.y", f"y={zone.y:g} lies outside {frame}")
        if zone.x + zone.w > width:
            raise ZoneError(f"{where}.w", f"the zone reaches x={zone.x + zone.w:g}, past {frame}")
        if zone.y + zone.h > height:
            raise ZoneError(f"{where}.h", f"the zone reaches y={zone.y + zone.h:g}, past {frame}")
    elif isinstance(zone, CircleZone):
        if outside(zone.cx, zone.cy):
            key = "cx" if not 0 <= zone.cx <= width else "cy"
            raise ZoneError(f"{where}.{key}", f"the centre lies outside {frame}")
        if (
            zone.cx - zone.r < 0
            or zone.cy - zone.r < 0
            or zone.cx + zone.r > width
            or zone.cy + zone.r > height
        ):
            raise ZoneError(f"{where}.r", f"r={zone.r:g} takes the circle outside {frame}")
    elif isinstance(zone, PolygonZone):
        for k, (x, y) in enumerate(zone.points):
            if outside(x, y):
                raise ZoneError(f"{where}.points[{k}]", f"({x:g}, {y:g}) lies outside {frame}")


def _check_groups(zones: Sequence[Zone], field_name: str) -> None:
    by_group: dict[str, list[int]] = {}
    for i, zone in enumerate(zones):
        if zone.group is not None:
            by_group.setdefault(zone.group, []).append(i)
    for members in by_group.values():
        geoms = [zones[i].geometry() for i in members]
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                shared = geoms[a].intersection(geoms[b]).area
                # Shared edges have zero area; allow float noise from vertex arithmetic.
                if shared > 1e-6 * min(geoms[a].area, geoms[b].area) + 1e-9:
                    i, j = members[a], members[b]
                    raise ZoneError(
                        f"{field_name}[{j}]",
                        f"overlaps {zones[i].name!r} ({shared:g} px²) in group "
                        f"{zones[j].group!r}; zones of one group must not overlap",
                    )


# --- membership --------------------------------------------------------------------------
def box_overlap_fraction(zone: Zone, boxes_xyxy: np.ndarray) -> np.ndarray:
    """float (F,): share of each box's area inside ``zone``; NaN for a missing or zero-area
    box. ``boxes_xyxy``: (F, 4) ``x1, y1, x2, y2`` original-video pixels."""
    b = np.asarray(boxes_xyxy, dtype=np.float64)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    ok = np.isfinite(b).all(axis=1) & (area > 0)
    out = np.full(b.shape[0], np.nan)
    if not ok.any():
        return out
    bb = b[ok]
    if isinstance(zone, RectZone):
        # Exact and ~100x faster than shapely for the common case.
        w = np.clip(np.minimum(bb[:, 2], zone.x + zone.w) - np.maximum(bb[:, 0], zone.x), 0, None)
        h = np.clip(np.minimum(bb[:, 3], zone.y + zone.h) - np.maximum(bb[:, 1], zone.y), 0, None)
        inter = w * h
    else:
        geom = zone.geometry()
        shapely.prepare(geom)
        polys = shapely.box(bb[:, 0], bb[:, 1], bb[:, 2], bb[:, 3])
        inter = shapely.area(shapely.intersection(polys, geom))
    out[ok] = inter / area[ok]
    return out


def zone_membership(
    zones: Sequence[Zone],
    xy: np.ndarray,
    *,
    boxes_xyxy: np.ndarray | None = None,
    mode: MembershipMode = "centre",
    box_overlap: float = 0.5,
) -> dict[str, np.ndarray]:
    """Per zone name, bool (F,): is the animal in the zone at each frame.

    ``xy``: float (F, 2) centres in original-video pixels, NaN where missing (a missing frame
    is in no zone). ``mode``/``box_overlap``/groups: see the module docstring.
    """
    xy = np.asarray(xy, dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    if mode not in ("centre", "box"):
        raise BehaviorInputError("membership", f"must be 'centre' or 'box', got {mode!r}")
    if mode == "box":
        if boxes_xyxy is None:
            raise BehaviorInputError("boxes", "box membership needs the boxes")
        box_overlap = finite_number(box_overlap, "box_overlap")
        if not 0 < box_overlap <= 1:
            raise BehaviorInputError("box_overlap", f"must be in (0, 1], got {box_overlap:g}")
    present = np.isfinite(xy).all(axis=1)
    # score: higher is "more inside"; a point inside scores 1, outside 0, missing -inf.
    scores: dict[str, np.ndarray] = {}
    for zone in zones:
        inside = zone.contains_xy(x, y) & present
        score = np.where(inside, 1.0, np.where(present, 0.0, -np.inf))
        if mode == "box":
            frac = box_overlap_fraction(zone, boxes_xyxy)
            has_box = np.isfinite(frac)
            score = np.where(has_box, np.where(frac >= box_overlap, frac, 0.0), score)
        scores[zone.name] = score
    out = {name: s > 0 for name, s in scores.items()}
    groups: dict[str, list[str]] = {}
    for zone in zones:
        if zone.group is not None:
            groups.setdefault(zone.group, []).append(zone.name)
    for names in groups.values():
        if len(names) < 2:
            continue
        stacked = np.stack([scores[n] for n in names])
        best = np.argmax(stacked, axis=0)  # ties: the first zone in list order
        for k, name in enumerate(names):
            out[name] = out[name] & (best == k)
    return out


# --- template nudge ----------------------------------------------------------------------
def translate_zones(zones: Iterable[Zone], dx: float, dy: float) -> list[Zone]:
    """Every zone moved by ``(dx, dy)`` px."""
    dx, dy = finite_number(dx, "dx"), finite_number(dy, "dy")
    shift = np.array([dx, dy])
    return [z.mapped(lambda p: p + shift, 1.0) for z in zones]


def scale_zones(
    zones: Iterable[Zone],
    sx: float,
    sy: float | None = None,
    *,
    origin: tuple[float, float] = (0.0, 0.0),
) -> list[Zone]:
    """Every zone scaled by ``sx`` (x) and ``sy`` (y, default ``sx``) about ``origin``.

    A circle stays a circle: its centre moves exactly, its radius scales by ``sqrt(sx*sy)``
    (the factor that keeps its area right).
    """
    sx = finite_number(sx, "sx")
    sy = sx if sy is None else finite_number(sy, "sy")
    if sx <= 0:
        raise BehaviorInputError("sx", f"must be > 0, got {sx:g}")
    if sy <= 0:
        raise BehaviorInputError("sy", f"must be > 0, got {sy:g}")
    o = np.array([finite_number(origin[0], "origin"), finite_number(origin[1], "origin")])
    k = np.array([sx, sy])
    return [z.mapped(lambda p: (p - o) * k + o, math.sqrt(sx * sy)) for z in zones]


def fit_zones(
    zones: Iterable[Zone], source: Mapping[str, float], target: Mapping[str, float]
) -> list[Zone]:
    """A template drawn on arena rect ``source`` ({x, y, w, h}) moved and scaled onto arena
    rect ``target`` — the usual nudge when the camera moved between sessions."""
    src = [_rect_value(source, k, "source") for k in ("x", "y", "w", "h")]
    dst = [_rect_value(target, k, "target") for k in ("x", "y", "w", "h")]
    scaled = scale_zones(zones, dst[2] / src[2], dst[3] / src[3], origin=(src[0], src[1]))
    return translate_zones(scaled, dst[0] - src[0], dst[1] - src[1])


def _rect_value(rect: Mapping[str, float], key: str, where: str) -> float:
    if not isinstance(rect, Mapping) or key not in rect:
        raise BehaviorInputError(f"{where}.{key}", "is required")
    value = finite_number(rect[key], f"{where}.{key}", limit=HUGE)
    if key in ("w", "h") and value <= 0:
        raise BehaviorInputError(f"{where}.{key}", f"must be > 0, got {value:g}")
    return value
