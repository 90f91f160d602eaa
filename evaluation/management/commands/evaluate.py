"""``manage.py evaluate --model ID [--split test] [--json]``: evaluate in this process.

Creates an EvaluationRun (origin "command") and runs it synchronously, without Celery; the
run is stored like any other and shows on the dashboards.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation.execution import evaluation_run_execute
from evaluation.models import EvaluationRun
from evaluation.services import SPLITS, evaluation_run_create
from labeling.models import DatasetVersion
from training.models import TrainedModel
from webapp.models import JobStatus

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
        "Evaluate a trained model on a dataset version's split in this process and print the "
        "metrics (VOC and COCO AP, P/R/F1, average IoU) and timing (per-image mean ± std)."
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
        try:
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
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        evaluation_run_execute(run_id=run.pk)
        run.refresh_from_db()
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
