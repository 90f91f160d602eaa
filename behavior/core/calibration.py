"""Pixels to centimetres: a two-point ruler, or the arena's real size and its outline.

A :class:`Calibration` is one isotropic scale ``px_per_cm`` for the whole frame (the camera
is assumed to look straight down; perspective and lens distortion are not corrected).
``Calibration(None)`` means *uncalibrated*: every distance stays in pixels, speeds in px/s,
and results say ``units: "px"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .errors import HUGE, BehaviorInputError, finite_number, positive_number
from .zones import CircleZone, PolygonZone, RectZone, Zone

Units = Literal["cm", "px"]

# A ruler shorter than this cannot be clicked reliably: one pixel of error is >10 %.
MIN_RULER_PX = 10.0
# 100 m: no arena is larger; anything above is a unit mistake (mm typed as cm, ...).
MAX_LENGTH_CM = 10_000.0
# Arena width and height scales may differ a little (perspective, a rough outline); more
# than this means width/height are swapped or the outline is not the arena.
MAX_ASPECT_MISMATCH = 0.25


@dataclass(frozen=True)
class Calibration:
    """``px_per_cm``: pixels per centimetre (> 0), or None for uncalibrated (pixels)."""

    px_per_cm: float | None = None

    def __post_init__(self) -> None:
        if self.px_per_cm is not None:
            positive_number(self.px_per_cm, "px_per_cm")

    @property
    def units(self) -> Units:
        return "px" if self.px_per_cm is None else "cm"

    @property
    def px_per_unit(self) -> float:
        """Pixels per output unit: ``px_per_cm``, or 1 when uncalibrated."""
        return 1.0 if self.px_per_cm is None else float(self.px_per_cm)

    def length(self, px: float) -> float:
        """A length in px converted to the output units."""
        return px / self.px_per_unit

    def to_px(self, value: float) -> float:
        """A length (or a speed per second) in output units converted to pixels."""
        return value * self.px_per_unit


def calibration_from_ruler(
    *, x1: float, y1: float, x2: float, y2: float, length_cm: float, field_prefix: str = "ruler"
) -> Calibration:
    """Scale from a ruler drawn from ``(x1, y1)`` to ``(x2, y2)`` (original-video px) over an
    object of known real length ``length_cm``.

    Errors name ``<field_prefix>.<arg>``: a non-finite or huge coordinate, a length that is
    not in (0, 10 000] cm, and a ruler shorter than 10 px (zero-length included) — the last
    names ``<prefix>.x2``, the end the user dragged.
    """
    p = field_prefix + "." if field_prefix else ""
    xa = finite_number(x1, f"{p}x1")
    ya = finite_number(y1, f"{p}y1")
    xb = finite_number(x2, f"{p}x2")
    yb = finite_number(y2, f"{p}y2")
    length = positive_number(length_cm, f"{p}length_cm", limit=MAX_LENGTH_CM)
    px = math.hypot(xb - xa, yb - ya)
    if px < MIN_RULER_PX:
        raise BehaviorInputError(
            f"{p}x2", f"the ruler is {px:.3g} px long; draw it over at least {MIN_RULER_PX:g} px"
        )
    return Calibration(px / length)


def calibration_from_arena(
    *, outline: Zone, width_cm: float, height_cm: float, field_prefix: str = "arena"
) -> Calibration:
    """Scale from the arena's real inner size and its outline in the video.

    ``outline``: a :class:`RectZone`, or a 4-corner :class:`PolygonZone` (corners in order,
    the first edge along the arena's width) for an arena seen at an angle. The width scale is
    the mean length of the two width edges over ``width_cm``, likewise for height; the result
    is their geometric mean (the scale that gets the arena's *area* right). If the two scales
    differ by more than 25 % the proportions do not match (width and height swapped?) and
    ``<prefix>.height_cm`` is named. A :class:`CircleZone` outline uses its diameter and
    needs ``width_cm == height_cm`` (the real diameter).
    """
    p = field_prefix + "." if field_prefix else ""
    w_cm = positive_number(width_cm, f"{p}width_cm", limit=MAX_LENGTH_CM)
    h_cm = positive_number(height_cm, f"{p}height_cm", limit=MAX_LENGTH_CM)
    if isinstance(outline, RectZone):
        w_px, h_px = outline.w, outline.h
    elif isinstance(outline, CircleZone):
        w_px = h_px = 2 * outline.r
    elif isinstance(outline, PolygonZone) and len(outline.points) == 4 and not outline.holes:
        c = outline.points
        w_px = (_dist(c[0], c[1]) + _dist(c[3], c[2])) / 2
        h_px = (_dist(c[1], c[2]) + _dist(c[0], c[3])) / 2
    else:
        raise BehaviorInputError(
            f"{p}outline", "must be a rect, a circle or a 4-corner polygon without holes"
        )
    for value, name in ((w_px, "w"), (h_px, "h")):
        if not (MIN_RULER_PX <= value <= HUGE):
            raise BehaviorInputError(f"{p}outline", f"outline {name} = {value:.3g} px is unusable")
    sx, sy = w_px / w_cm, h_px / h_cm
    if abs(sx - sy) > MAX_ASPECT_MISMATCH * max(sx, sy):
        raise BehaviorInputError(
            f"{p}height_cm",
            f"the arena's proportions ({w_cm:g}×{h_cm:g} cm) do not match its outline "
            f"({w_px:.0f}×{h_px:.0f} px); are width and height swapped?",
        )
    return Calibration(math.sqrt(sx * sy))


def _dist(a: Sequence[float], b: Sequence[float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])
