"""Every write of the behaviour analysis: a video's arena (calibration, zones, preset),
arena templates and applying them to videos (subjects and the analysis settings are in
:mod:`behavior.experiment.services`).

Input is validated by the pure core (``behavior.core``) before anything is stored; its
``BehaviorInputError`` becomes a Django ``ValidationError`` naming the same field
(``zones[1].points``, ``ruler.length_cm``, ``preset_params.outline.w``), which the API
answers with HTTP 400. Nothing is written when any part of a request is refused.

The analysis itself (``run_analysis``, ``experiment_table_build``) reads and computes but
writes nothing; it lives in :mod:`behavior.analysis.runs` and
:mod:`behavior.experiment.table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from behavior.core import BehaviorInputError, calibration_from_arena, calibration_from_ruler
from behavior.core import presets as behavior_presets
from behavior.core.errors import HUGE, finite_number
from behavior.core.zones import Zone, parse_zones, scale_zones, translate_zones, validate_zones
from behavior.models import (
    ArenaSetup,
    ArenaTemplate,
    CalibrationMethod,
    Membership,
    Preset,
)
from labeling.models import Project, Video

ARENA_KEYS = (
    "calibration",
    "ruler",
    "arena",
    "zones",
    "unions",
    "preset",
    "preset_params",
    "membership",
)
MAX_UNIONS = 20
MAX_TEXT = 100
MAX_NOTES = 2000
MAX_CSV_BYTES = 2 * 1024**2
MAX_CSV_ROWS = 10_000
MAX_CSV_ERRORS = 20
# A nudge larger than this is not a nudge: the template is for another setup.
NUDGE_SCALE_RANGE = (0.2, 5.0)
# Frame sizes whose aspect ratios differ by more than this cannot share a template.
MAX_ASPECT_DIFFERENCE = 0.01
MAX_SETTING_S = 7 * 24 * 3600


def invalid(exc: BehaviorInputError, prefix: str = "") -> ValidationError:
    """The core's error as a ValidationError naming ``<prefix><field>``."""
    return ValidationError({f"{prefix}{exc.field}": exc.message})


# --- arena ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CleanArena:
    """An arena validated against a frame size; ``zones`` parsed, the rest as stored."""

    calibration_method: str
    ruler: dict | None
    arena: dict | None
    px_per_cm: float | None
    zones: list[Zone]
    unions: dict[str, list[str]] = field(default_factory=dict)
    preset: str = ""
    preset_params: dict = field(default_factory=dict)
    membership: str = Membership.CENTRE

    def model_fields(self) -> dict[str, Any]:
        return {
            "calibration_method": self.calibration_method,
            "ruler": self.ruler,
            "arena": self.arena,
            "px_per_cm": self.px_per_cm,
            "zones": [z.to_json() for z in self.zones],
            "unions": self.unions,
            "preset": self.preset,
            "preset_params": self.preset_params,
            "membership": self.membership,
        }


def _frame_size(width: Any, height: Any) -> tuple[float | None, float | None]:
    # A video whose probe found no size (0) cannot check zones against its frame.
    if not width or not height:
        return None, None
    return float(width), float(height)


