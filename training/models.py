"""Training jobs, their per-epoch metrics, and the registry of trained models."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from labeling.models import DatasetVersion, Project
from webapp.models import Job


class TrainingJob(Job):
    """One Ultralytics training run on the ``gpu`` queue."""

    resume_task = "training.tasks.training_job_run"  # resumes from its last checkpoint
    scratch_area, scratch_prefix = "training", "job-"

    class StartFrom(models.TextChoices):
        SCRATCH = "scratch", "From scratch (model YAML)"
        MODEL = "model", "A model trained in this app"
        UPLOAD = "upload", "An uploaded .pt checkpoint"
        OFFICIAL = "official", "Official weights installed on the workers"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="training_jobs")
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="training_jobs"
    )
    preset = models.CharField(max_length=32)  # key of training.presets.PRESETS
    start_from = models.CharField(
        max_length=16, choices=StartFrom.choices, default=StartFrom.SCRATCH
    )
    start_model = models.ForeignKey(
        "TrainedModel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    start_checkpoint = models.FileField(max_length=500, blank=True)  # uploaded .pt
    start_checkpoint_name = models.CharField(max_length=255, blank=True)  # display text only
    # Official weights named by file (e.g. "yolo11n.pt") that an administrator placed in the
    # workers' Ultralytics weights folder; nothing is ever downloaded.
    start_weights_name = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=120, blank=True)  # given to the registered model
    hyperparameters = models.JSONField(default=dict)  # epochs, imgsz, batch, lr0, ...
    epochs_total = models.PositiveIntegerField(default=0)
    # When it was (last) handed to the queue: a retry queues again behind newer jobs.
    queued_at = models.DateTimeField(null=True, blank=True, db_index=True)
    epochs_done = models.PositiveIntegerField(default=0)
    device = models.CharField(max_length=32, blank=True)  # as resolved on the worker
    # Last checkpoint kept in storage so a retry on any worker can resume.
    checkpoint = models.FileField(max_length=500, blank=True)
    # best.pt so far (highest validation mAP50-95): a resumed run starts from it, since
    # Ultralytics only rewrites best.pt when a later epoch beats the checkpoint's best.
    best_checkpoint = models.FileField(max_length=500, blank=True)
    eta_s = models.FloatField(null=True, blank=True)  # estimate while running
    training_time_s = models.FloatField(default=0.0)  # summed over attempts
    log_tail = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Training #{self.pk} ({self.preset})"

    def resume_fields(self) -> dict:
        return {"queued_at": timezone.now()}


class EpochMetric(models.Model):
    """Validation and loss figures Ultralytics reports at the end of each epoch."""

    #: The figures the curves and the API show, in their order.
    SERIES_FIELDS = (
        "epoch",
        "box_loss",
        "cls_loss",
        "dfl_loss",
        "precision",
        "recall",
        "map50",
        "map50_95",
        "epoch_time_s",
    )

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="epoch_metrics")
    epoch = models.PositiveIntegerField()  # 1-based
    box_loss = models.FloatField(null=True)
    cls_loss = models.FloatField(null=True)
    dfl_loss = models.FloatField(null=True)
    precision = models.FloatField(null=True)
    recall = models.FloatField(null=True)
    map50 = models.FloatField(null=True)
    map50_95 = models.FloatField(null=True)
    epoch_time_s = models.FloatField(null=True)
    extra = models.JSONField(default=dict)  # anything else Ultralytics reported

    class Meta:
        ordering = ["job", "epoch"]
        constraints = [models.UniqueConstraint(fields=["job", "epoch"], name="one_row_per_epoch")]

    def __str__(self) -> str:
        return f"Epoch {self.epoch} of job {self.job_id}"


class TrainedModel(models.Model):
    """A registered model: the weights of a finished job and how they were made."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="trained_models")
    job = models.OneToOneField(
        TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="model"
    )
    name = models.CharField(max_length=120)
    preset = models.CharField(max_length=32)
    dataset_version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    start_weights = models.CharField(max_length=300, blank=True)  # how training started
    hyperparameters = models.JSONField(default=dict)
    # Registered from a cancelled or timed-out job: the best weights before it stopped.
    partial = models.BooleanField(default=False)
    stopped = models.CharField(max_length=16, blank=True)  # completed|early_stopping|cancelled...
    epochs_trained = models.PositiveIntegerField(default=0)
    device = models.CharField(max_length=64, blank=True)  # as trained on, e.g. "cpu (CPU)"
    weights = models.FileField(max_length=500)  # .pt
    weights_sha256 = models.CharField(max_length=64)
    weights_size = models.BigIntegerField(default=0)
    onnx = models.FileField(max_length=500, blank=True)
    onnx_sha256 = models.CharField(max_length=64, blank=True)
    onnx_size = models.BigIntegerField(default=0)
    imgsz = models.PositiveIntegerField(default=640)
    class_names = models.JSONField(default=list)
    parameters = models.BigIntegerField(null=True)
    gflops = models.FloatField(null=True)
    metrics = models.JSONField(default=dict)  # final validation metrics
    training_time_s = models.FloatField(null=True)
    card = models.JSONField(default=dict)  # the model card: how it was made
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-created_at"]

    def __str__(self) -> str:
        return self.name
