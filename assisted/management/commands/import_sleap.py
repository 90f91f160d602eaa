"""Import a SLEAP ``.slp`` file onto the sampled frames of one of a project's videos.

    python manage.py import_sleap --project "Two mice" --video 3 predictions.slp

Predictions become keypoint proposals, user-made instances labels of unlabeled frames (see
:mod:`assisted.sleap_import`); the last line is a JSON summary.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from assisted.sleap_import import sleap_import
from labeling.models import Project
from webapp.commands import validation_text


class Command(BaseCommand):
    help = "Import a SLEAP .slp file (predictions as keypoint proposals) onto a video's frames."

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .slp file")
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--video", type=int, required=True, help="Id of the project's video")
        parser.add_argument("--class-id", type=int, help="Class of the animals (default: first)")

    def handle(self, *args, **options):
        project = Project.objects.filter(name=options["project"]).first()
        if project is None:
            raise CommandError(f"No project named “{options['project']}”.")
        video = project.videos.filter(pk=options["video"]).first()
        if video is None:
            raise CommandError(f"Project “{project}” has no video {options['video']}.")
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            result = sleap_import(
                project=project, video=video, path=path, class_id=options["class_id"]
            )
        except ValidationError as exc:
            raise CommandError(validation_text(exc)) from None
        self.stdout.write(json.dumps(asdict(result)))
