"""``manage.py import_dataset --project NAME [--create] --format FMT PATH``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from labeling.datasets import archives
from labeling.datasets.exchange import AUTO, FORMAT_NAMES
from labeling.datasets.job_services import (
    dataset_import_job_cancel,
    dataset_import_job_create,
    dataset_import_job_dispatch,
)
from labeling.models import DatasetImportJob, Project
from labeling.services import label_class_delete, project_create
from webapp.jobs import BrokerUnavailable
from webapp.models import JobStatus
from webapp.storage import scratch_workdir

POLL_S = 0.5


def error_text(exc: ValidationError) -> str:
    """One readable block from a service's ValidationError (field: messages, one a line)."""
    if hasattr(exc, "error_dict"):
        lines = []
        for field, errors in exc.message_dict.items():
            lines.append(f"{field}: {errors[0]}")
            lines += [f"  - {m}" for m in errors[1:]]
        return "\n".join(lines)
    return "\n".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Import a YOLO, COCO, Pascal VOC or CVAT dataset (a folder or a .zip) into a project. "
        "All or nothing: any problem is listed and nothing is imported. Images named "
        "v<video>_f<frame>.<ext> (as exported) update the project's frames; others become "
        "an image set. Runs as a job on the default queue (a worker must be running) and "
        "follows it, progress on stderr; exits non-zero if it fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="dataset folder or .zip file")
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--format",
            required=True,
            choices=[*FORMAT_NAMES, AUTO],
            help="dataset format (auto: guess from the marker files)",
        )
        parser.add_argument(
            "--create",
            action="store_true",
            help="create the project if it does not exist; it takes its classes from the dataset",
        )
        parser.add_argument(
            "--owner",
            help="owner of a project made by --create (default: "
            "the first superuser); also recorded as importer",
        )
        parser.add_argument(
            "--create-classes",
            action="store_true",
            help="add classes the project lacks instead of failing",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        owner = self._owner(options["owner"])
        name = options["project"].strip()
        project = Project.objects.filter(name__iexact=name).first()
        created = False
        if project is None:
            if not options["create"]:
                raise CommandError(f"No project named “{name}”. Use --create to make it.")
            if owner is None:
                raise CommandError("--create needs --owner USERNAME or an existing superuser.")
            project, created = self._create(name, owner), True
        try:
            job = self._queue(
                path=path, project=project, owner=owner, options=options, created=created
            )
            job = self._follow(job)
        except BaseException:
            if created:
                project.delete()  # all or nothing: no empty project left behind
            raise
        if job.status != JobStatus.SUCCEEDED:
            if created:
                project.delete()
            reason = job.error or job.message or job.status
            raise CommandError(f"Nothing was imported ({job.status}).\n{reason}")
        result = job.result
        parts = [
            f"{result['frames_created']} new frames"
            + (f" (image set #{result['imageset_id']})" if result["imageset_id"] else ""),
            f"{result['frames_updated']} updated",
            f"{result['frames_unchanged']} unchanged",
        ]
        if result["frames_left_unlabeled"]:
            parts.append(f"{result['frames_left_unlabeled']} left unlabeled")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result['images']} images ({result['format']}) into “{project.name}”"
                f"{' (created)' if created else ''}: {', '.join(parts)}; {result['boxes']} boxes."
                + (
                    f" New classes: {', '.join(result['classes_created'])}."
                    if result["classes_created"]
                    else ""
                )
                + (f" Layout: {result['layout']}." if result.get("layout") else "")
            )
        )
        for warning in result.get("warnings", []):
            self.stderr.write(self.style.WARNING(f"Warning: {warning}."))

    def _queue(self, *, path: Path, project, owner, options, created: bool) -> DatasetImportJob:
        """The import job, queued: a folder is zipped first (stored, not compressed), since
        the worker may run on another machine and sees only media storage."""
        work = scratch_workdir("imports", "import-cmd-")
        try:
            if path.is_dir():
                upload = work / f"{path.name or 'dataset'}.zip"
                archives.write_zip(path, upload)
            else:
                upload = path
            try:
                job = dataset_import_job_create(
                    project=project,
                    user=owner,
                    fmt=options["format"],
                    upload=upload,
                    source_name=path.name,
                    create_missing_classes=created or options["create_classes"],
                )
            except ValidationError as exc:
                raise CommandError("Nothing was imported.\n" + error_text(exc)) from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        try:
            dataset_import_job_dispatch(job=job)
        except BrokerUnavailable as exc:
            raise CommandError(f"Nothing was imported: {exc}") from None
        self.stderr.write(f"Import job #{job.pk} queued.")
        return job

    def _follow(self, job: DatasetImportJob) -> DatasetImportJob:
        """Poll the job until it ends, writing its progress to stderr; Ctrl-C cancels it."""
        last = None
        waited = 0.0
        try:
            while True:
                job.refresh_from_db()
                line = f"{job.status} {job.progress * 100:5.1f}% {job.message}".rstrip()
                if line != last:
                    self.stderr.write(line)
                    last = line
                if job.is_finished:
                    return job
                if job.status == JobStatus.QUEUED and waited >= 10 and waited % 30 < POLL_S:
                    self.stderr.write("Still queued: is a worker consuming the default queue?")
                time.sleep(POLL_S)
                waited += POLL_S
        except KeyboardInterrupt:
            dataset_import_job_cancel(job=job)
            self.stderr.write("Cancelling the import…")
            while not job.is_finished:
                time.sleep(POLL_S)
                job.refresh_from_db()
            return job

    def _owner(self, username: str | None):
        users = get_user_model().objects
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user named “{username}”.")
            return user
        return users.filter(is_superuser=True, is_active=True).order_by("pk").first()

    @transaction.atomic
    def _create(self, name: str, owner) -> Project:
        try:
            project = project_create(name=name, owner=owner)
        except ValidationError as exc:
            raise CommandError(error_text(exc)) from None
        # The dataset brings its own classes, in its own order (the YOLO class ids).
        for label_class in project.classes.order_by("-index"):
            label_class_delete(label_class=label_class)
        return project
