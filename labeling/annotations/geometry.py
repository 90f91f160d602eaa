"""Box geometry for the annotation editor's saves. Pure module: no Django import.

Boxes are in original-image pixels: ``(x, y)`` is the top-left corner (origin at the
image's top-left, x right, y down), ``w``/``h`` > 0, all floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Edges are snapped to 0.01 px (as the dataset formats do) so that float noise from a zoomed
#: display does not reach exports and a box read back compares equal.
COORD_DECIMALS = 2
#: A side shorter than this after clipping is an empty box, not a label.
MIN_BOX_SIDE_PX = 1.0
#: A box drawn or changed in the editor needs this much on each side (after clipping): a
#: smaller one is a slip of the mouse. Imports and proposals may hold smaller boxes (tiny
#: objects exist in other datasets), so the general limit stays MIN_BOX_SIDE_PX.
EDITOR_MIN_BOX_SIDE_PX = 4.0


@dataclass(frozen=True)
class PixelBox:
    """A box in original-image pixels: top-left ``(x, y)``, size ``(w, h)``."""

    x: float
    y: float
    w: float
    h: float


class EmptyBox(ValueError):
    """The box has (almost) no area left inside the image."""


def clip_box(box: PixelBox, *, width: int, height: int) -> PixelBox:
    """Clip ``box`` to the ``width`` x ``height`` image and snap its edges.

    Raises :class:`ValueError` for non-finite values or a negative/zero size (an inverted
    box is garbage, not something to flip), and :class:`EmptyBox` when less than
    :data:`MIN_BOX_SIDE_PX` remains inside the image on either axis.
    """
    values = (box.x, box.y, box.w, box.h)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise ValueError("Coordinates must be finite numbers.")
    if box.w <= 0 or box.h <= 0:
        raise ValueError("Width and height must be positive.")
    x0 = round(min(max(box.x, 0.0), float(width)), COORD_DECIMALS)
    y0 = round(min(max(box.y, 0.0), float(height)), COORD_DECIMALS)
    # x + w may overflow to inf for huge finite inputs; min() with the image size keeps it.
    x1 = round(min(max(box.x + box.w, 0.0), float(width)), COORD_DECIMALS)
    y1 = round(min(max(box.y + box.h, 0.0), float(height)), COORD_DECIMALS)
    if x1 - x0 < MIN_BOX_SIDE_PX or y1 - y0 < MIN_BOX_SIDE_PX:
        raise EmptyBox(
            f"The box is empty once clipped to the {width}x{height} image "
            f"(each side needs at least {MIN_BOX_SIDE_PX:g} px inside it)."
        )
    return PixelBox(x=x0, y=y0, w=round(x1 - x0, COORD_DECIMALS), h=round(y1 - y0, COORD_DECIMALS))


def short_sides(box: PixelBox, *, min_side: float) -> list[str]:
    """The sides (``"w"``, ``"h"``) of ``box`` shorter than ``min_side`` pixels."""
    return [name for name, size in (("w", box.w), ("h", box.h)) if size < min_side]
