"""CSV text of evaluation metrics and comparisons (no Django import).

Tidy tables: one row per scope (the whole run, then each class) or per model, the same
columns on every row, run-level figures repeated, so a spreadsheet or pandas reads them as
they are. Cells that a spreadsheet would run as a formula (user-chosen names starting with
``= + - @``) are prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

# Column -> key of the overall metrics dict (classes use the "ap" prefix instead of "map").
METRIC_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("map50_voc11", "map50_voc11", "ap50_voc11"),
    ("map50_voc_all", "map50_voc_all", "ap50_voc_all"),
    ("coco_ap50", "coco_ap50", "coco_ap50"),
    ("coco_ap50_95", "coco_ap50_95", "coco_ap50_95"),
    ("precision", "precision", "precision"),
    ("recall", "recall", "recall"),
    ("f1", "f1", "f1"),
    ("average_iou", "average_iou", "average_iou"),
    ("average_iou_darknet", "average_iou_darknet", "average_iou_darknet"),
    ("best_f1", "best_f1", "best_f1"),
    ("best_f1_threshold", "best_f1_threshold", "best_f1_threshold"),
    ("tp", "tp", "tp"),
    ("fp", "fp", "fp"),
    ("fn", "fn", "fn"),
    ("num_ground_truth", "num_ground_truth", "num_ground_truth"),
    ("num_detections", "num_detections", "num_detections"),
)
TIMING_COLUMNS = (
    "per_image_ms_mean",
    "per_image_ms_std",
    "per_image_ms_median",
    "per_image_total_ms_mean",
    "total_s",
)
RUN_COLUMNS = (
    "evaluation",
    "model",
    "model_name",
    "dataset_version",
    "split",
    "frames",
    "iou_threshold",
    "conf_threshold",
    "imgsz",
    "device",
    "parameters",
    "gflops",
    "model_size_bytes",
)
COMPARISON_COLUMNS = (
    "model",
    "model_name",
    "preset",
    "evaluation",
    "dataset_version",
    "split",
    "device",
    "precision",
    "recall",
    "f1",
    "map50_voc11",
    "map50_voc_all",
    "coco_ap50",
    "coco_ap50_95",
    "average_iou",
    "train_time_s",
    "test_time_s",
    "per_image_ms_mean",
    "per_image_ms_std",
    "parameters",
    "gflops",
    "model_size_bytes",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _write(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def metrics_csv(
    run: Mapping[str, Any], metrics: Mapping[str, Any], timing: Mapping[str, Any]
) -> str:
    """Rows: ``scope=all`` (mAP over classes, pooled P/R/F1) then one per class.

    ``run`` gives the :data:`RUN_COLUMNS` values; ``metrics`` is ``EvaluationResult.to_dict()``;
    ``timing`` is ``evaluation.inference.timing_summary`` output.
    """
    header = [
        *RUN_COLUMNS,
        "scope",
        "class_index",
        *(c for c, _, _ in METRIC_COLUMNS),
        *TIMING_COLUMNS,
    ]
    head = [run.get(c) for c in RUN_COLUMNS]
    times = [timing.get(c) for c in TIMING_COLUMNS]
    rows = [[*head, "all", None, *(metrics.get(k) for _, k, _ in METRIC_COLUMNS), *times]]
    for cls in metrics.get("per_class") or []:
        rows.append(
            [
                *head,
                cls.get("name"),
                cls.get("class_index"),
                *(cls.get(k) for _, _, k in METRIC_COLUMNS),
                *times,
            ]
        )
    return _write(header, rows)


def comparison_csv(models: Sequence[Mapping[str, Any]]) -> str:
    """One row per model from ``selectors.Comparison.as_dict()['models']``."""
    rows = []
    for entry in models:
        model, run = entry["model"], entry.get("evaluation") or {}
        flat = {
            **entry,
            "model": model["id"],
            "model_name": model["name"],
            "preset": model["preset"],
            "evaluation": run.get("id"),
            "dataset_version": run.get("dataset_version"),
            "split": run.get("split"),
            "device": run.get("device"),
            "parameters": run.get("parameters") or model.get("parameters"),
            "gflops": run.get("gflops") or model.get("gflops"),
            "model_size_bytes": run.get("model_size_bytes") or model.get("weights_size"),
        }
        rows.append([flat.get(c) for c in COMPARISON_COLUMNS])
    return _write(COMPARISON_COLUMNS, rows)
