"""The behaviour-analysis core: calibration, zones, measures, freezing, heatmaps, tables.

Pure Python (NumPy, SciPy, shapely, pandas, matplotlib's Agg canvas); no Django import, so
it runs in a worker, a script or a notebook alike. Coordinates are original-video pixels
(x right, y down); distances come out in cm when calibrated, else px. Bad input raises
:class:`BehaviorInputError` (a ValueError) naming the field.

Modules: :mod:`.calibration`, :mod:`.zones`, :mod:`.presets`, :mod:`.timebase`,
:mod:`.smoothing`, :mod:`.measures`, :mod:`.freezing`, :mod:`.heatmap`,
:mod:`.experiment`, :mod:`.report`.
"""

from .calibration import Calibration, calibration_from_arena, calibration_from_ruler
from .errors import BehaviorInputError
from .measures import AnalysisParams, AnimalResult, Bout, Measures, ZoneMeasures, analyze_trajectory
from .report import AnimalTrack, analyze_run, behavior_json, tracks_from_trajectory
from .zones import (
    CircleZone,
    PolygonZone,
    RectZone,
    Zone,
    ZoneError,
    parse_zones,
    zone_membership,
    zones_to_json,
)

__all__ = [
    "AnalysisParams",
    "AnimalResult",
    "AnimalTrack",
    "BehaviorInputError",
    "Bout",
    "Calibration",
    "CircleZone",
    "Measures",
    "PolygonZone",
    "RectZone",
    "Zone",
    "ZoneError",
    "ZoneMeasures",
    "analyze_run",
    "analyze_trajectory",
    "behavior_json",
    "calibration_from_arena",
    "calibration_from_ruler",
    "parse_zones",
    "tracks_from_trajectory",
    "zone_membership",
    "zones_to_json",
]
