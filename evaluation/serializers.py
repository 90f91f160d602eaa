"""Input and output shapes of the evaluation API (one class per direction and operation)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from webapp.bounds import DB_INT_MAX
from webapp.jobs.apis import JobOutputBase

from .models import EvaluationRun, FramePrediction
from .selectors import PREDICTION_ORDERS
from .services import SPLITS

# Figures of ``EvaluationRun.metrics`` repeated at the top of list items (the cards).
SUMMARY_KEYS = (
    "map50_voc11",
    "map50_voc_all",
    "coco_ap50",
    "coco_ap50_95",
    "precision",
    "recall",
    "f1",
    "average_iou",
    "tp",
    "fp",
    "fn",
)
TIMING_KEYS = ("per_image_ms_mean", "per_image_ms_std", "total_s", "device_name")


class EvaluationRunCreateInput(serializers.Serializer):
    split = serializers.ChoiceField(choices=SPLITS, default="test")
    dataset_version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="A dataset version of any project you are a member of; default: the one "
        "the model was trained on.",
    )
    iou_threshold = serializers.FloatField(default=0.5, min_value=0.0, max_value=1.0)
    conf_threshold = serializers.FloatField(default=0.25, min_value=0.0, max_value=1.0)
    imgsz = serializers.IntegerField(
        required=False,
        min_value=32,
        max_value=4096,
        help_text="Network input size; default: the model's.",
    )
    device = serializers.RegexField(r"^(auto|cpu|mps|\d{1,2})$", default="auto", max_length=8)


class PredictionListInput(serializers.Serializer):
    order = serializers.ChoiceField(choices=tuple(PREDICTION_ORDERS), default="worst")
    errors = serializers.BooleanField(
        default=False, help_text="Only frames with a false positive, a miss or a low IoU."
    )
    limit = serializers.IntegerField(default=24, min_value=1, max_value=200)
    offset = serializers.IntegerField(default=0, min_value=0, max_value=DB_INT_MAX)


class CompareInput(serializers.Serializer):
    models = serializers.CharField(help_text="Comma-separated model ids, e.g. 1,2")


class EvaluationRunOutput(JobOutputBase):
    model_name = serializers.CharField(source="model.name", read_only=True)
    dataset_version_name = serializers.CharField(source="dataset_version.name", read_only=True)
    dataset_project = serializers.IntegerField(source="dataset_version.project_id", read_only=True)
    summary = serializers.SerializerMethodField()
    timing_summary = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField(
        help_text="Why the figures may not be meaningful (too few frames), in words."
    )

    class Meta:
        model = EvaluationRun
        fields = (
            "id",
            "status",
            "progress",
            "message",
            "error",
            "project",
            "model",
            "model_name",
            "dataset_version",
            "dataset_version_name",
            "dataset_project",
            "split",
            "requested_split",
            "origin",
            "iou_threshold",
            "conf_threshold",
            "imgsz",
            "device",
            "frame_count",
            "created_at",
            "started_at",
            "finished_at",
            "summary",
            "timing_summary",
            "links",
            "warnings",
        )
        read_only_fields = fields

    def get_warnings(self, run: EvaluationRun) -> list[str]:
        warning = run.size_warning
        return [warning] if warning else []

    def get_summary(self, run: EvaluationRun) -> dict:
        return {k: run.metrics.get(k) for k in SUMMARY_KEYS} if run.metrics else {}

    def get_timing_summary(self, run: EvaluationRun) -> dict:
        return {k: run.timing.get(k) for k in TIMING_KEYS} if run.timing else {}

    def get_links(self, run: EvaluationRun) -> dict:
        return {
            "self": reverse("api-evaluation-detail", args=[run.pk]),
            "predictions": reverse("api-evaluation-predictions", args=[run.pk]),
            "metrics_csv": reverse("api-evaluation-metrics-csv", args=[run.pk]),
            "metrics_json": reverse("api-evaluation-metrics-json", args=[run.pk]),
            "page": reverse("model-evaluation", args=[run.model_id]) + f"?run={run.pk}",
            "errors_page": reverse("evaluation-errors", args=[run.pk]),
        }


class EvaluationRunDetailOutput(EvaluationRunOutput):
    training = serializers.SerializerMethodField()

    class Meta(EvaluationRunOutput.Meta):
        fields = (
            *EvaluationRunOutput.Meta.fields,
            "class_map",
            "parameters",
            "gflops",
            "model_size_bytes",
            "metrics",
            "timing",
            "training",
        )
        read_only_fields = fields

    def get_training(self, run: EvaluationRun) -> dict:
        """The model's training history (mAP-vs-epoch and loss curves)."""
        return {
            "training_time_s": run.model.training_time_s,
            "epochs": self.context.get("epochs", []),
        }


class FramePredictionOutput(serializers.ModelSerializer):
    frame_index = serializers.IntegerField(source="frame.frame_index", read_only=True)
    video = serializers.IntegerField(source="frame.video_id", read_only=True)
    width = serializers.IntegerField(source="frame.width", read_only=True)
    height = serializers.IntegerField(source="frame.height", read_only=True)
    image_url = serializers.SerializerMethodField()
    editor_url = serializers.SerializerMethodField()

    class Meta:
        model = FramePrediction
        fields = (
            "frame",
            "frame_index",
            "video",
            "width",
            "height",
            "image_url",
            "editor_url",
            "boxes",
            "ground_truth",
            "inference_ms",
            "true_positives",
            "false_positives",
            "misses",
            "min_iou",
            "error_count",
        )
        read_only_fields = fields

    def get_image_url(self, p: FramePrediction) -> str:
        return reverse("api-frame-image", args=[p.frame_id])

    def get_editor_url(self, p: FramePrediction) -> str:
        return reverse("label-editor", args=[p.frame.project_id]) + f"?frame={p.frame_id}"


class FramePredictionPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next_offset = serializers.IntegerField(allow_null=True)
    results = FramePredictionOutput(many=True)


class ComparisonOutput(serializers.Serializer):
    project = serializers.IntegerField()
    models = serializers.ListField(child=serializers.DictField())
    warnings = serializers.ListField(child=serializers.CharField())
