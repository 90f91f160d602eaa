"""Integers from URLs, query strings and headers, bounded before they reach the database.

One helper for every id and integer parameter: ``bounded_int`` parses a decimal string
within ``[minimum, maximum]`` (by default a BigAutoField's range, ``[0, 2**63 - 1]``) or
gives None; ``int_param`` turns None into a 400 naming the field; ``IdConverter`` (the
``<id:...>`` path converter) makes an out-of-range path id a 404. Past the range, SQLite
raises OverflowError and PostgreSQL a DataError: both were 500s.
"""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError

DB_INT_MAX = 2**63 - 1  # BigAutoField / BigIntegerField
DB_INT32_MAX = 2**31 - 1  # IntegerField / PositiveIntegerField on PostgreSQL
_MAX_DIGITS = len(str(DB_INT_MAX)) + 1  # longer strings are refused before int() runs


def bounded_int(value: object, *, minimum: int = 0, maximum: int = DB_INT_MAX) -> int | None:
    """``value`` (an int or a decimal string) as an int in ``[minimum, maximum]``, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if not digits or len(digits) > _MAX_DIGITS or not digits.isascii():
            return None
        if not digits.isdigit():
            return None
        value = int(text)
    if not isinstance(value, int) or not minimum <= value <= maximum:
        return None
    return value


def int_param(value: object, *, field: str, minimum: int = 0, maximum: int = DB_INT_MAX) -> int:
    """``bounded_int`` or a ValidationError (-> 400) naming ``field``."""
    number = bounded_int(value, minimum=minimum, maximum=maximum)
    if number is None:
        raise ValidationError({field: f"Must be a whole number from {minimum} to {maximum}."})
    return number


class IdConverter:
    """``<id:pk>``: like ``<int:pk>``, but an id past the database's range does not match
    (so the URL is a 404) instead of reaching a query."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = bounded_int(value)
        if number is None:
            raise ValueError("id out of range")  # Django then tries the next pattern -> 404
        return number

    def to_url(self, value: int | str) -> str:
        return str(value)


def finite_float(value: object) -> float | None:
    """``value`` as a finite float (a number or a numeric string), else None: what the
    pages' number filters show, "–" or nothing standing for None."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
