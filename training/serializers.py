"""Input and output shapes of the training API (one input serializer per operation)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from webapp.bounds import DB_INT32_MAX
from webapp.jobs.apis import JobOutputBase

from .models import EpochMetric, TrainedModel, TrainingJob
from .presets import HYPERPARAMETER_FIELDS, PRESETS
from .selectors import training_job_convergence_text


def _preset_label(key: str) -> str:
    preset = PRESETS.get(key)
    return preset.label if preset else key


class PresetOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    model_yaml = serializers.CharField()
    description = serializers.CharField()
    paper = serializers.BooleanField()
    hyperparameters = serializers.DictField()


class EpochOutput(serializers.ModelSerializer):
    class Meta:
        model = EpochMetric
        fields = list(EpochMetric.SERIES_FIELDS)


class TrainingJobOutput(JobOutputBase):
    preset_label = serializers.SerializerMethodField()
    dataset_version_name = serializers.CharField(source="dataset_version.name")
    created_by = serializers.CharField(source="created_by.username", default=None)
    queue_position = serializers.SerializerMethodField()
    model = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "project",
            "name",
            "status",
            "status_display",
            "progress",
            "message",
            "error",
            "epochs_done",
            "epochs_total",
            "eta_s",
            "preset",
            "preset_label",
            "dataset_version",
            "dataset_version_name",
            "start_from",
            "start_model",
            "start_checkpoint_name",
            "start_weights_name",
            "hyperparameters",
            "attempts",
            "attempt_log",
            "device",
            "worker",
            "training_time_s",
            "created_by",
            "created_at",
            "queued_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "queue_position",
            "can_cancel",
            "can_retry",
            "model",
            "url",
        ]

    def get_preset_label(self, job) -> str:
        return _preset_label(job.preset)

    def get_queue_position(self, job) -> int | None:
        """Queued training jobs ahead of this one (all projects share the GPU workers)."""
        return self.context.get("queue_positions", {}).get(job.pk)

    def get_model(self, job) -> dict | None:
        model = getattr(job, "model", None)
        if model is None:
            return None
        return {"id": model.pk, "name": model.name, "partial": model.partial}

    def get_url(self, job) -> str:
        return reverse("training-job-detail", args=[job.pk])


class TrainingJobDetailOutput(TrainingJobOutput):
    epochs = serializers.SerializerMethodField()
    convergence = serializers.SerializerMethodField(
        help_text="Where the best validation mAP50-95 was reached, and the early stopping."
    )

    class Meta(TrainingJobOutput.Meta):
        fields = [*TrainingJobOutput.Meta.fields, "log_tail", "epochs", "convergence"]

    def get_epochs(self, job) -> list[dict]:
        return EpochOutput(job.epoch_metrics.order_by("epoch"), many=True).data

    def get_convergence(self, job) -> str:
        return training_job_convergence_text(job=job)


class TrainingJobCreateInput(serializers.Serializer):
    """Hyperparameters not given come from the preset's defaults."""

    preset = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    dataset_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Omit to make one from the labels now",
    )
    start_from = serializers.ChoiceField(
        choices=TrainingJob.StartFrom.choices, default=TrainingJob.StartFrom.SCRATCH
    )
    start_model = serializers.IntegerField(required=False, allow_null=True, default=None)
    start_weights_name = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )
    checkpoint = serializers.FileField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A .pt file, with start_from=upload",
    )
    epochs = serializers.IntegerField(required=False, allow_null=True)
    imgsz = serializers.IntegerField(required=False, allow_null=True)
    batch = serializers.IntegerField(required=False, allow_null=True)
    lr0 = serializers.FloatField(required=False, allow_null=True)
    momentum = serializers.FloatField(required=False, allow_null=True)
    weight_decay = serializers.FloatField(required=False, allow_null=True)
    patience = serializers.IntegerField(required=False, allow_null=True)
    seed = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=DB_INT32_MAX
    )
    # allow_null: a multipart form that leaves it out means "the default", not False.
    augment = serializers.BooleanField(required=False, allow_null=True, default=None)
    cache_images = serializers.BooleanField(required=False, allow_null=True, default=None)
    device = serializers.CharField(max_length=8, required=False, allow_null=True)
    workers = serializers.IntegerField(required=False, allow_null=True)

    def hyperparameters(self) -> dict:
        return {
            k: self.validated_data.get(k)
            for k in HYPERPARAMETER_FIELDS
            if self.validated_data.get(k) is not None
        }


class TrainedModelOutput(serializers.ModelSerializer):
    preset_label = serializers.SerializerMethodField()
    dataset_version_name = serializers.CharField(source="dataset_version.name", default=None)
    job = serializers.PrimaryKeyRelatedField(read_only=True)
    onnx_available = serializers.SerializerMethodField()
    downloads = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = TrainedModel
        fields = [
            "id",
            "project",
            "job",
            "name",
            "preset",
            "preset_label",
            "dataset_version",
            "dataset_version_name",
            "start_weights",
            "hyperparameters",
            "partial",
            "stopped",
            "epochs_trained",
            "device",
            "imgsz",
            "class_names",
            "parameters",
            "gflops",
            "metrics",
            "training_time_s",
            "weights_sha256",
            "weights_size",
            "onnx_available",
            "onnx_sha256",
            "onnx_size",
            "created_at",
            "downloads",
            "url",
        ]

    def get_preset_label(self, model) -> str:
        return _preset_label(model.preset)

    def get_onnx_available(self, model) -> bool:
        return bool(model.onnx)

    def get_downloads(self, model) -> dict:
        base = reverse("api-model-download", args=[model.pk])
        card = reverse("api-model-card", args=[model.pk])
        return {
            "pt": f"{base}?format=pt",
            "onnx": f"{base}?format=onnx" if model.onnx else None,
            "card_json": f"{card}?format=json",
            "card_md": f"{card}?format=md",
        }

    def get_url(self, model) -> str:
        return reverse("trained-model-detail", args=[model.pk])


class TrainedModelDetailOutput(TrainedModelOutput):
    class Meta(TrainedModelOutput.Meta):
        fields = [*TrainedModelOutput.Meta.fields, "card"]
