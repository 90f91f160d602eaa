"""Rules on the live positions -> events (no Django import).

Each rule watches every animal (or one, ``animal``: 1-based) and fires an event when its
condition becomes true:

- ``zone_entry`` / ``zone_exit`` (``zone``): the centre goes into / out of the zone. As
  in the offline measures (``count_initial_entry`` off), the first position seen only sets
  the state: starting inside is not an entry.
- ``time_in_zone`` (``zone``, ``seconds``): the current visit has lasted ``seconds``.
- ``speed_above`` / ``speed_below`` (``threshold``, ``for_s``): the speed (centre, over the
  last ``speed_window_s``) has stayed above / below ``threshold`` for ``for_s`` seconds
  (``speed_below`` with a low threshold is immobility).
- ``distance_below`` / ``distance_above`` (``point`` ``[x, y]``, ``distance``): the centre
  comes within / goes beyond ``distance`` of the point.

Lengths are pixels, or centimetres where a ``px_per_cm`` calibration is given (speeds per
second of capture time). An animal that is not found (no detection, a stalled camera) is
*no data*: its rules are not evaluated — in particular nothing concludes it left a zone —,
one ``no_data`` event says so, and the session puts the outputs in their safe state. Its
timers restart when it is seen again; its last known zone state is kept, so a mouse lost in
zone A and found in zone B counts one exit and one entry, as the offline analysis of the
recording does. Zones are anything with ``name`` and ``contains_xy(x, y)`` (the behaviour
core's :class:`~behavior.core.zones.Zone`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

ZONE_KINDS = ("zone_entry", "zone_exit", "time_in_zone")
RULE_KINDS = (
    *ZONE_KINDS,
    "speed_above",
    "speed_below",
    "distance_below",
    "distance_above",
)
NO_DATA, DATA_BACK = "no_data", "data_back"


class RuleError(ValueError):
    """A rule is unusable; ``field`` names it, e.g. ``rules[2].zone``."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class ZoneLike(Protocol):
    name: str

    def contains_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    zone: str | None = None
    animal: int | None = None  # 1-based; None: every animal
    seconds: float = 0.0  # time_in_zone
    threshold: float = 0.0  # speeds
    for_s: float = 0.0
    point: tuple[float, float] | None = None
    distance: float = 0.0
    outputs: tuple[str, ...] = ()  # output names; empty: every output
    payload: str = "1"  # what a serial output writes for this rule's events


@dataclass(frozen=True)
class Event:
    """An event of frame ``frame``: ``animal`` 1-based (None for the session's own)."""

    kind: str
    rule: str | None
    animal: int | None
    frame: int
    time_s: float
    zone: str | None = None
    value: float | None = None
    outputs: tuple[str, ...] = ()
    payload: str = "1"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "zone": self.zone,
            "animal": self.animal,
            "frame": self.frame,
            "time_s": round(self.time_s, 6),
            "value": self.value,
        }


def parse_rules(
    data: Any, *, zone_names: Sequence[str], n_animals: int, output_names: Sequence[str] = ()
) -> list[Rule]:
    """Rules from JSON (a list of objects); :class:`RuleError` naming the field on anything
    unusable: an unknown kind, zone, output or animal, a missing or non-finite number."""
    if not isinstance(data, list):
        raise RuleError("rules", "must be a list")
    known = {z.casefold(): z for z in zone_names}
    rules = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        where = f"rules[{i}]"
        if not isinstance(item, Mapping):
            raise RuleError(where, "must be an object")
        kind = item.get("kind")
        if kind not in RULE_KINDS:
            raise RuleError(f"{where}.kind", f"must be one of {', '.join(RULE_KINDS)}")
        name = str(item.get("name") or f"{kind} {i + 1}")
        if name.casefold() in seen:
            raise RuleError(f"{where}.name", f"duplicate rule name {name!r}")
        seen.add(name.casefold())
        args: dict[str, Any] = {"name": name, "kind": kind}
        if kind in ZONE_KINDS:
            zone = item.get("zone")
            if not isinstance(zone, str) or zone.casefold() not in known:
                raise RuleError(f"{where}.zone", f"no zone named {zone!r}")
            args["zone"] = known[zone.casefold()]
        if kind == "time_in_zone":
            args["seconds"] = _number(item, "seconds", where, positive=True)
        if kind.startswith("speed_"):
            args["threshold"] = _number(item, "threshold", where)
            args["for_s"] = _number(item, "for_s", where, default=0.0)
        if kind.startswith("distance_"):
            point = item.get("point")
            if not isinstance(point, list | tuple) or len(point) != 2:
                raise RuleError(f"{where}.point", "must be [x, y]")
            args["point"] = tuple(_finite(v, f"{where}.point") for v in point)
            args["distance"] = _number(item, "distance", where, positive=True)
        animal = item.get("animal")
        if animal is not None:
            if isinstance(animal, bool) or not isinstance(animal, int):
                raise RuleError(f"{where}.animal", "must be an animal number")
            if not 1 <= animal <= n_animals:
                raise RuleError(f"{where}.animal", f"must be between 1 and {n_animals}")
            args["animal"] = animal
        outputs = item.get("outputs", item.get("output", []))
        outputs = [outputs] if isinstance(outputs, str) else outputs
        if not isinstance(outputs, list) or any(o not in output_names for o in outputs):
            raise RuleError(f"{where}.output", f"unknown output {outputs!r}")
        args["outputs"] = tuple(outputs)
        args["payload"] = str(item.get("payload", "1"))
        if not args["payload"] or len(args["payload"]) > 64:
            raise RuleError(f"{where}.payload", "must be 1 to 64 characters")
        rules.append(Rule(**args))
    return rules