def _mapping(value: Any, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValidationError({where: f"Must be an object, got {type(value).__name__}."})
    return value


def _outline(value: Any, where: str, width: float | None, height: float | None) -> Zone:
    """One zone JSON (the arena outline) parsed and checked against the frame."""
    if isinstance(value, Mapping) and "name" not in value:
        value = {"name": "arena", **value}
    try:
        return parse_zones([value], frame_width=width, frame_height=height, field_name=where)[0]
    except BehaviorInputError as exc:
        # "arena.outline[0].w" -> "arena.outline.w": there is only one outline.
        raise ValidationError({exc.field.replace(f"{where}[0]", where, 1): exc.message}) from None


def _in_frame(x: float, y: float, where: str, width: float | None, height: float | None):
    if width is not None and not (0 <= x <= width and 0 <= y <= height):
        raise ValidationError(
            {where: f"({x:g}, {y:g}) lies outside the {width:g}×{height:g} px frame."}
        )


def _ruler(value: Any, width: float | None, height: float | None) -> tuple[dict, float]:
    data = _mapping(value, "ruler")
    unknown = sorted(set(data) - {"x1", "y1", "x2", "y2", "length_cm"})
    if unknown:
        raise ValidationError({f"ruler.{unknown[0]}": "Unknown field."})
    for key in ("x1", "y1", "x2", "y2", "length_cm"):
        if key not in data:
            raise ValidationError({f"ruler.{key}": "This field is required."})
    try:
        calibration = calibration_from_ruler(
            x1=data["x1"], y1=data["y1"], x2=data["x2"], y2=data["y2"], length_cm=data["length_cm"]
        )
    except BehaviorInputError as exc:
        raise invalid(exc) from None
    clean = {key: float(data[key]) for key in ("x1", "y1", "x2", "y2", "length_cm")}
    _in_frame(clean["x1"], clean["y1"], "ruler.x1", width, height)
    _in_frame(clean["x2"], clean["y2"], "ruler.x2", width, height)
    return clean, float(calibration.px_per_cm)


def _arena(value: Any, width: float | None, height: float | None) -> tuple[dict, float]:
    data = _mapping(value, "arena")
    unknown = sorted(set(data) - {"outline", "width_cm", "height_cm"})
    if unknown:
        raise ValidationError({f"arena.{unknown[0]}": "Unknown field."})
    for key in ("outline", "width_cm", "height_cm"):
        if key not in data:
            raise ValidationError({f"arena.{key}": "This field is required."})
    outline = _outline(data["outline"], "arena.outline", width, height)
    try:
        calibration = calibration_from_arena(
            outline=outline, width_cm=data["width_cm"], height_cm=data["height_cm"]
        )
    except BehaviorInputError as exc:
        raise invalid(exc) from None
    clean = {
        "outline": outline.to_json(),
        "width_cm": float(data["width_cm"]),
        "height_cm": float(data["height_cm"]),
    }
    return clean, float(calibration.px_per_cm)


def _choice(value: Any, where: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationError({where: f"Must be one of {', '.join(map(repr, choices))}."})
    return value


_PRESET_PARAMS = {
    Preset.OPEN_FIELD: {"outline", "side_fraction"},
    Preset.ELEVATED_PLUS_MAZE: {"outline", "arm_width", "open_axis"},
    Preset.LIGHT_DARK_BOX: {"outline", "light_side", "light_fraction"},
    Preset.NOVEL_OBJECT: {"objects", "radius"},
}


def preset_zones(
    *, preset: str, params: Any, frame_width: float | None, frame_height: float | None
) -> tuple[list[Zone], dict, dict[str, list[str]]]:
    """The zones of an assay preset from its parameters: ``(zones, clean params, unions)``.

    Errors name ``preset_params.<param>`` (``preset_params.outline.w``, ``.side_fraction``).
    """
    preset = _choice(preset, "preset", [p.value for p in Preset if p.value])
    data = _mapping(params if params is not None else {}, "preset_params")
    unknown = sorted(set(data) - _PRESET_PARAMS[preset])
    if unknown:
        raise ValidationError({f"preset_params.{unknown[0]}": "Unknown parameter of this preset."})
    clean: dict[str, Any] = {}
    unions: dict[str, list[str]] = {}
    kwargs: dict[str, Any] = {}
    if "outline" in _PRESET_PARAMS[preset]:
        if "outline" not in data:
            raise ValidationError({"preset_params.outline": "Drag the arena's outline first."})
        outline = _outline(data["outline"], "preset_params.outline", frame_width, frame_height)
        clean["outline"] = outline.to_json()
    for key in _PRESET_PARAMS[preset] - {"outline", "objects"}:
        if key in data:
            kwargs[key] = data[key]
            clean[key] = data[key]
    try:
        if preset == Preset.OPEN_FIELD:
            zones = behavior_presets.open_field(outline, **kwargs)
        elif preset == Preset.ELEVATED_PLUS_MAZE:
            if "arm_width" not in kwargs:
                raise BehaviorInputError("arm_width", "is required")
            zones = behavior_presets.elevated_plus_maze(outline, **kwargs)
            unions = {k: list(v) for k, v in behavior_presets.EPM_UNIONS.items()}
        elif preset == Preset.LIGHT_DARK_BOX:
            zones = behavior_presets.light_dark_box(outline, **kwargs)
        else:
            if "objects" not in data or "radius" not in data:
                missing = "objects" if "objects" not in data else "radius"
                raise BehaviorInputError(missing, "is required")
            objects = data["objects"]
            if not isinstance(objects, list | tuple | Mapping) or isinstance(objects, str):
                raise BehaviorInputError("objects", "must be a list of [x, y] points")
            zones = behavior_presets.novel_object_recognition(
                objects,
                radius=data["radius"],
                frame_width=frame_width,
                frame_height=frame_height,
            )
            clean["objects"] = objects
            clean["radius"] = data["radius"]
        validate_zones(zones, frame_width=frame_width, frame_height=frame_height)
    except BehaviorInputError as exc:
        name = exc.field
        if name.startswith("zones["):  # a generated zone past the frame: the outline's fault
            name = "outline" if "outline" in clean else "objects"
        raise ValidationError({f"preset_params.{name}": exc.message}) from None
    return zones, clean, unions


def _unions(value: Any, zones: Sequence[Zone]) -> dict[str, list[str]]:
    data = _mapping(value, "unions")
    if len(data) > MAX_UNIONS:
        raise ValidationError({"unions": f"At most {MAX_UNIONS} unions."})
    names = {z.name for z in zones}
    clean: dict[str, list[str]] = {}
    for name, parts in data.items():
        where = f"unions.{name}"
        if not isinstance(name, str) or not name.strip() or ":" in name or len(name) > MAX_TEXT:
            raise ValidationError({"unions": "A union needs a short name without ':'."})
        if name in names:
            raise ValidationError({where: "Has the name of a zone."})
        if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
            raise ValidationError({where: "Must list zone names."})
        missing = [p for p in parts if p not in names]
        if missing:
            raise ValidationError({where: f"Names no zone {missing[0]!r}."})
        clean[name] = list(dict.fromkeys(parts))
    return clean


def arena_clean(
    *,
    frame_width: Any,
    frame_height: Any,
    calibration: Any = None,
    ruler: Any = None,
    arena: Any = None,
    zones: Any = None,
    unions: Any = None,
    preset: Any = None,
    preset_params: Any = None,
    membership: Any = Membership.CENTRE,
) -> CleanArena:
    """An arena checked against a ``frame_width`` × ``frame_height`` px frame.

    ``calibration``: "ruler" (uses ``ruler``), "arena" (uses ``arena``) or "none"; by
    default the one given. ``zones``: the zone JSON list; when absent and a ``preset`` is
    given, the preset's zones. ``ValidationError`` names the field.
    """
    width, height = _frame_size(frame_width, frame_height)
    if calibration is None:
        calibration = "ruler" if ruler else "arena" if arena else CalibrationMethod.NONE
    method = _choice(calibration, "calibration", CalibrationMethod.values)
    clean_ruler = clean_arena = None
    px_per_cm = None
    if ruler is not None:
        clean_ruler, ruler_scale = _ruler(ruler, width, height)
        if method == CalibrationMethod.RULER:
            px_per_cm = ruler_scale
    if arena is not None:
        clean_arena, arena_scale = _arena(arena, width, height)
        if method == CalibrationMethod.ARENA:
            px_per_cm = arena_scale
    if method == CalibrationMethod.RULER and clean_ruler is None:
        raise ValidationError({"ruler": "Draw the ruler and give its length."})
    if method == CalibrationMethod.ARENA and clean_arena is None:
        raise ValidationError({"arena": "Give the arena's outline and real size."})

    preset = preset or ""
    clean_params: dict = {}
    preset_unions: dict[str, list[str]] = {}
    generated: list[Zone] | None = None
    if preset:
        generated, clean_params, preset_unions = preset_zones(
            preset=preset, params=preset_params, frame_width=width, frame_height=height
        )
    elif preset_params:
        raise ValidationError({"preset_params": "Given without a preset."})
    if zones is None:
        parsed = generated or []
    else:
        try:
            parsed = parse_zones(zones, frame_width=width, frame_height=height)
        except BehaviorInputError as exc:
            raise invalid(exc) from None
    names = {z.name for z in parsed}
    if unions is None:
        # A preset's unions (EPM open/closed arms) while its zones are still there.
        unions = {k: v for k, v in preset_unions.items() if set(v) <= names}
    clean_unions = _unions(unions, parsed)
    return CleanArena(
        calibration_method=method,
        ruler=clean_ruler,
        arena=clean_arena,
        px_per_cm=px_per_cm,
        zones=parsed,
        unions=clean_unions,
        preset=preset,
        preset_params=clean_params,
        membership=_choice(membership, "membership", Membership.values),
    )


def arena_setup_save(*, video: Video, updated_by=None, **arena: Any) -> ArenaSetup:
    """Store the arena of ``video`` (replacing the previous one). ``arena``: the keyword
    arguments of :func:`arena_clean` (``calibration``, ``ruler``, ``zones``, ``preset``, ...).
    Raises ``ValidationError`` naming the field; nothing is stored then."""
    unknown = sorted(set(arena) - set(ARENA_KEYS))
    if unknown:
        raise ValidationError({unknown[0]: "Unknown field."})
    if video.kind != Video.Kind.VIDEO:
        raise ValidationError({"video": "An image set has no arena."})
    clean = arena_clean(frame_width=video.width, frame_height=video.height, **arena)
    with transaction.atomic():
        setup, _ = ArenaSetup.objects.select_for_update().get_or_create(video=video)
        for name, value in clean.model_fields().items():
            setattr(setup, name, value)
        setup.updated_by = updated_by
        setup.save()
    return setup


def arena_setup_delete(*, video: Video) -> None:
    ArenaSetup.objects.filter(video=video).delete()


# --- templates ------------------------------------------------------------------------
def _template_name(name: Any, project: Project, exclude: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": "A template needs a name."})
    name = name.strip()
    if len(name) > 120:
        raise ValidationError({"name": "At most 120 characters."})
    clash = ArenaTemplate.objects.filter(project=project, name__iexact=name).exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": f"A template named “{name}” already exists."})
    return name


def arena_template_create(
    *,
    project: Project,
    name: Any,
    created_by=None,
    from_video: Video | None = None,
    frame_width: Any = None,
    frame_height: Any = None,
    **arena: Any,
) -> ArenaTemplate:
    """A template from ``from_video``'s stored arena, or from ``arena`` (the keyword
    arguments of :func:`arena_clean`) drawn on a ``frame_width`` × ``frame_height`` frame."""
    name = _template_name(name, project)
    unknown = sorted(set(arena) - set(ARENA_KEYS))
    if unknown:
        raise ValidationError({unknown[0]: "Unknown field."})
    if from_video is not None:
        if from_video.project_id != project.pk:
            raise ValidationError({"video": "That video is not in this project."})
        setup = ArenaSetup.objects.filter(video=from_video).first()
        if setup is None:
            raise ValidationError({"video": "That video has no arena yet; save one first."})
        fields = setup.arena_fields()
        width, height = from_video.width, from_video.height
    else:
        width = _size(frame_width, "frame_width")
        height = _size(frame_height, "frame_height")
        fields = arena_clean(frame_width=width, frame_height=height, **arena).model_fields()
    return ArenaTemplate.objects.create(
        project=project,
        name=name,
        frame_width=width,
        frame_height=height,
        created_by=created_by,
        **fields,
    )


def _size(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise ValidationError({where: "Must be a whole number of pixels from 1 to 100000."})
    return value


def arena_template_delete(*, template: ArenaTemplate) -> None:
    template.delete()  # setups made from it keep their copy (template -> NULL)


@dataclass(frozen=True)
class Nudge:
    """Move a template onto one video: scale ``scale`` about the arena's centre, then shift
    by ``(dx, dy)`` px."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0


def _nudge(value: Any, where: str) -> Nudge:
    if value is None:
        return Nudge()
    if isinstance(value, Nudge):
        value = {"dx": value.dx, "dy": value.dy, "scale": value.scale}
    data = _mapping(value, where)
    unknown = sorted(set(data) - {"dx", "dy", "scale", "video", "id"})
    if unknown:
        raise ValidationError({f"{where}.{unknown[0]}": "Unknown field."})
    out = {}
    for key, default in (("dx", 0.0), ("dy", 0.0), ("scale", 1.0)):
        try:
            out[key] = finite_number(data.get(key, default), f"{where}.{key}", limit=HUGE)
        except BehaviorInputError as exc:
            raise invalid(exc) from None
    low, high = NUDGE_SCALE_RANGE
    if not low <= out["scale"] <= high:
        raise ValidationError({f"{where}.scale": f"Must be from {low:g} to {high:g}."})
    return Nudge(**out)


def _arena_centre(template: ArenaTemplate) -> tuple[float, float]:
    """The middle of the template's zones (else its arena outline, else its frame)."""
    import shapely

    geoms = [z.geometry() for z in parse_zones(template.zones)]
    if not geoms and template.arena:
        geoms = [z.geometry() for z in parse_zones([template.arena["outline"]])]
    if not geoms:
        return template.frame_width / 2, template.frame_height / 2
    x1, y1, x2, y2 = shapely.union_all(geoms).bounds
    return (x1 + x2) / 2, (y1 + y2) / 2


def _moved_arena(template: ArenaTemplate, video: Video, nudge: Nudge, where: str) -> dict:
    """The template's arena fields moved onto ``video`` (resolution, then the nudge)."""
    w, h = float(template.frame_width), float(template.frame_height)
    if video.width and video.height and (video.width, video.height) != (w, h):
        # Same camera at another resolution: scale the template with the frame.
        k = video.width / w
        if abs(video.height / h - k) > MAX_ASPECT_DIFFERENCE * k:
            raise ValidationError(
                {
                    where: f"The video is {video.width}×{video.height} px, the template was "
                    f"drawn on {w:g}×{h:g} px with another aspect ratio; draw its arena itself."
                }
            )
    else:
        k = 1.0
    ox, oy = _arena_centre(template)
    s = nudge.scale

    def move_zones(zones: list[Zone]) -> list[Zone]:
        zones = scale_zones(zones, s, origin=(ox, oy)) if s != 1 else zones
        zones = translate_zones(zones, nudge.dx / k, nudge.dy / k)
        return scale_zones(zones, k) if k != 1 else zones

    def move_point(x: float, y: float) -> tuple[float, float]:
        return (((x - ox) * s + ox) * k + nudge.dx, ((y - oy) * s + oy) * k + nudge.dy)

    zones = [z.to_json() for z in move_zones(parse_zones(template.zones))]
    arena: dict[str, Any] = {
        "calibration": template.calibration_method,
        "zones": zones,
        "unions": template.unions,
        "membership": template.membership,
    }
    if template.ruler:
        r = template.ruler
        x1, y1 = move_point(r["x1"], r["y1"])
        x2, y2 = move_point(r["x2"], r["y2"])
        arena["ruler"] = {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "length_cm": r["length_cm"]}
    if template.arena:
        outline = move_zones(parse_zones([template.arena["outline"]]))[0].to_json()
        arena["arena"] = {**template.arena, "outline": outline}
    if template.preset:
        params = dict(template.preset_params)
        if "outline" in params:
            params["outline"] = move_zones(parse_zones([params["outline"]]))[0].to_json()
        if isinstance(params.get("objects"), list):
            params["objects"] = [list(move_point(*p)) for p in params["objects"]]
        elif isinstance(params.get("objects"), Mapping):
            params["objects"] = {n: list(move_point(*p)) for n, p in params["objects"].items()}
        if "radius" in params:
            params["radius"] = params["radius"] * s * k
        arena["preset"] = template.preset
        arena["preset_params"] = params
    return arena


def arena_template_apply(
    *,
    template: ArenaTemplate,
    videos: Sequence[Video],
    nudge: Mapping[int, Nudge | Mapping[str, float]] | None = None,
    updated_by=None,
) -> list[ArenaSetup]:
    """Copy ``template`` onto each of ``videos`` (replacing their arenas), moved by each
    video's nudge (``{video id: Nudge or {"dx", "dy", "scale"}}``, default none).

    Every video is checked first (zones must fit its frame); one failure stores nothing and
    names ``videos[i]...`` (``videos[2].zones[0].w``).
    """
    videos = list(dict.fromkeys(videos))
    if not videos:
        raise ValidationError({"videos": "Choose at least one video."})
    nudge = nudge or {}
    cleaned: list[tuple[Video, CleanArena, Nudge]] = []
    for i, video in enumerate(videos):
        where = f"videos[{i}]"
        if video.project_id != template.project_id:
            raise ValidationError({where: "That video is not in the template's project."})
        if video.kind != Video.Kind.VIDEO:
            raise ValidationError({where: "An image set has no arena."})
        move = _nudge(nudge.get(video.pk), where)
        try:
            fields = _moved_arena(template, video, move, where)
            clean = arena_clean(frame_width=video.width, frame_height=video.height, **fields)
        except BehaviorInputError as exc:
            raise invalid(exc, f"{where}.") from None
        except ValidationError as exc:
            if not hasattr(exc, "error_dict") or any(k.startswith(where) for k in exc.error_dict):
                raise
            raise ValidationError({f"{where}.{k}": v for k, v in exc.error_dict.items()}) from None
        cleaned.append((video, clean, move))
    setups = []
    with transaction.atomic():
        for video, clean, move in cleaned:
            setup, _ = ArenaSetup.objects.select_for_update().get_or_create(video=video)
            for name, value in clean.model_fields().items():
                setattr(setup, name, value)
            setup.template = template
            setup.nudge = {"dx": move.dx, "dy": move.dy, "scale": move.scale}
            setup.updated_by = updated_by
            setup.save()
            setups.append(setup)
    return setups
