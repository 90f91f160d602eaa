"""``manage.py evaluate --model ID [--split test] [--wait] [--json] [--here]``.

Creates an EvaluationRun (origin "command") and queues it on the ``gpu`` queue, as ``train``
and ``track`` do, so the evaluation runs on a worker with the lab's GPU, not on whatever
machine runs the command. ``--wait`` follows it and prints the metrics when it ends;
``--here`` runs it in this process instead (for scripts on a GPU node), without Celery. Either
way the run is stored like any other and shows on the dashboards.
"""

from __future__ import annotations

import argparse
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation.evaluation_work import evaluation_run_execute
from evaluation.models import EvaluationRun
from evaluation.services import SPLITS, evaluation_run_create, evaluation_run_dispatch
from labeling.models import DatasetVersion
from training.models import TrainedModel
from webapp.celery import QUEUE_GPU
from webapp.commands import follow_jobs, service_errors
from webapp.models import JobStatus
from webapp.worker_devices import no_worker_hint

SUMMARY = (
    ("map50_voc11", "mAP@0.5 (VOC 11-point)"),
    ("map50_voc_all", "mAP@0.5 (VOC all-point)"),
    ("coco_ap50", "COCO AP50"),
    ("coco_ap50_95", "COCO AP50:95"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("average_iou", "Average IoU"),
)


class Command(BaseCommand):
    help = (
        "Queue the evaluation of a trained model on a dataset version's split (the gpu queue); "
        "with --wait (or --here, in this process) print the metrics (VOC and COCO AP, P/R/F1, "
        "average IoU) and timing (per-image mean ± std)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", type=int, required=True, help="TrainedModel id")
        parser.add_argument("--split", choices=SPLITS, default="test")
        parser.add_argument(
            "--dataset-version", type=int, help="DatasetVersion id (default: the model's own)"
        )
        parser.add_argument(
            "--conf",
            type=float,
            default=0.25,
            help="confidence threshold of the operating point (0.25)",
        )
        parser.add_argument(
            "--iou", type=float, default=0.5, help="IoU threshold of a true positive (0.5)"
        )
        parser.add_argument("--imgsz", type=int, help="network input size (default: the model's)")
        parser.add_argument("--device", default="auto", help="auto | cpu | mps | GPU index")
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
        where = parser.add_mutually_exclusive_group()
        where.add_argument(
            "--wait", action="store_true", help="follow the queued evaluation and print its metrics"
        )
        where.add_argument(
            "--here",
            action="store_true",
            help="evaluate in this process instead of queueing it on a gpu worker",
        )
        parser.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        try:
            model = TrainedModel.objects.select_related("dataset_version").get(pk=options["model"])
        except TrainedModel.DoesNotExist:
            raise CommandError(f"No trained model with id {options['model']}.") from None
        version = None
        if options["dataset_version"] is not None:
            version = DatasetVersion.objects.filter(pk=options["dataset_version"]).first()
            if version is None:
                raise CommandError(f"No dataset version with id {options['dataset_version']}.")
        with service_errors():
            run = evaluation_run_create(
                model=model,
                dataset_version=version,
                split=options["split"],
                conf_threshold=options["conf"],
                iou_threshold=options["iou"],
                imgsz=options["imgsz"],
                device=options["device"],
                origin=EvaluationRun.Origin.COMMAND,
            )
        if options["here"]:
            evaluation_run_execute(run_id=run.pk)
            run.refresh_from_db()
        else:
            with service_errors():
                evaluation_run_dispatch(run=run)
            self.stderr.write(f"Queued evaluation {run.pk} of model {model.pk} ({run.split} split)")
            hint = no_worker_hint(QUEUE_GPU)
            if hint:
                self.stderr.write(hint)
            if not options["wait"]:
                return
            follow_jobs(
                [run],
                report=self._report_progress,
                poll_s=options["poll"],
                stopped=f"Stopped following; evaluation {run.pk} goes on.",
            )
        if run.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Evaluation #{run.pk} {run.status}: {run.error or run.message}")
        if options["json"]:
            out = {
                "evaluation": run.pk,
                "model": model.pk,
                "dataset_version": run.dataset_version_id,
                "split": run.split,
                "frames": run.frame_count,
                **run.metrics,
                "timing": run.timing,
                "model_info": {
                    "parameters": run.parameters,
                    "gflops": run.gflops,
                    "size_bytes": run.model_size_bytes,
                    "imgsz": run.imgsz,
                    "device": run.device,
                },
            }
            self.stdout.write(json.dumps(out, indent=2))
            return
        self._print_table(run)

    def _report_progress(self, runs) -> None:
        run = runs[0]
        line = f"#{run.pk} {run.status} {run.progress:.0%} {run.message}".rstrip()
        if line != getattr(self, "_last_line", None):
            self.stderr.write(line)
            self._last_line = line

    def _print_table(self, run: EvaluationRun) -> None:
        def num(value, digits=3):
            return "n/a" if value is None else f"{value:.{digits}f}"

        m, t = run.metrics, run.timing
        self.stdout.write(
            f"Evaluation #{run.pk}: model {run.model_id} on dataset version "
            f"{run.dataset_version_id}, {run.split} split, {run.frame_count} frames"
        )
        for key, label in SUMMARY:
            self.stdout.write(f"  {label:<26} {num(m.get(key))}")
        self.stdout.write(f"  {'TP / FP / FN':<26} {m.get('tp')} / {m.get('fp')} / {m.get('fn')}")
        self.stdout.write(
            f"  {'Time per image':<26} {num(t.get('per_image_ms_mean'), 2)} ± "
            f"{num(t.get('per_image_ms_std'), 2)} ms on {t.get('device_name') or run.device}"
        )
        self.stdout.write(f"  {'Test time':<26} {num(t.get('total_s'), 2)} s")
        self.stdout.write(
            f"  {'Model':<26} {num((run.parameters or 0) / 1e6, 2)} M parameters, "
            f"{num(run.gflops, 2)} GFLOPs at {run.imgsz} px, {run.model_size_bytes} bytes"
        )
        if run.message:
            self.stdout.write(f"  {run.message}")
