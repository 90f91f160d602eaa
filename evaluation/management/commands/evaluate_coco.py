"""``manage.py evaluate_coco GT.json DETECTIONS.json``: print detection metrics as JSON."""

from __future__ import annotations

import json
import math

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation.coco_io import CocoFormatError, load_coco_pair
from evaluation.metrics import evaluate_detections


class Command(BaseCommand):
    help = (
        "Evaluate a COCO results list (bbox = [x, y, w, h] pixels) against a COCO ground-truth "
        "file and print the metrics (VOC 11-point and all-point mAP, COCO AP50 and AP50:95, "
        "precision/recall/F1 and average IoU at --conf, per class, curves) as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ground_truth", help="COCO instances JSON (images, annotations, …)")
        parser.add_argument("detections", help="COCO results JSON list")
        parser.add_argument(
            "--iou", type=float, default=0.5, help="IoU threshold for a true positive (0.5)"
        )
        parser.add_argument(
            "--conf",
            type=float,
            default=0.25,
            help="score threshold for precision/recall/F1 and average IoU (0.25)",
        )

    def handle(self, *args, **options) -> None:
        iou, conf = options["iou"], options["conf"]
        if not 0.0 <= iou <= 1.0:
            raise CommandError(f"--iou must be between 0 and 1, got {iou}")
        if not math.isfinite(conf):
            raise CommandError(f"--conf must be a finite number, got {conf}")
        try:
            ground_truth, detections = load_coco_pair(
                options["ground_truth"], options["detections"]
            )
        except CocoFormatError as exc:
            raise CommandError(str(exc)) from exc
        result = evaluate_detections(
            ground_truth.boxes,
            detections,
            iou_threshold=iou,
            conf_threshold=conf,
            class_names=ground_truth.class_names,
        )
        metrics = result.to_dict()
        for entry in metrics["per_class"]:
            entry["category_id"] = ground_truth.category_ids[entry["class_index"]]
        self.stdout.write(json.dumps(metrics, indent=2))
