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
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from django.core.cache import cache
from django.core.exceptions import ValidationError

from labeling.models import Project, Video
from webapp.models import JobStatus

from .behavior import (
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
from .behavior.errors import positive_number
from .behavior.experiment import (
    Subject,
    experiment_table,
    group_plot_png,
    group_summary,
    measure_columns,
    write_csv,
    write_xlsx,
)
from .behavior.heatmap import occupancy_grid, render_heatmap_png, render_trajectory_png
from .behavior.smoothing import smooth_positions
from .behavior_freezing import MAX_REQUEST_FRAMES, FreezingRequest, freezing_masks, freezing_request
from .behavior_models import SETTINGS_FIELDS, ArenaSetup, Membership, SubjectInfo
from .models import TrackingRun
from .selectors import (
    active_edit_state,
    analysis_settings_for,
    latest_run_per_video,
    tracking_run_trajectory,
)

CACHE_SECONDS = 15 * 60
CACHE_VERSION = 2
# The project-level parameters and what a request may add.
PARAM_FIELDS = (*SETTINGS_FIELDS, "membership")
ALIASES = {"bins": "bin_s", "start": "start_s", "end": "end_s"}
_FLOATS = {"start_s", "end_s", "bin_s", "immobile_speed", "min_immobile_s", "max_gap_s"}
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
        row = analysis_settings_for(project=project)
        values = {name: getattr(row, name) for name in SETTINGS_FIELDS}
        values["smoothing"] = values["smoothing"] or None
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
def _require_trajectory(run: TrackingRun) -> None:
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
) -> list[AnimalResult]:
    """Every animal's measures (cached, see the module docstring); with ``freezing`` asked,
    ``time_freezing_s`` too (``tracking.behavior_freezing``: decodes the video)."""
    _require_trajectory(run)
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
) -> dict[str, Any]:
    """The run's measures in the ``tracking.behavior.report.behavior_json`` shape, plus
    ``video``, ``calibration``, ``zones``, per zone ``percent`` and ``mean_speed``, and the
    zone ``bouts`` of each animal.

    ``params``: overrides of the project's settings (or ready AnalysisParams), and the
    freezing parameters (``tracking.behavior_freezing``); ``zones`` / ``px_per_cm``: used
    instead of the video's arena when given.
    """
    _require_trajectory(run)
    arena = arena_context(video=run.video, zones=zones, px_per_cm=px_per_cm)
    freezing = FreezingRequest(None)
    if not isinstance(params, AnalysisParams):
        freezing, params = freezing_request(params)
        params = analysis_params_clean(
            project=run.project, overrides=params, membership=arena.membership, unions=arena.unions
        )
    results = run_results(
        run=run,
        arena=arena,
        params=params,
        freezing=freezing,
        freezing_max_frames=freezing_max_frames,
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
    return _jsonable(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
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
    from .behavior_frames import arena_background_array

    _require_trajectory(run)
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
        if kind == "heatmap":
            occupancy = occupancy_grid(
                time_s,
                xy,
                frame_width=video.width,
                frame_height=video.height,
                cell_size=cell,
                calibration=arena.calibration,
                start_s=p.start_s,
                end_s=p.end_s,
                sigma_cells=sigma,
            )
            png = render_heatmap_png(
                occupancy,
                background=background,
                title=f"Animal {track.animal}: occupancy ({occupancy.total_s:.1f} s tracked)",
            )
        else:
            png = render_trajectory_png(
                time_s,
                xy,
                frame_width=video.width,
                frame_height=video.height,
                background=background,
                start_s=p.start_s,
                end_s=p.end_s,
                title=f"Animal {track.animal}: trajectory",
            )
    except BehaviorInputError as exc:
        raise invalid(exc) from None
    cache.set(key, png, CACHE_SECONDS)
    return png


# --- the experiment -------------------------------------------------------------------
@dataclass
class Experiment:
    """One row per video × animal (× bin): ``table``; per group (× bin) and measure:
    ``summary``; ``measures``: the measure columns; ``runs``: each run's parameters;
    ``bouts``: one row per visit to a zone (video, animal, zone, entry, exit, duration)."""

    table: pd.DataFrame
    summary: pd.DataFrame
    measures: list[str]
    runs: list[dict[str, Any]]
    by_bin: bool
    units: str | None
    bouts: pd.DataFrame = field(default_factory=pd.DataFrame)

    def as_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "units": self.units,
                "by_bin": self.by_bin,
                "columns": [str(c) for c in self.table.columns],
                "measures": self.measures,
                "rows": _records(self.table),
                "summary": _records(self.summary),
                "runs": self.runs,
            }
        )


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r}
        for r in (row.items() for row in df.astype(object).to_dict(orient="records"))
    ]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def trust_figures(trust: Any, animal: int) -> dict[str, float]:
    """The run's numeric trust figures for one animal: top-level numbers, then those of
    ``trust["animals"][<animal>]`` (a mapping by number, or a list in animal order)."""
    if not isinstance(trust, Mapping):
        return {}
    out = {str(k): float(v) for k, v in trust.items() if _number(v)}
    per = trust.get("animals", trust.get("per_animal"))
    item = None
    if isinstance(per, Mapping):
        item = per.get(str(animal), per.get(animal))
    elif isinstance(per, list) and 0 < animal <= len(per):
        item = per[animal - 1]
    if isinstance(item, Mapping):
        out.update({str(k): float(v) for k, v in item.items() if _number(v)})
    return out


def _run_label(run: TrackingRun) -> str:
    return f"Video “{run.video.original_name}” (run {run.pk})"


