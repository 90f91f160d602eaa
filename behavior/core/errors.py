"""The one error type of the behaviour core: bad input, naming the field it came from.

``field`` is a dotted/indexed path into the caller's input (``"end_s"``, ``"zones[2].points"``,
``"ruler.length_cm"``) so the web layer can answer HTTP 400 with a reason naming the field.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Coordinates and lengths beyond this are certainly typos or overflow, not pixels or cm.
HUGE = 1e6


class BehaviorInputError(ValueError):
    """Bad input to the behaviour core; ``field`` names where, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def finite_number(value: Any, field: str, *, limit: float = HUGE) -> float:
    """``value`` as a float, or BehaviorInputError if it is not a real, finite, sane number.

    Booleans and strings are rejected (``True`` is not a coordinate; ``"3"`` is a client bug).
    """
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise BehaviorInputError(field, f"must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise BehaviorInputError(field, f"must be finite, got {value}")
    if abs(value) > limit:
        raise BehaviorInputError(field, f"{value:g} is implausibly large (limit {limit:g})")
    return value


def positive_number(value: Any, field: str, *, limit: float = HUGE) -> float:
    value = finite_number(value, field, limit=limit)
    if value <= 0:
        raise BehaviorInputError(field, f"must be > 0, got {value:g}")
    return value
