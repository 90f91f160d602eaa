"""Queue a training job from the command line, and optionally follow it to the end.

    python manage.py train --project "Open field" --preset tiny --epochs 150 --wait

Without ``--dataset-version`` a new version is made from the current labels. With ``--wait``
it prints one line per epoch and, as its last line, the final metrics as JSON; the exit
status is 0 only if the job succeeded. When no worker listens on the ``gpu`` queue it says
so at once (on stderr), with how to start one.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from labeling.models import DatasetVersion
from training import services
from training.models import TrainingJob
from training.presets import DEFAULT_POSE_PRESET, PRESETS, TASKS
from webapp.celery import QUEUE_GPU
from webapp.commands import follow_jobs, job_summary, project_named, service_errors
from webapp.worker_devices import no_worker_hint


class Command(BaseCommand):
    help = "Queue a training job for a project (and with --wait, follow it to the end)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument(
            "--preset",
            choices=[*services.PRESET_ALIASES, *PRESETS],
            help="tiny = YOLOv3-tiny, full = YOLOv3 (the seed paper's two models), or a preset; "
            f"with --task pose it defaults to {DEFAULT_POSE_PRESET}",
        )
        parser.add_argument(
            "--task",
            choices=TASKS,
            default="detect",
            help="detect: boxes; pose: boxes and keypoints (the project needs a skeleton)",
        )
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--imgsz", type=int)
        parser.add_argument("--batch", type=int)
        parser.add_argument("--device", help="auto, cpu or a GPU index such as 0")
        parser.add_argument("--dataset-version", type=int, help="Id of a dataset version")
        parser.add_argument("--name", default="")
        parser.add_argument("--wait", action="store_true", help="Follow the job until it ends")
        parser.add_argument("--poll", type=float, default=2.0, help=argparse_hidden())

    def handle(self, *args, **options):
        project = project_named(options["project"])
        version = None
        if options["dataset_version"] is not None:
            version = DatasetVersion.objects.filter(
                project=project, pk=options["dataset_version"]
            ).first()
            if version is None:
                raise CommandError(
                    f"Project “{project}” has no dataset version {options['dataset_version']}."
                )
        preset = self._preset(options)
        hyperparameters = {
            key: options[key]
            for key in ("epochs", "imgsz", "batch", "device")
            if options[key] is not None
        }
        with service_errors():
            job = services.training_job_create(
                project=project,
                created_by=None,
                preset=preset,
                hyperparameters=hyperparameters,
                dataset_version=version,
                name=options["name"],
            )
        self.stdout.write(
            f"Queued training job {job.pk}: {job.preset}, {job.epochs_total} epochs, "
            f"dataset version {job.dataset_version_id} “{job.dataset_version.name}”"
        )
        hint = no_worker_hint(QUEUE_GPU)
        if hint:
            self.stderr.write(hint)
        if not options["wait"]:
            return
        self._follow(job, poll=max(0.2, options["poll"]))

    @staticmethod
    def _preset(options) -> str:
        """The preset, checked against --task (a pose preset for pose, and the reverse)."""
        task, preset = options["task"], options["preset"]
        if preset is None:
            if task == "pose":
                return DEFAULT_POSE_PRESET
            raise CommandError("Give --preset (e.g. tiny), or --task pose.")
        key = services.PRESET_ALIASES.get(preset, preset)
        if PRESETS[key].task != task:
            raise CommandError(
                f"Preset {key} is a {PRESETS[key].task} model, not {task}; "
                f"pose presets: {', '.join(k for k, p in PRESETS.items() if p.task == 'pose')}."
            )
        return preset

    def _follow(self, job: TrainingJob, *, poll: float) -> None:
        reported = 0

        def report(jobs) -> None:
            nonlocal reported
            for metric in job.epoch_metrics.filter(epoch__gt=reported).order_by("epoch"):
                self.stdout.write(
                    f"epoch {metric.epoch}/{job.epochs_total}  "
                    f"mAP50 {_fmt(metric.map50)}  mAP50-95 {_fmt(metric.map50_95)}  "
                    f"box {_fmt(metric.box_loss)}  {_fmt(metric.epoch_time_s, 1)} s"
                )
                reported = metric.epoch

        follow_jobs(
            [job], report=report, poll_s=poll, stopped=f"Stopped following; job {job.pk} goes on."
        )
        model = getattr(job, "model", None)
        summary = {
            "job": job.pk,
            "status": job.status,
            "epochs": job.epochs_done,
            "model": model.pk if model else None,
            "metrics": model.metrics if model else {},
            "training_time_s": job.training_time_s,
        }
        job_summary(self.stdout, job, summary, what="Training job")


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"
