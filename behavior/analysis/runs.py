"""Behaviour measures of tracking runs, computed on request from their trajectories.

Nothing per frame is stored: a run's measures come from its trajectory (with its edits,
through ``tracking.selectors.tracking_run_trajectory``), its video's arena
(``ArenaSetup``: zones and calibration) and the analysis parameters (the project's
``AnalysisSettings``, each overridable per request). Every value used is echoed in the
results' ``parameters``.

Results are cached (Django's cache) under a key made of the run, its trajectory file and
checksum, its edits (and which are reverted), the zones, the calibration and every
parameter: a change to any of them is a new key, so a cached result is never stale.

Errors of the core (``BehaviorInputError``) become ``ValidationError`` naming the field
(``end_s``, ``zones[0].w``), answered with HTTP 400 by the API.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from django.core.cache import cache
from django.core.exceptions import ValidationError

from behavior.core import (
    AnalysisParams,
    AnimalResult,
    BehaviorInputError,
    Calibration,
    Zone,
    analyze_run,
    behavior_json,
    parse_zones,
    tracks_from_trajectory,
)
from behavior.core.errors import positive_number
from behavior.core.heatmap import occupancy_grid, render_heatmap_png, render_trajectory_png
from behavior.core.smoothing import smooth_positions
from behavior.freezing.motion import (
    MAX_REQUEST_FRAMES,
    FreezingRequest,
    freezing_masks,
    freezing_request,
)
from behavior.models import SETTINGS_FIELDS, ArenaSetup, Membership
from behavior.selectors import analysis_settings_for
from labeling.models import Project, Video
from tracking.models import TrackingRun
from tracking.selectors import active_edit_state, tracking_run_trajectory
from webapp.models import JobStatus

CACHE_SECONDS = 15 * 60
CACHE_VERSION = 2
# The project-level parameters and what a request may add.
PARAM_FIELDS = (*SETTINGS_FIELDS, "membership")
ALIASES = {"bins": "bin_s", "start": "start_s", "end": "end_s"}
_FLOATS = {
    "start_s",
    "end_s",
    "bin_s",
    "immobile_speed",
    "min_immobile_s",
    "max_gap_s",
    "min_bout_s",
}
_OPTIONAL = {"start_s", "end_s", "bin_s"}
_INTS = {"smoothing_window", "savgol_polyorder"}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def invalid(exc: BehaviorInputError, prefix: str = "") -> ValidationError:
    return ValidationError({f"{prefix}{exc.field}": exc.message})


# --- parameters -----------------------------------------------------------------------
def _float(value: Any, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if name in _OPTIONAL:
            return None
        raise ValidationError({name: "This field is required."})
    if isinstance(value, bool):
        raise ValidationError({name: "Must be a number, got a boolean."})
    try:
        if isinstance(value, str):
            return float(value.strip())  # "nan" and "1e999" parse: the core names them
        if isinstance(value, int | float):
            return float(value)
    except (ValueError, OverflowError):
        pass
    raise ValidationError({name: f"Must be a number, got {str(value)[:40]!r}."})


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ValidationError({name: "Must be a whole number."})
    if isinstance(value, int):
        return value
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError({name: "Must be a whole number."}) from None
    if not math.isfinite(number) or number != int(number) or abs(number) > 1e9:
        raise ValidationError({name: "Must be a whole number."})
    return int(number)


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationError({name: "Must be true or false."})


def _coerce(name: str, value: Any) -> Any:
    if name in _FLOATS:
        return _float(value, name)
    if name in _INTS:
        return _int(value, name)
    if name == "count_initial_entry":
        return _bool(value, name)
    if name == "box_overlap":
        return _float(value, name)
    if name == "smoothing":
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        if not isinstance(value, str):
            raise ValidationError({name: "Must be none, median or savgol."})
        return value.strip().lower()
    if name == "membership":
        if not isinstance(value, str):
            raise ValidationError({name: "Must be centre or box."})
        return value.strip().lower()
    raise ValidationError({name: "Unknown parameter."})


SETTINGS_WHERE = "“Analysis settings” on the project's Experiment page"


def saved_settings(*, project: Project) -> tuple[dict[str, Any], dict[str, str]]:
    """The project's saved analysis settings as parameters, and a warning per saved value
    that fails validation (stored before it was validated, or by hand): such a value is
    replaced by the core's default, so a bad setting never blocks every analysis and
    export of the project; the warning names it and where to fix it."""
    row = analysis_settings_for(project=project)
    values = {name: getattr(row, name) for name in SETTINGS_FIELDS}
    values["smoothing"] = values["smoothing"] or None
    defaults = AnalysisParams()
    warnings: dict[str, str] = {}
    for _ in range(len(SETTINGS_FIELDS) + 1):
        try:
            AnalysisParams(**values).checked()
            break
        except (BehaviorInputError, TypeError) as exc:
            name = getattr(exc, "field", "")
            if name not in SETTINGS_FIELDS:
                break  # not a saved value's fault; the analysis names it
            # The window's two ends go together: start 50 s with end 10 s is one mistake.
            names = ("start_s", "end_s") if name in ("start_s", "end_s") else (name,)
            shown = ", ".join(f"{n} = {values[n]!r}" for n in names if values[n] is not None)
            warnings[name] = (
                f"The saved analysis setting {shown} is invalid "
                f"({getattr(exc, 'message', exc)}); the default "
                f"({', '.join(repr(getattr(defaults, n)) for n in names)}) was used. "
                f"Fix it under {SETTINGS_WHERE}."
            )
            for n in names:
                values[n] = getattr(defaults, n)
    return values, warnings


def settings_warnings(*, project: Project, overrides: Mapping[str, Any] | None) -> list[str]:
    """The warnings of :func:`saved_settings` for the values a request did not override."""
    given = {ALIASES.get(k, k) for k in (overrides or {})}
    _, warnings = saved_settings(project=project)
    window = {"start_s", "end_s"}
    return [
        text
        for name, text in warnings.items()
        if name not in given and not (name in window and window <= given)
    ]


def analysis_params_clean(
    *,
    project: Project,
    overrides: Mapping[str, Any] | None = None,
    membership: str = Membership.CENTRE,
    unions: Mapping[str, Sequence[str]] | None = None,
    use_settings: bool = True,
) -> AnalysisParams:
    """The parameters of an analysis: the project's settings (or the core's defaults),
    ``membership``/``unions`` of the arena, then ``overrides`` (numbers or the strings of a
    query; ``""`` clears an optional one). ``ValidationError`` names the parameter."""
    values: dict[str, Any] = {}
    if use_settings:
        values, _ = saved_settings(project=project)
    values["membership"] = membership
    for raw_name, value in (overrides or {}).items():
        name = ALIASES.get(raw_name, raw_name)
        if name not in PARAM_FIELDS:
            raise ValidationError({str(raw_name)[:60]: "Unknown parameter."})
        values[name] = _coerce(name, value)
    try:
        return AnalysisParams(**values, unions=dict(unions or {})).checked()
    except BehaviorInputError as exc:
        raise invalid(exc) from None


# --- arena ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ArenaContext:
    """What a run is measured against: zones (original-video px), calibration, membership
    and unions; ``source`` is "setup", "override" or "none"."""

    zones: list[Zone]
    calibration: Calibration
    membership: str = Membership.CENTRE
    unions: dict[str, list[str]] = field(default_factory=dict)
    source: str = "none"
    method: str = "none"


def arena_context(*, video: Video, zones: Any = None, px_per_cm: Any = None) -> ArenaContext:
    """The video's stored arena, or ``zones`` (zone JSON) / ``px_per_cm`` given instead."""
    setup = ArenaSetup.objects.filter(video=video).first()
    width = float(video.width) if video.width else None
    height = float(video.height) if video.height else None
    membership = setup.membership if setup else Membership.CENTRE
    if zones is not None:
        try:
            parsed = parse_zones(zones, frame_width=width, frame_height=height)
        except BehaviorInputError as exc:
            raise invalid(exc) from None
        unions: dict[str, list[str]] = {}
        source = "override"
    else:
        parsed = parse_zones(setup.zones) if setup else []
        unions = dict(setup.unions) if setup else {}
        source = "setup" if setup else "none"
    method = setup.calibration_method if setup else "none"
    if px_per_cm is not None:
        try:
            calibration = Calibration(positive_number(px_per_cm, "px_per_cm"))
        except BehaviorInputError as exc:
            raise invalid(exc) from None
        method = "given"
    else:
        calibration = Calibration(setup.px_per_cm if setup else None)
    return ArenaContext(parsed, calibration, membership, unions, source, method)


