"""``manage.py export_dataset --project NAME --format FMT [--split SPLIT] OUT``."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.datasets.exchange import EXPORT_FORMAT_NAMES, EXPORT_SPLITS
from labeling.datasets.exporting import dataset_export
from labeling.management.commands.import_dataset import error_text
from webapp.commands import project_named


class Command(BaseCommand):
    help = (
        "Export a project's labeled and reviewed frames (negatives as images without boxes) "
        "as a YOLO, COCO, Pascal VOC or CVAT dataset, into a new or empty folder or a new "
        ".zip file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", help="output folder (new or empty) or a new .zip file")
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument("--format", required=True, choices=EXPORT_FORMAT_NAMES)
        parser.add_argument("--split", choices=EXPORT_SPLITS, help="only this split")
        parser.add_argument(
            "--include-unlabeled",
            action="store_true",
            help="also write unlabeled frames (as images without boxes)",
        )

    def handle(self, *args, **options) -> None:
        project = project_named(options["project"])
        out = Path(options["out"])
        is_zip = out.suffix.lower() == ".zip"
        if is_zip and not out.parent.is_dir():
            raise CommandError(f"The folder {out.parent} does not exist.")
        if not is_zip and out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out} exists and is not an empty folder.")
        try:
            result = dataset_export(
                project=project,
                fmt=options["format"],
                zip_path=out if is_zip else None,
                out_dir=None if is_zip else out,
                split=options["split"],
                include_unlabeled=options["include_unlabeled"],
            )
        except ValidationError as exc:
            raise CommandError("Nothing was exported.\n" + error_text(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {result.images} images ({result.negatives} negatives), {result.boxes} "
                f"boxes of “{project.name}” as {result.fmt} to {result.path}."
            )
        )
