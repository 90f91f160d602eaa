"""Write a tracking run's trajectory (edits applied) to a file.

python manage.py export_track 7 mouse1.csv        # or .nwb, .mot.txt, .parquet, .json
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tracking.exporting import EXPORTS, trajectory_export
from tracking.models import TrackingRun


class Command(BaseCommand):
    help = "Export a tracking run's per-frame trajectory (CSV, NWB, MOT, Parquet, JSON sidecar)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("run", type=int, help="Tracking run id")
        parser.add_argument("output", help="Output file; its ending picks the format")

    def handle(self, *args, run: int, output: str, **options) -> None:
        tracked = TrackingRun.objects.filter(pk=run).select_related("video", "model").first()
        if tracked is None:
            raise CommandError(f"No tracking run {run}.")
        name = Path(output).name.lower()
        fmt = next(
            (f for f in sorted(EXPORTS, key=len, reverse=True) if name.endswith("." + f)), None
        )
        if fmt is None:
            raise CommandError(f"Name the output .{', .'.join(EXPORTS)}.")
        try:
            export = trajectory_export(run=tracked, fmt=fmt)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        target = Path(output)
        tmp = target.with_name(f".{target.name}.part")
        shutil.copyfile(export.path, tmp)
        tmp.replace(target)
        shutil.rmtree(export.path.parent, ignore_errors=True)
        self.stderr.write(f"Wrote {target} ({target.stat().st_size:,} bytes)")
