"""A live session's set-up from JSON: zones, rules, outputs, calibration (no Django).

``ZONES.json`` (``manage.py live --zones``, the Live page's form) is either a list of zones
(the behaviour core's zone format: then every zone's entries and exits are events) or::

    {"zones": [...], "rules": [...], "outputs": [...], "px_per_cm": 4.2}

Zones are parsed and checked by :func:`behavior.core.zones.parse_zones` against the camera's
frame (a zone off the frame is refused before anything starts). This is the one place the
tracking app reads the behaviour core: live rules are zone rules, and one zone format (the
arena editor's) serves both; the core is pure, so nothing of the behaviour app's Django
side comes with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from behavior.core.errors import BehaviorInputError
from behavior.core.zones import Zone, parse_zones

from .outputs import OUTPUT_KINDS
from .rules import Rule, RuleError, parse_rules, zone_rules


class SetupError(ValueError):
    """The set-up is unusable; ``field`` names where (``zones[1].x``, ``rules[0].zone``)."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True)
class LiveSetup:
    zones: list[Zone] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)  # opened by build_outputs
    px_per_cm: float | None = None


def parse_setup(
    data: Any,
    *,
    frame_size: tuple[int, int],
    n_animals: int,
    extra_outputs: list[dict[str, Any]] | None = None,
) -> LiveSetup:
    """The set-up from ``data`` (see the module docstring); :class:`SetupError` naming the
    field. ``extra_outputs``: outputs given apart (the command's ``--serial``...), added to
    those of ``data``; a rule with no ``output`` goes to every output."""
    if data is None:
        data = {}
    if isinstance(data, list):
        data = {"zones": data}
    if not isinstance(data, Mapping):
        raise SetupError("setup", "must be a list of zones or an object")
    unknown = set(data) - {"zones", "rules", "outputs", "px_per_cm"}
    if unknown:
        raise SetupError("setup", f"unknown keys {sorted(unknown)}")
    try:
        zones = parse_zones(
            data.get("zones", []), frame_width=frame_size[0], frame_height=frame_size[1]
        )
    except BehaviorInputError as e:
        raise SetupError(e.field, e.message) from e
    if not isinstance(data.get("outputs", []), list):
        raise SetupError("outputs", "must be a list")
    outputs = list(data.get("outputs", [])) + list(extra_outputs or [])
    names = []
    for i, item in enumerate(outputs):
        if not isinstance(item, Mapping) or item.get("kind") not in OUTPUT_KINDS:
            raise SetupError(f"outputs[{i}].kind", f"must be one of {', '.join(OUTPUT_KINDS)}")
        names.append(str(item.get("name") or f"output {i + 1}"))
        outputs[i] = {**item, "name": names[-1]}
    try:
        if "rules" in data:
            rules = parse_rules(
                data["rules"],
                zone_names=[z.name for z in zones],
                n_animals=n_animals,
                output_names=names,
            )
        else:
            rules = zone_rules([z.name for z in zones])
    except RuleError as e:
        raise SetupError(e.field, e.reason) from e
    px_per_cm = data.get("px_per_cm")
    if px_per_cm is not None:
        if (
            isinstance(px_per_cm, bool)
            or not isinstance(px_per_cm, int | float)
            or not math.isfinite(px_per_cm)
            or not 0 < px_per_cm < 1e4
        ):
            raise SetupError("px_per_cm", "must be a number of pixels per cm, above 0")
        px_per_cm = float(px_per_cm)
    return LiveSetup(zones=zones, rules=rules, outputs=outputs, px_per_cm=px_per_cm)