def experiment_table_build(
    *,
    project: Project,
    runs: Sequence[TrackingRun] | None = None,
    params: Mapping[str, Any] | None = None,
    by_bin: bool = False,
    groups: Sequence[str] | None = None,
) -> Experiment:
    """The experiment table of ``runs`` (default: each video's newest succeeded run), with
    each video's arena and subject, and the group summary (mean ± SEM).

    ``params``: overrides of the project's settings; ``by_bin``: one row per time bin
    (needs ``bin_s``); ``groups``: keep only videos of these groups. A run that cannot be
    analysed is a ValidationError naming the field and the video.
    """
    if runs is None:
        runs = sorted(
            latest_run_per_video(project=project).values(),
            key=lambda r: (r.video.original_name.casefold(), r.video_id),
        )
    runs = list(runs)
    for run in runs:
        if run.project_id != project.pk:
            raise ValidationError({"runs": f"Run {run.pk} is not in this project."})
    infos = SubjectInfo.objects.filter(video__in=[r.video_id for r in runs])
    subjects = {s.video_id: s for s in infos}
    if groups is not None:
        wanted = set(groups)
        runs = [r for r in runs if (s.group if (s := subjects.get(r.video_id)) else "") in wanted]
    rows: list[tuple[Subject, AnimalResult]] = []
    ids: list[tuple[int, int]] = []
    described: list[dict[str, Any]] = []
    bouts: list[dict[str, Any]] = []
    freezing, params = freezing_request(params)
    for run in runs:
        try:
            _require_trajectory(run)
            arena = arena_context(video=run.video)
            p = analysis_params_clean(
                project=project, overrides=params, membership=arena.membership, unions=arena.unions
            )
            if by_bin and p.bin_s is None:
                raise ValidationError({"bin_s": "Give a bin length to split the table by bin."})
            results = run_results(run=run, arena=arena, params=p, freezing=freezing)
        except ValidationError as exc:
            raise ValidationError(
                {k: [f"{_run_label(run)}: {m}" for m in v] for k, v in exc.message_dict.items()}
            ) from None
        info = subjects.get(run.video_id)
        for result in results:
            animal = int(result.animal)
            subject = Subject(
                video=run.video.original_name,
                animal=animal,
                subject_id=info.subject_id if info else "",
                group=info.group if info else "",
                session=info.session if info else "",
                notes=info.notes if info else "",
                trust=trust_figures(run.trust, animal),
            )
            rows.append((subject, result))
            bouts.extend(
                {"video": run.video.original_name, "video_id": run.video_id, "run": run.pk}
                | {"animal": animal, "subject_id": subject.subject_id, "group": subject.group}
                | asdict(bout)
                for bout in result.bouts
            )
            ids.extend([(run.video_id, run.pk)] * (max(len(result.bins), 1) if by_bin else 1))
        described.append(
            {
                "run": run.pk,
                "video": run.video_id,
                "video_name": run.video.original_name,
                "arena": arena.source,
                "parameters": results[0].parameters if results else {},
            }
        )
    try:
        table = experiment_table(rows, by_bin=by_bin)
    except BehaviorInputError as exc:
        raise invalid(exc) from None
    measures = measure_columns(table)
    summary = group_summary(table, measures)
    table.insert(1, "video_id", [v for v, _ in ids] if len(table) else [])
    table.insert(2, "run", [r for _, r in ids] if len(table) else [])
    units = rows[0][1].units if rows else None
    bout_table = pd.DataFrame(bouts, columns=BOUT_COLUMNS)
    return Experiment(table, summary, measures, described, by_bin, units, bout_table)


BOUT_COLUMNS = [
    "video",
    "video_id",
    "run",
    "animal",
    "subject_id",
    "group",
    "zone",
    "entry_s",
    "exit_s",
    "duration_s",
    "starts_at_window_start",
    "ends_at_window_end",
]


def experiment_csv(experiment: Experiment) -> str:
    buffer = io.StringIO()
    write_csv(experiment.table, buffer)
    return buffer.getvalue()


def experiment_xlsx(experiment: Experiment) -> bytes:
    """Sheets: the table, the group summary, every zone bout, and every run's parameters
    (one per row)."""
    parameters = pd.DataFrame(
        [
            {
                "run": r["run"],
                "video_id": r["video"],
                "video": r["video_name"],
                "parameter": name,
                "value": json.dumps(_jsonable(value)),
            }
            for r in experiment.runs
            for name, value in sorted(r["parameters"].items())
        ],
        columns=["run", "video_id", "video", "parameter", "value"],
    )
    buffer = io.BytesIO()
    write_xlsx(
        {
            "experiment": experiment.table,
            "summary": experiment.summary,
            "bouts": experiment.bouts,
            "parameters": parameters,
        },
        buffer,
    )
    return buffer.getvalue()


def experiment_plot_png(experiment: Experiment, *, measure: str, kind: str = "bar") -> bytes:
    if measure not in experiment.measures:
        raise ValidationError({"measure": f"No measure {measure[:100]!r} in the table."})
    try:
        return group_plot_png(experiment.table, measure, kind=kind)
    except BehaviorInputError as exc:
        raise invalid(exc) from None


# --- definitions for the pages ----------------------------------------------------------
def analysis_definitions() -> list[tuple[str, str]]:
    """The definitions the measures follow, from the core's own docstrings."""
    from .behavior import freezing, heatmap, measures, smoothing, timebase, zones

    return [
        ("Measures", inspect.cleandoc(measures.__doc__ or "")),
        ("Time and the analysis window", inspect.cleandoc(timebase.__doc__ or "")),
        ("Zones and membership", inspect.cleandoc(zones.__doc__ or "")),
        ("Smoothing", inspect.cleandoc(smoothing.__doc__ or "")),
        ("Freezing (when asked)", inspect.cleandoc(freezing.__doc__ or "")),
        ("Heatmap and trajectory", inspect.cleandoc(heatmap.__doc__ or "")),
    ]