# --- one run --------------------------------------------------------------------------
def require_trajectory(run: TrackingRun) -> None:
    """A ValidationError naming ``run`` unless it has succeeded with a trajectory."""
    if run.status != JobStatus.SUCCEEDED or not run.trajectory:
        raise ValidationError({"run": "The run has no trajectory yet (it has not succeeded)."})


def _cache_key(run: TrackingRun, arena: ArenaContext, params: AnalysisParams, *extra) -> str:
    payload = {
        "v": CACHE_VERSION,
        "run": run.pk,
        "file": run.trajectory.name,
        "sha": run.trajectory_sha256,
        "edits": active_edit_state(run=run),
        "zones": [z.to_json() for z in arena.zones],
        "px_per_cm": arena.calibration.px_per_cm,
        "params": params.as_dict(),
        "extra": list(extra),
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    return f"behavior:{digest.hexdigest()}"


def run_results(
    *,
    run: TrackingRun,
    arena: ArenaContext,
    params: AnalysisParams,
    freezing: FreezingRequest | None = None,
    freezing_max_frames: int | None = MAX_REQUEST_FRAMES,
    freezing_motion: np.ndarray | None = None,
) -> list[AnimalResult]:
    """Every animal's measures (cached, see the module docstring); with ``freezing`` asked,
    ``time_freezing_s`` too, from ``freezing_motion`` (a finished ``FreezingJob``'s) or
    measured here (``behavior.freezing.motion``: decodes the video)."""
    require_trajectory(run)
    freezing = freezing or FreezingRequest(None)
    key = _cache_key(run, arena, params, freezing.as_dict())
    results = cache.get(key)
    if results is None:
        trajectory = tracking_run_trajectory(run=run)
        time_s, tracks = tracks_from_trajectory(trajectory)
        masks = None
        if freezing.params is not None:
            masks = freezing_masks(
                run=run,
                trajectory=trajectory,
                labels=[t.animal for t in tracks],
                params=freezing.params,
                max_frames=freezing_max_frames,
                motion=freezing_motion,
            )
        try:
            results = analyze_run(
                time_s,
                tracks,
                zones=arena.zones,
                calibration=arena.calibration,
                params=params,
                freezing=masks,
            )
        except BehaviorInputError as exc:
            raise invalid(exc) from None
        for result in results:
            result.parameters["freezing"] = freezing.as_dict()
        cache.set(key, results, CACHE_SECONDS)
    return results


def _zone_extras(entry: dict, measures) -> None:
    """Add percent and mean speed to each zone, and the other time figures, to one span."""
    entry["analysed_time_s"] = measures.analysed_time_s
    entry["time_unclassified_s"] = measures.time_unclassified_s
    for name, zm in measures.zones.items():
        entry["zones"][name]["percent"] = zm.percent
        entry["zones"][name]["mean_speed"] = zm.mean_speed


def run_analysis(
    *,
    run: TrackingRun,
    params: Mapping[str, Any] | AnalysisParams | None = None,
    zones: Any = None,
    px_per_cm: Any = None,
    freezing_max_frames: int | None = MAX_REQUEST_FRAMES,
    freezing_jobs: bool = False,
) -> dict[str, Any]:
    """The run's measures in the ``behavior.core.report.behavior_json`` shape, plus
    ``video``, ``calibration``, ``zones``, per zone ``percent`` and ``mean_speed``, and the
    zone ``bouts`` of each animal.

    ``params``: overrides of the project's settings (or ready AnalysisParams), and the
    freezing parameters (``behavior.freezing.motion``); ``zones`` / ``px_per_cm``: used
    instead of the video's arena when given. ``freezing_jobs``: freezing comes only from
    a finished ``FreezingJob`` (``behavior.freezing.services``; what requests use: they never
    decode the video); without one the measures come without freezing and
    ``freezing_job`` says where it stands.
    """
    require_trajectory(run)
    arena = arena_context(video=run.video, zones=zones, px_per_cm=px_per_cm)
    freezing = FreezingRequest(None)
    warnings = []
    if not isinstance(params, AnalysisParams):
        freezing, params = freezing_request(params)
        warnings = settings_warnings(project=run.project, overrides=params)
        params = analysis_params_clean(
            project=run.project, overrides=params, membership=arena.membership, unions=arena.unions
        )
    job_state, motion = None, None
    if freezing_jobs and freezing.params is not None:
        from behavior.freezing.serializers import freezing_job_state
        from behavior.freezing.services import freezing_job_for, freezing_job_motion

        job = freezing_job_for(run=run, params=freezing.params)
        motion = freezing_job_motion(job=job) if job else None
        job_state = freezing_job_state(job)
        if motion is None:
            freezing = FreezingRequest(None)  # not measured yet: the rest of the measures
    results = run_results(
        run=run,
        arena=arena,
        params=params,
        freezing=freezing,
        freezing_max_frames=freezing_max_frames,
        freezing_motion=motion,
    )
    out = behavior_json(
        run.pk, results, units=arena.calibration.units, fps=None if results else run.video.fps
    )
    for entry, result in zip(out["animals"], results, strict=True):
        _zone_extras(entry, result.totals)
        for bin_entry, measures in zip(entry["bins"], result.bins, strict=True):
            _zone_extras(bin_entry, measures)
        entry["bouts"] = [asdict(b) for b in result.bouts]
    out["video"] = {
        "id": run.video_id,
        "name": run.video.original_name,
        "width": run.video.width,
        "height": run.video.height,
    }
    out["calibration"] = {
        "method": arena.method,
        "px_per_cm": arena.calibration.px_per_cm,
        "units": arena.calibration.units,
    }
    out["arena"] = arena.source
    out["zones"] = [z.to_json() for z in arena.zones]
    out["unions"] = arena.unions
    out["warnings"] = warnings
    if job_state is not None:
        out["freezing_job"] = job_state
    return jsonable(out)


def jsonable(value: Any) -> Any:
    """``value`` with NaN/infinite floats as None, numpy scalars and tuples as JSON types."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _animal_index(animal: Any, count: int) -> int:
    try:
        number = int(str(animal).strip())
    except ValueError:
        number = 0
    if not 1 <= number <= count:
        raise ValidationError({"animal": f"Must be an animal number from 1 to {count}."})
    return number - 1


def run_image_png(
    *,
    run: TrackingRun,
    kind: Literal["heatmap", "trajectory"],
    animal: Any = 1,
    params: Mapping[str, Any] | None = None,
    cell_size: Any = None,
    sigma_cells: Any = 0.0,
) -> bytes:
    """A PNG of one animal over the analysis window: its occupancy heatmap or its path
    coloured by time, over a still of the video. ``cell_size`` in the output units (cm when
    calibrated, else px); ``sigma_cells``: Gaussian smoothing of the heatmap, in cells."""
    from behavior.arenas.frames import arena_background_array

    require_trajectory(run)
    video = run.video
    if not video.width or not video.height:
        raise ValidationError({"video": "The video's frame size is unknown."})
    arena = arena_context(video=video)
    _, params = freezing_request(params)  # the images do not show freezing
    p = analysis_params_clean(project=run.project, overrides=params, membership=arena.membership)
    cell = None if cell_size in (None, "") else _float(cell_size, "cell_size")
    sigma = _float(sigma_cells if sigma_cells not in (None, "") else 0.0, "sigma_cells")
    key = _cache_key(run, arena, p, kind, str(animal), cell, sigma, video.thumbnail.name or "")
    cached = cache.get(key)
    if cached is not None:
        return cached
    time_s, tracks = tracks_from_trajectory(tracking_run_trajectory(run=run))
    track = tracks[_animal_index(animal, len(tracks))]
    background = arena_background_array(video=video)
    try:
        xy = smooth_positions(
            track.xy, p.smoothing, window=p.smoothing_window, polyorder=p.savgol_polyorder
        )
        # Both images: the frame, the analysis window and the calibration.
        frame = {
            "frame_width": video.width,
            "frame_height": video.height,
            "start_s": p.start_s,
            "end_s": p.end_s,
            "calibration": arena.calibration,
        }
        if kind == "heatmap":
            occupancy = occupancy_grid(time_s, xy, cell_size=cell, sigma_cells=sigma, **frame)
            png = render_heatmap_png(
                occupancy,
                background=background,
                title=f"Animal {track.animal}: occupancy ({occupancy.total_s:.1f} s tracked)",
            )
        else:
            title = f"Animal {track.animal}: trajectory"
            png = render_trajectory_png(time_s, xy, background=background, title=title, **frame)
    except BehaviorInputError as exc:
        raise invalid(exc) from None
    cache.set(key, png, CACHE_SECONDS)
    return png


# --- definitions for the pages ----------------------------------------------------------
def analysis_definitions() -> list[tuple[str, str]]:
    """The definitions the measures follow, from the core's own docstrings."""
    from behavior.core import freezing, heatmap, measures, smoothing, timebase, zones

    return [
        ("Measures", inspect.cleandoc(measures.__doc__ or "")),
        ("Time and the analysis window", inspect.cleandoc(timebase.__doc__ or "")),
        ("Zones and membership", inspect.cleandoc(zones.__doc__ or "")),
        ("Smoothing", inspect.cleandoc(smoothing.__doc__ or "")),
        ("Freezing (when asked)", inspect.cleandoc(freezing.__doc__ or "")),
        ("Heatmap and trajectory", inspect.cleandoc(heatmap.__doc__ or "")),
    ]
