"""Register a model made elsewhere: ``python manage.py import_model --project NAME FILE``.

FILE is an Ultralytics ``.pt`` checkpoint or an ``.onnx`` export; it is checked in a
limited child process first. Prints the new model's id.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from training.model_import import trained_model_import
from webapp.commands import project_named


class Command(BaseCommand):
    help = "Register a .pt or .onnx detector made elsewhere in a project."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--name", default="", help="Name shown in the app")

    def handle(self, *args, file: str, project: str, name: str, **options) -> None:
        target = project_named(project)
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file.")
        try:
            model = trained_model_import(
                project=target, path=path, display_name=path.name, name=name
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(
            f"Registered model {model.pk} “{model.name}” in {target}: classes "
            f"{', '.join(model.class_names)}, input {model.imgsz} px"
        )
        self.stdout.write(str(model.pk))