def zone_rules(zone_names: Sequence[str]) -> list[Rule]:
    """With zones and no rules, every zone's entries and exits are events."""
    return [
        Rule(name=f"{kind} {zone}", kind=kind, zone=zone)
        for zone in zone_names
        for kind in ("zone_entry", "zone_exit")
    ]


def _number(
    item: Mapping, key: str, where: str, *, positive: bool = False, default: float | None = None
) -> float:
    value = item.get(key, default)
    if value is None:
        raise RuleError(f"{where}.{key}", "is required")
    value = _finite(value, f"{where}.{key}")
    if positive and value <= 0:
        raise RuleError(f"{where}.{key}", "must be greater than 0")
    if value < 0:
        raise RuleError(f"{where}.{key}", "must not be negative")
    return value


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(where, "must be a number")
    if not math.isfinite(value) or abs(value) > 1e6:
        raise RuleError(where, "must be a finite number within ±1e6")
    return float(value)


@dataclass
class _Animal:
    present: bool = False
    seen: bool = False
    zones: dict[str, bool] = field(default_factory=dict)  # last known, kept over no data
    visit_since: dict[str, float] = field(default_factory=dict)  # current visit start
    track: deque = field(default_factory=lambda: deque(maxlen=64))  # (t, x, y)
    since: dict[str, float | None] = field(default_factory=dict)  # condition true since
    fired: dict[str, bool] = field(default_factory=dict)
    speed: float | None = None


