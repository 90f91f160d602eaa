"""Evaluation runs of a trained model on a dataset version's split, and their results."""

from __future__ import annotations

from django.db import models

from labeling.models import DatasetVersion, Frame, Project
from training.models import TrainedModel
from webapp.models import Job


class EvaluationRun(Job):
    """Metrics and timing of one model on one split (runs on the ``gpu`` queue)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="evaluation_runs")
    model = models.ForeignKey(TrainedModel, on_delete=models.CASCADE, related_name="evaluations")
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="evaluation_runs"
    )
    split = models.CharField(max_length=8, default="test")
    iou_threshold = models.FloatField(default=0.5)
    conf_threshold = models.FloatField(default=0.25)
    imgsz = models.PositiveIntegerField(default=640)
    device = models.CharField(max_length=32, blank=True)
    # All of evaluation.metrics' output: AP (VOC 11-point, all-point, COCO), P/R/F1,
    # average IoU, per class, PR and confidence-F1 curves.
    metrics = models.JSONField(default=dict)
    # {"per_image_ms_mean", "per_image_ms_std", "total_s", "per_image_ms": [...]}
    timing = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Evaluation #{self.pk} of {self.model_id} on {self.split}"


class FramePrediction(models.Model):
    """A model's detections on one frame; pixel boxes like labeling.Box, plus a score."""

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="predictions")
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="+")
    boxes = models.JSONField(default=list)  # [{"class_index", "x", "y", "w", "h", "score"}]
    inference_ms = models.FloatField(default=0.0)
    false_positives = models.PositiveIntegerField(default=0)
    misses = models.PositiveIntegerField(default=0)
    min_iou = models.FloatField(null=True)  # lowest IoU among matched pairs

    class Meta:
        ordering = ["run", "frame"]

    def __str__(self) -> str:
        return f"Predictions of run {self.run_id} on frame {self.frame_id}"
