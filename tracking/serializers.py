"""Input and output shapes of the tracking API (one input serializer per operation)."""

from __future__ import annotations

from rest_framework import serializers

from webapp.jobs.apis import JobOutputBase

from .models import TrackingBatch, TrackingEdit, TrackingRender, TrackingRun
from .services import MAX_ANIMALS, MAX_VIDEOS_PER_BATCH

_ID = {"min_value": 1, "max_value": 2**62}


class TrackingRunCreateInput(serializers.Serializer):
    model = serializers.IntegerField(**_ID)
    videos = serializers.ListField(
        child=serializers.IntegerField(**_ID), min_length=1, max_length=MAX_VIDEOS_PER_BATCH
    )
    n_animals = serializers.IntegerField(min_value=1, max_value=MAX_ANIMALS, default=1)
    # {"<video id>": animals}: videos that hold another number of animals than n_animals.
    animals_per_video = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ANIMALS), required=False
    )
    # conf, iou, imgsz, max_gap_s, outlier_factor, crop, device, backend (see services).
    params = serializers.DictField(required=False)


class TrackingRunOutput(JobOutputBase):
    video_name = serializers.CharField(source="video.original_name")
    model_name = serializers.CharField(source="model.name")
    has_trajectory = serializers.SerializerMethodField()

    class Meta:
        model = TrackingRun
        fields = [
            "id",
            "project",
            "batch",
            "status",
            "status_display",
            "progress",
            "message",
            "error",
            "attempts",
            "attempt_log",
            "video",
            "video_name",
            "video_sha256",
            "model",
            "model_name",
            "model_sha256",
            "n_animals",
            "params",
            "device",
            "frames_done",
            "frames_total",
            "fps",
            "eta_s",
            "failed_at_frame",
            "trust",
            "suspected_swaps",
            "timing",
            "created_at",
            "started_at",
            "finished_at",
            "can_retry",
            "has_trajectory",
        ]

    def get_has_trajectory(self, run: TrackingRun) -> bool:
        return bool(run.trajectory)


class TrackingBatchOutput(serializers.ModelSerializer):
    runs = TrackingRunOutput(many=True, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = TrackingBatch
        fields = ["id", "project", "model", "created_at", "progress", "runs"]

    def get_progress(self, batch: TrackingBatch) -> float:
        runs = list(batch.runs.all())
        done = sum(r.frames_done if not r.is_finished else r.frames_total for r in runs)
        total = sum(r.frames_total for r in runs)
        return done / total if total else 0.0


class TrackingEditInput(serializers.Serializer):
    animal_a = serializers.IntegerField(min_value=1, max_value=MAX_ANIMALS)
    animal_b = serializers.IntegerField(min_value=1, max_value=MAX_ANIMALS)
    from_frame = serializers.IntegerField(min_value=0, max_value=2**31)
    to_frame = serializers.IntegerField(
        min_value=0, max_value=2**31, required=False, allow_null=True
    )


class TrackingEditOutput(serializers.ModelSerializer):
    class Meta:
        model = TrackingEdit
        fields = [
            "id",
            "kind",
            "animal_a",
            "animal_b",
            "from_frame",
            "to_frame",
            "created_at",
            "reverted_at",
        ]


class TrackingRenderOutput(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    ready = serializers.SerializerMethodField()

    class Meta:
        model = TrackingRender
        fields = [
            "id",
            "run",
            "status",
            "status_display",
            "progress",
            "message",
            "error",
            "edits_applied",
            "created_at",
            "finished_at",
            "ready",
        ]

    def get_ready(self, render: TrackingRender) -> bool:
        return bool(render.file)