class RuleEngine:
    """Evaluates ``rules`` frame after frame (:meth:`step`), keeping per-animal state."""

    def __init__(
        self,
        rules: Sequence[Rule],
        zones: Sequence[ZoneLike],
        *,
        n_animals: int,
        px_per_cm: float | None = None,
        speed_window_s: float = 0.2,
    ):
        self.rules = list(rules)
        self.zones = {z.name: z for z in zones}
        self.n = n_animals
        self.scale = 1.0 / px_per_cm if px_per_cm else 1.0  # pixels -> user units
        self.window = speed_window_s
        self.animals = [_Animal() for _ in range(n_animals)]

    def step(self, frame: int, time_s: float, centres: np.ndarray) -> list[Event]:
        """Events of one frame; ``centres`` float (N, 2) pixels, NaN rows: not found."""
        events: list[Event] = []
        xy = np.asarray(centres, np.float64).reshape(self.n, 2)
        for i, animal in enumerate(self.animals):
            if not np.isfinite(xy[i]).all():
                events += self._lost(i, frame, time_s)
                continue
            if animal.seen and not animal.present:
                events.append(Event(DATA_BACK, None, i + 1, frame, time_s))
            animal.present = True
            x, y = float(xy[i, 0]), float(xy[i, 1])
            animal.track.append((time_s, x, y))
            animal.speed = self._speed(animal)
            inside = {
                name: bool(z.contains_xy(np.array([x]), np.array([y]))[0])
                for name, z in self.zones.items()
            }
            first = not animal.seen
            animal.seen = True
            mine: list[Event] = []
            for rule in self.rules:
                if rule.animal is not None and rule.animal != i + 1:
                    continue
                event = self._check(rule, animal, inside, x, y, time_s, first)
                if event is not None:
                    kind, zone, value = event
                    mine.append(
                        Event(
                            kind,
                            rule.name,
                            i + 1,
                            frame,
                            time_s,
                            zone,
                            value,
                            rule.outputs,
                            rule.payload,
                        )
                    )
            # Leaving one zone comes before entering the next, whatever the rules' order.
            events += sorted(mine, key=lambda e: e.kind != "zone_exit")
            for name, now in inside.items():
                if now and not animal.zones.get(name, False):
                    animal.visit_since[name] = time_s
                animal.zones[name] = now
        return events

    def no_frame(self, frame: int, time_s: float) -> list[Event]:
        """The camera delivered nothing (a stall): every animal is no data."""
        events: list[Event] = []
        for i in range(self.n):
            events += self._lost(i, frame, time_s)
        return events

    def current(self) -> list[dict[str, Any]]:
        """Per animal: present, its zones now, its speed (user units per second)."""
        return [
            {
                "animal": i + 1,
                "present": a.present,
                "zones": sorted(n for n, v in a.zones.items() if v) if a.present else [],
                "speed": None if a.speed is None or not a.present else round(a.speed, 2),
            }
            for i, a in enumerate(self.animals)
        ]

    # ----------------------------------------------------------------------------------------
    def _lost(self, i: int, frame: int, time_s: float) -> list[Event]:
        animal = self.animals[i]
        if not animal.present:
            return []
        animal.present = False
        animal.track.clear()
        animal.speed = None
        animal.since.clear()  # durations restart when it is seen again
        animal.fired.clear()
        for name in list(animal.visit_since):
            animal.visit_since[name] = math.nan  # a visit cut by no data is not timed on
        return [Event(NO_DATA, None, i + 1, frame, time_s)]

    def _speed(self, animal: _Animal) -> float | None:
        t, x, y = animal.track[-1]
        for t0, x0, y0 in animal.track:
            if t - t0 <= self.window + 1e-6:
                if t - t0 <= 0:
                    return animal.speed
                return math.hypot(x - x0, y - y0) * self.scale / (t - t0)
        return animal.speed

    def _held(self, rule: Rule, animal: _Animal, condition: bool, t: float, for_s: float) -> bool:
        """True once ``condition`` has held ``for_s`` seconds; fires once until it breaks."""
        if not condition:
            animal.since[rule.name] = None
            animal.fired[rule.name] = False
            return False
        if animal.since.get(rule.name) is None:
            animal.since[rule.name] = t
        if animal.fired.get(rule.name) or t - animal.since[rule.name] < for_s - 1e-9:
            return False
        animal.fired[rule.name] = True
        return True

    def _check(
        self,
        rule: Rule,
        animal: _Animal,
        inside: dict[str, bool],
        x: float,
        y: float,
        t: float,
        first: bool,
    ) -> tuple[str, str | None, float | None] | None:
        if rule.kind in ZONE_KINDS:
            zone = rule.zone or ""
            now, before = inside[zone], animal.zones.get(zone)
            if rule.kind == "zone_entry":
                return (rule.kind, zone, None) if (now and before is False and not first) else None
            if rule.kind == "zone_exit":
                return (rule.kind, zone, None) if (not now and before and not first) else None
            start = t if (now and not before) else animal.visit_since.get(zone, math.nan)
            stayed = t - start if now and math.isfinite(start) else -1.0
            if self._held(rule, animal, stayed >= rule.seconds - 1e-9, t, 0.0):
                return (rule.kind, zone, round(stayed, 3))
            return None
        if rule.kind.startswith("speed_"):
            if animal.speed is None:
                return None
            above = animal.speed > rule.threshold
            condition = above if rule.kind == "speed_above" else not above
            if self._held(rule, animal, condition, t, rule.for_s):
                return (rule.kind, None, round(animal.speed, 3))
            return None
        px, py = rule.point or (0.0, 0.0)
        distance = math.hypot(x - px, y - py) * self.scale
        near = distance <= rule.distance
        condition = near if rule.kind == "distance_below" else not near
        if self._held(rule, animal, condition, t, 0.0):
            return (rule.kind, None, round(distance, 3))
        return None
