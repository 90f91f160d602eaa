"""A whole run (every animal of one video) and the JSON shape scripts rely on.

``behavior_json`` returns::

    {"run": <run id>, "units": "cm" | "px", "fps": <float | null>,
     "animals": [{"animal", "distance", "mean_speed", "max_speed", "time_moving_s",
                  "time_immobile_s", "tracked_time_s", "untracked_time_s",
                  ["time_freezing_s",]
                  "zones": {NAME: {"time_s", "entries", "exits", "latency_s", "distance"}},
                  "bins": [{"start_s", "end_s", <the same keys as the animal>}, ...]}],
     "parameters": {...}}

Distances in ``units``, speeds in ``units`` per second, times in seconds; ``null`` where a
value does not exist (latency when never entered, mean speed with nothing tracked).
Definitions: :mod:`.measures`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .calibration import Calibration
from .measures import AnalysisParams, AnimalResult, Measures, analyze_trajectory
from .zones import Zone

_ZONE_KEYS = ("time_s", "entries", "exits", "latency_s", "distance")
_KEYS = (
    "distance",
    "mean_speed",
    "max_speed",
    "time_moving_s",
    "time_immobile_s",
    "tracked_time_s",
    "untracked_time_s",
)


@dataclass(frozen=True)
class AnimalTrack:
    """One animal's arrays: ``xy`` float64 (F, 2) centres, ``boxes`` optional (F, 4)
    ``x1, y1, x2, y2``; original-video pixels, NaN where missing."""

    animal: str | int
    xy: np.ndarray
    boxes: np.ndarray | None = None


def tracks_from_trajectory(trajectory: Any, labels: Sequence[str | int] | None = None):
    """``(time_s, [AnimalTrack, ...])`` from a :class:`tracking.engine.trajectory.Trajectory`
    (read by attribute, so this module does not import the engine). Animals are labelled
    ``labels`` or 1..N in the engine's identity order."""
    boxes = np.asarray(trajectory.boxes, dtype=np.float64)
    n = boxes.shape[1]
    labels = list(labels) if labels is not None else list(range(1, n + 1))
    centres = np.asarray(trajectory.centres(), dtype=np.float64)
    tracks = [AnimalTrack(labels[i], centres[:, i, :], boxes[:, i, :]) for i in range(n)]
    return np.asarray(trajectory.time_s, dtype=np.float64), tracks


def analyze_run(
    time_s: np.ndarray,
    tracks: Sequence[AnimalTrack],
    *,
    zones: Sequence[Zone] = (),
    calibration: Calibration | None = None,
    params: AnalysisParams | None = None,
    freezing: Mapping[str | int, np.ndarray] | None = None,
) -> list[AnimalResult]:
    """:func:`.measures.analyze_trajectory` for every animal of one video."""
    freezing = freezing or {}
    return [
        analyze_trajectory(
            time_s,
            track.xy,
            boxes=track.boxes,
            zones=zones,
            calibration=calibration,
            params=params,
            animal=track.animal,
            freezing=freezing.get(track.animal),
        )
        for track in tracks
    ]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _span(m: Measures) -> dict[str, Any]:
    out: dict[str, Any] = {key: getattr(m, key) for key in _KEYS}
    if m.time_freezing_s is not None:
        out["time_freezing_s"] = m.time_freezing_s
    out["zones"] = {
        name: {key: getattr(zm, key) for key in _ZONE_KEYS} for name, zm in m.zones.items()
    }
    return out


def behavior_json(
    run: Any, results: Sequence[AnimalResult], *, fps: float | None = None, units: str = "px"
) -> dict[str, Any]:
    """The JSON shape above; ``fps`` defaults to the results' (1 / median frame interval),
    ``units`` is only used when there are no animals."""
    first = results[0] if results else None
    animals = []
    for r in results:
        entry = {"animal": r.animal, **_span(r.totals)}
        entry["bins"] = [{"start_s": b.start_s, "end_s": b.end_s, **_span(b)} for b in r.bins]
        animals.append(entry)
    return _clean(
        {
            "run": run,
            "units": first.units if first else units,
            "fps": fps if fps is not None else (first.fps if first else None),
            "animals": animals,
            "parameters": first.parameters if first else {},
        }
    )
