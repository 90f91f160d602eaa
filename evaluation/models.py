"""Evaluation runs of a trained model on a dataset version's split, and their results."""

from __future__ import annotations

from django.db import models

from labeling.datasets.splits import evaluation_size_warning
from labeling.models import DatasetVersion, Frame, Project
from training.models import TrainedModel
from webapp.models import Job


class EvaluationRun(Job):
    """Metrics and timing of one model on one split (runs on the ``gpu`` queue).

    ``project`` is the model's project: the run is listed with the model. The dataset
    version may belong to another project the creator could see; then the run is visible
    only to members of both (its predictions show that project's frames).
    """

    resume_task = "evaluation.tasks.evaluation_run_task"  # starts over: it stores nothing

    class Origin(models.TextChoices):
        USER = "user", "User"
        TRAINING = "training", "After training"
        COMMAND = "command", "manage.py evaluate"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="evaluation_runs")
    model = models.ForeignKey(TrainedModel, on_delete=models.CASCADE, related_name="evaluations")
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="evaluation_runs"
    )
    split = models.CharField(max_length=8, default="test")  # train | val | test | all
    # What was asked for: differs from ``split`` when an empty test split fell back to val.
    requested_split = models.CharField(max_length=8, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.USER)
    iou_threshold = models.FloatField(default=0.5)
    conf_threshold = models.FloatField(default=0.25)
    imgsz = models.PositiveIntegerField(default=640)
    # "auto" | "cpu" | a CUDA index when queued; the device actually used once finished.
    device = models.CharField(max_length=32, blank=True)
    # {str(model class index): dataset class index}: classes are matched by name.
    class_map = models.JSONField(default=dict)
    frame_count = models.PositiveIntegerField(default=0)  # frames evaluated
    # The model at the run's input size (GFLOPs depend on it).
    parameters = models.BigIntegerField(null=True, blank=True)
    gflops = models.FloatField(null=True, blank=True)
    model_size_bytes = models.BigIntegerField(null=True, blank=True)
    # All of evaluation.metrics' output: AP (VOC 11-point, all-point, COCO), P/R/F1,
    # average IoU, per class, PR and confidence-F1 curves.
    metrics = models.JSONField(default=dict)
    # {"per_image_ms_mean", "per_image_ms_std", "per_image_ms_median", "per_image_ms_min",
    #  "per_image_ms_max", "per_image_total_ms_mean", "total_s", "images", "batch_size",
    #  "warmup_images", "device", "device_name", "per_image_ms": [...]}; see
    # evaluation.inference.timing_summary.
    timing = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Evaluation #{self.pk} of {self.model_id} on {self.split}"

    @property
    def size_warning(self) -> str | None:
        """Said on the pages and in the API when the figures rest on too few frames."""
        return evaluation_size_warning(self.frame_count)


class FramePrediction(models.Model):
    """A model's detections on one frame at the run's confidence threshold.

    Boxes (``boxes`` and ``ground_truth``) are in original-image pixels like labeling.Box:
    (x, y) the top-left corner, then w, h. ``ground_truth`` is the manifest's copy, i.e.
    what the run was scored against even if the labels were fixed since.
    """

    run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="predictions")
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="+")
    # [{"class_index", "x", "y", "w", "h", "score", "match": gt index or -1, "iou"}]
    boxes = models.JSONField(default=list)
    # [{"class_index", "x", "y", "w", "h", "matched": bool}]
    ground_truth = models.JSONField(default=list)
    inference_ms = models.FloatField(default=0.0)
    true_positives = models.PositiveIntegerField(default=0)
    false_positives = models.PositiveIntegerField(default=0)
    misses = models.PositiveIntegerField(default=0)
    min_iou = models.FloatField(null=True)  # lowest IoU among matched pairs
    # false positives + misses: the error browser's first sort key.
    error_count = models.PositiveIntegerField(default=0, db_index=True)

    class Meta:
        ordering = ["run", "frame"]
        constraints = [
            models.UniqueConstraint(fields=["run", "frame"], name="one_prediction_per_frame")
        ]

    def __str__(self) -> str:
        return f"Predictions of run {self.run_id} on frame {self.frame_id}"
