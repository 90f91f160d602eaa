"""The "new training" form: preset, dataset version, starting weights, hyperparameters."""

from __future__ import annotations

import json

from django import forms

from .models import TrainingJob
from .presets import DEFAULT_PRESET, PRESETS

DEVICE_CHOICES = [
    ("auto", "Auto (first GPU, else CPU)"),
    ("cpu", "CPU"),
    *[(str(i), f"GPU {i}") for i in range(4)],
]
HYPERPARAMETER_FIELDS = (
    "epochs",
    "imgsz",
    "batch",
    "lr0",
    "momentum",
    "weight_decay",
    "patience",
    "seed",
    "augment",
    "device",
)


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
    device = forms.ChoiceField(choices=DEVICE_CHOICES)

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
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
