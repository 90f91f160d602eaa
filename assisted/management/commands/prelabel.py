"""Propose boxes for a project's unlabeled frames from the shell.

    python manage.py prelabel --project "Open field" [--model ID] [--video ID ...]
                              [--expected 1] [--accept-above 0.9] [--wait]

Without ``--model``: the background bootstrap (``default`` queue); with it, that registered
model (``gpu`` queue). ``--accept-above S`` then accepts every unlabeled frame whose
proposals all score at least S (marked machine-made until a person reviews it). With
``--wait`` it follows the job and prints, as its last line, a JSON summary; the exit status
is 0 only if the job succeeded.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from assisted import services
from assisted.models import PrelabelJob
from webapp.commands import follow_jobs, job_summary, project_named, service_errors


class Command(BaseCommand):
    help = "Propose boxes for unlabeled frames (the bootstrap, or a registered model)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--model", type=int, help="Id of a registered model (else bootstrap)")
        parser.add_argument("--video", type=int, action="append", default=[], help="Video id")
        parser.add_argument("--expected", type=int, default=1, help="Animals per frame")
        parser.add_argument("--conf", type=float, default=0.25, help="Model score floor")
        parser.add_argument("--accept-above", type=float, help="Accept frames scoring ≥ this")
        parser.add_argument("--wait", action="store_true", help="Follow the job until it ends")

    def handle(self, *args, **options):
        project = project_named(options["project"])
        model = None
        if options["model"] is not None:
            from training.models import TrainedModel

            model = TrainedModel.objects.filter(project=project, pk=options["model"]).first()
            if model is None:
                raise CommandError(f"Project “{project}” has no model {options['model']}.")
        with service_errors():
            job = services.prelabel_job_start(
                project=project,
                user=None,
                model=model,
                video_ids=options["video"],
                expected=options["expected"],
                conf=options["conf"],
                accept_above=options["accept_above"],
            )
        what = f"model #{model.pk} “{model.name}”" if model else "the background bootstrap"
        self.stdout.write(f"Queued pre-label job {job.pk}: {what}")
        if options["wait"]:
            self._follow(job)

    def _follow(self, job: PrelabelJob) -> None:
        last = ""

        def report(jobs) -> None:
            nonlocal last
            if job.message and job.message != last:
                self.stdout.write(job.message)
                last = job.message

        follow_jobs(
            [job], report=report, poll_s=0.5, stopped=f"Stopped following; job {job.pk} goes on."
        )
        summary = {
            "job": job.pk,
            "status": job.status,
            "frames": job.frames_done,
            "proposals": job.proposals_created,
            "accepted": job.frames_accepted,
        }
        job_summary(self.stdout, job, summary, what="Pre-label job")
