"""The "new training" form: preset, dataset version, starting weights, hyperparameters."""

from __future__ import annotations

import json

from django import forms

from labeling.models import Skeleton
from webapp.celery import QUEUE_GPU

from .models import TrainingJob
from .presets import DEFAULT_PRESET, PRESETS
from .presets import HYPERPARAMETER_FIELDS as PRESET_HYPERPARAMETERS

AUTO_DEVICE = ("auto", "Auto (first GPU, else CPU)")
DEVICE_CHOICES = [AUTO_DEVICE, ("cpu", "CPU")]


def device_choices(report) -> list[tuple[str, str]]:
    """Auto, CPU, then each GPU index that a worker of the ``gpu`` queue reports (a
    :class:`webapp.worker_devices.WorkersReport`); Ultralytics' device "0" is the first
    GPU of whichever worker takes the job."""
    names: dict[int, set[str]] = {}
    for worker in report.consuming(QUEUE_GPU):
        for gpu in worker.gpus:
            names.setdefault(int(gpu["index"]), set()).add(str(gpu.get("name") or "GPU"))
    gpus = [(str(i), f"GPU {i} · {', '.join(sorted(names[i]))}") for i in sorted(names)]
    return [*DEVICE_CHOICES, *gpus]


def queue_note(report) -> str:
    """What happens to a new job, from what the workers of the ``gpu`` queue report."""
    if not report.reachable:
        return "The broker cannot be reached right now, so no worker can be asked."
    workers = report.consuming(QUEUE_GPU)
    if not workers:
        return (
            "No worker consumes the gpu queue right now: the job waits until one starts "
            "(make worker on a GPU machine, or make run here)."
        )
    with_gpu = [w for w in workers if w.gpus]
    if with_gpu:
        count = sum(len(w.gpus) for w in with_gpu)
        return (
            f"Runs on the next free GPU worker ({len(with_gpu)} worker(s), {count} GPU(s)); "
            "you can follow it live on its page."
        )
    if any(not w.probed for w in workers):
        return (
            "A worker consumes the gpu queue (it is still checking its devices); you can "
            "follow the job live on its page."
        )
    return (
        "The gpu queue is served by CPU-only worker(s), so the job trains on the CPU as soon "
        "as a worker is free; you can follow it live on its page."
    )


# The page leaves the data loader's worker count at its default (the API may set it).
HYPERPARAMETER_FIELDS = tuple(f for f in PRESET_HYPERPARAMETERS if f != "workers")


class TrainingForm(forms.Form):
    name = forms.CharField(
        max_length=120, required=False, help_text="Optional; given to the registered model."
    )
    preset = forms.ChoiceField(
        choices=[(p.key, p.label) for p in PRESETS.values()],
        widget=forms.RadioSelect,
        initial=DEFAULT_PRESET,
    )
    dataset_version = forms.ChoiceField(required=False)
    start_from = forms.ChoiceField(
        choices=TrainingJob.StartFrom.choices,
        initial=TrainingJob.StartFrom.SCRATCH,
        widget=forms.RadioSelect,
    )
    start_model = forms.ChoiceField(required=False)
    checkpoint = forms.FileField(required=False)
    start_weights_name = forms.CharField(max_length=64, required=False)
    epochs = forms.IntegerField(min_value=1, max_value=10_000)
    imgsz = forms.IntegerField(min_value=32, max_value=2048, label="Image size (px)")
    batch = forms.IntegerField(min_value=1, max_value=1024, label="Batch size")
    lr0 = forms.FloatField(min_value=0, max_value=1, label="Learning rate (lr0)")
    momentum = forms.FloatField(min_value=0, max_value=1)
    weight_decay = forms.FloatField(min_value=0, max_value=1, label="Weight decay")
    patience = forms.IntegerField(
        min_value=0,
        max_value=10_000,
        help_text="Stop after this many epochs without improvement; 0 = never.",
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1)
    augment = forms.BooleanField(required=False, label="Augmentation (mosaic, flips, colour)")
    cache_images = forms.BooleanField(required=False, label="Keep images in memory (when they fit)")
    device = forms.ChoiceField(choices=DEVICE_CHOICES)

    def __init__(self, *args, project, devices=None, **kwargs):
        super().__init__(*args, **kwargs)
        if devices is not None:
            self.fields["device"].choices = devices
        # Pose presets (boxes + keypoints) only where the project has a skeleton.
        has_skeleton = Skeleton.objects.filter(project_id=project.pk).exists()
        self.fields["preset"].choices = [
            (p.key, p.label) for p in PRESETS.values() if p.task == "detect" or has_skeleton
        ]
        defaults = PRESETS[DEFAULT_PRESET].hyperparameters
        for field in HYPERPARAMETER_FIELDS:
            self.fields[field].initial = getattr(defaults, field)
        versions = project.dataset_versions.order_by("-created_at")
        self.fields["dataset_version"].choices = [
            ("", "A new version from the current labels"),
            *[(str(v.pk), f"{v.name} ({sum(v.frame_counts.values())} frames)") for v in versions],
        ]
        models = project.trained_models.order_by("-created_at")
        self.fields["start_model"].choices = [
            ("", "—"),
            *[(str(m.pk), f"#{m.pk} {m.name}") for m in models],
        ]

    @staticmethod
    def preset_defaults_json() -> str:
        """Each preset's default hyperparameters, for the page script (a data attribute)."""
        return json.dumps({key: p.hyperparameters.to_dict() for key, p in PRESETS.items()})

    def hyperparameters(self) -> dict:
        return {k: self.cleaned_data[k] for k in HYPERPARAMETER_FIELDS}
