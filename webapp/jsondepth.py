"""Bound JSON nesting before parsing: Python's parser recurses once per level.

Pure module (no Django): ``json_depth_check(text, max_depth=...)`` raises ``JSONTooDeep``
when arrays/objects nest deeper than ``max_depth``; brackets inside strings don't count.
"""

from __future__ import annotations

import re
from itertools import accumulate

DEFAULT_MAX_DEPTH = 64

# A JSON string literal (escapes included); removed before counting brackets.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONTooDeep(ValueError):
    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nests deeper than {max_depth} levels.")
        self.max_depth = max_depth


def json_depth(text: str) -> int:
    """The deepest array/object nesting in ``text`` (0 for a scalar); counts, never parses."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(accumulate(map(_STEP.__getitem__, brackets)))


def json_depth_check(text: str | bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise ``JSONTooDeep`` when ``text`` nests deeper than ``max_depth``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if json_depth(text) > max_depth:
        raise JSONTooDeep(max_depth)
