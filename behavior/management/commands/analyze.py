"""``manage.py analyze --run ID [--zones ZONES.json] [--px-per-cm F] [--bins S] [--freezing]
[--json]``.

Prints a tracking run's behaviour measures (``behavior.analysis.runs.run_analysis``):
with ``--json`` exactly the ``behavior_json`` shape scripts rely on, otherwise a short
table. Without ``--zones`` the video's stored arena (zones and calibration) is used.
``--freezing`` decodes the video to measure freezing (``behavior.freezing.motion``; no
length limit here, unlike the pages).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from behavior.analysis.runs import run_analysis
from tracking.models import TrackingRun

MAX_ZONES_FILE_BYTES = 10 * 1024**2


def _zones_file(path: str) -> Any:
    """The zone list of a ZONES.json: a list, or an object with a "zones" list (what the
    arena page exports)."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_ZONES_FILE_BYTES:
            raise CommandError(f"--zones: {path} is larger than 10 MB.")
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"--zones: cannot read {path} ({exc.strerror or exc}).") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise CommandError(f"--zones: {path} is not valid JSON ({exc}).") from None
    if isinstance(data, dict):
        data = data.get("zones")
    if not isinstance(data, list):
        raise CommandError('--zones: expected a list of zones or {"zones": [...]}.')
    return data


class Command(BaseCommand):
    help = (
        "Behaviour measures of a finished tracking run: distance, speed, moving/immobile "
        "time, and per zone time, entries, exits, latency and distance (per time bin too)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, required=True, help="TrackingRun id")
        parser.add_argument(
            "--zones", help="ZONES.json (zones in original-video px) instead of the video's arena"
        )
        parser.add_argument(
            "--px-per-cm", type=float, help="calibration instead of the video's (pixels per cm)"
        )
        parser.add_argument("--bins", type=float, help="time bins of this many seconds")
        parser.add_argument("--start", type=float, help="analysis window start (s)")
        parser.add_argument("--end", type=float, help="analysis window end (s)")
        parser.add_argument(
            "--freezing",
            action="store_true",
            help="measure freezing too (pixel change inside the box; decodes the video)",
        )
        parser.add_argument(
            "--freeze-threshold", type=float, help="freezing below this share of pixels changed"
        )
        parser.add_argument("--json", action="store_true", help="print the measures as JSON")

    def handle(self, *args, **options) -> None:
        run = (
            TrackingRun.objects.select_related("project", "video").filter(pk=options["run"]).first()
        )
        if run is None:
            raise CommandError(f"No tracking run with id {options['run']}.")
        zones = _zones_file(options["zones"]) if options["zones"] else None
        params = {
            name: options[key]
            for key, name in (("bins", "bin_s"), ("start", "start_s"), ("end", "end_s"))
            if options[key] is not None
        }
        if options["freezing"]:
            params["freezing"] = True
            if options["freeze_threshold"] is not None:
                params["freeze_threshold"] = options["freeze_threshold"]
        try:
            result = run_analysis(
                run=run,
                params=params,
                zones=zones,
                px_per_cm=options["px_per_cm"],
                freezing_max_frames=None,
            )
        except ValidationError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(detail) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, allow_nan=False))
            return
        self._table(result)

    def _table(self, result: dict) -> None:
        u = result["units"]
        self.stdout.write(
            f"Run {result['run']} · {result['video']['name']} · units {u} · "
            f"{result['fps'] or 0:.3f} fps · arena: {result['arena']}"
        )

        def num(value, digits=2) -> str:
            return "—" if value is None else f"{value:.{digits}f}"

        for animal in result["animals"]:
            self.stdout.write(
                f"\nAnimal {animal['animal']}: distance {num(animal['distance'], 1)} {u}, "
                f"mean speed {num(animal['mean_speed'])} {u}/s, moving "
                f"{num(animal['time_moving_s'], 1)} s, immobile "
                f"{num(animal['time_immobile_s'], 1)} s"
                + (
                    f", freezing {num(animal['time_freezing_s'], 1)} s"
                    if "time_freezing_s" in animal
                    else ""
                )
            )
            for name, z in animal["zones"].items():
                self.stdout.write(
                    f"  {name:<20} {num(z['time_s'], 1):>8} s  entries {z['entries']:>4}  "
                    f"exits {z['exits']:>4}  latency {num(z['latency_s']):>8} s  "
                    f"distance {num(z['distance'], 1)} {u}"
                )
            for k, b in enumerate(animal["bins"]):
                self.stdout.write(
                    f"  bin {k + 1} [{num(b['start_s'], 1)}, {num(b['end_s'], 1)}) s: "
                    f"distance {num(b['distance'], 1)} {u}"
                )
