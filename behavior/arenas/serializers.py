"""Input and output shapes of the arena and template API (one class per direction and
operation). Zones, rulers and outlines are passed through as JSON: the core
(``behavior.core``) validates them and names the field of any error."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from behavior.api_base import RawJSONField
from behavior.models import ArenaTemplate, CalibrationMethod, Membership, Preset

ZONES_HELP = (
    'Zones in original-video pixels, e.g. [{"name": "centre", "shape": "rect", "x": 10, '
    '"y": 20, "w": 100, "h": 80}, {"name": "object", "shape": "circle", "cx": 300, "cy": 200, '
    '"r": 25}, {"name": "arm", "shape": "polygon", "points": [[0, 0], [50, 0], [50, 40]]}].'
)


class ArenaInput(serializers.Serializer):
    calibration = serializers.ChoiceField(
        choices=CalibrationMethod.choices,
        required=False,
        help_text="Which calibration gives px_per_cm; default: the one given.",
    )
    ruler = RawJSONField(
        required=False,
        allow_null=True,
        help_text='{"x1", "y1", "x2", "y2", "length_cm"}: two points (px) over an object '
        "of known length.",
    )
    arena = RawJSONField(
        required=False,
        allow_null=True,
        help_text='{"outline": <rect, circle or 4-corner polygon zone>, "width_cm", '
        '"height_cm"}: the arena\'s real inner size.',
    )
    zones = RawJSONField(required=False, help_text=ZONES_HELP)
    unions = RawJSONField(
        required=False, help_text='Zones measured together, e.g. {"open_arms": ["a1", "a2"]}.'
    )
    preset = serializers.ChoiceField(
        choices=Preset.choices, required=False, allow_blank=True, allow_null=True
    )
    preset_params = RawJSONField(
        required=False,
        help_text="The preset's inputs: outline (a zone) and side_fraction (open field), "
        "arm_width/open_axis (EPM), light_side/light_fraction (light/dark box), "
        "objects/radius (novel object). Without zones, the preset's zones are stored.",
    )
    membership = serializers.ChoiceField(choices=Membership.choices, required=False)


class ArenaOutput(serializers.Serializer):
    video = serializers.IntegerField()
    frame_width = serializers.IntegerField()
    frame_height = serializers.IntegerField()
    saved = serializers.BooleanField(help_text="False: nothing stored yet (the defaults).")
    calibration = serializers.CharField()
    ruler = serializers.JSONField(allow_null=True)
    arena = serializers.JSONField(allow_null=True)
    px_per_cm = serializers.FloatField(allow_null=True)
    units = serializers.CharField()
    zones = serializers.JSONField()
    unions = serializers.JSONField()
    preset = serializers.CharField(allow_null=True)
    preset_params = serializers.JSONField()
    membership = serializers.CharField()
    template = serializers.IntegerField(allow_null=True)
    template_name = serializers.CharField(allow_null=True)
    nudge = serializers.JSONField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    background_url = serializers.CharField()


class ArenaPresetInput(serializers.Serializer):
    preset = serializers.ChoiceField(choices=[c for c in Preset.choices if c[0]])
    preset_params = RawJSONField(required=False)


class ArenaPresetOutput(serializers.Serializer):
    preset = serializers.CharField()
    preset_params = serializers.JSONField()
    zones = serializers.JSONField()
    unions = serializers.JSONField()


class ArenaTemplateCreateInput(ArenaInput):
    name = serializers.CharField(max_length=120)
    video = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**62,
        help_text="Copy this video's stored arena; otherwise give frame_width, frame_height "
        "and the arena fields.",
    )
    frame_width = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
    frame_height = serializers.IntegerField(required=False, min_value=1, max_value=100_000)


class ArenaTemplateOutput(serializers.ModelSerializer):
    calibration = serializers.CharField(source="calibration_method")
    links = serializers.SerializerMethodField()

    class Meta:
        model = ArenaTemplate
        fields = (
            "id",
            "project",
            "name",
            "frame_width",
            "frame_height",
            "calibration",
            "ruler",
            "arena",
            "px_per_cm",
            "zones",
            "unions",
            "preset",
            "preset_params",
            "membership",
            "created_at",
            "links",
        )
        read_only_fields = fields

    def get_links(self, template: ArenaTemplate) -> dict:
        return {
            "self": reverse("api-arena-template", args=[template.pk]),
            "apply": reverse("api-arena-template-apply", args=[template.pk]),
        }


class ArenaTemplateApplyInput(serializers.Serializer):
    videos = serializers.ListField(
        child=RawJSONField(),
        min_length=1,
        max_length=500,
        help_text='Video ids, or {"id", "dx", "dy", "scale"} to nudge the template onto a '
        "video (px; scale about the arena's centre).",
    )


class ArenaTemplateApplyOutput(serializers.Serializer):
    template = serializers.IntegerField()
    videos = serializers.ListField(child=serializers.IntegerField())
