"""Input and output shapes of the behaviour-analysis API (one class per direction and
operation). Zones, rulers and outlines are passed through as JSON: the core
(``behavior.core``) validates them and names the field of any error."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from behavior.models import ArenaTemplate, CalibrationMethod, Membership, Preset, SubjectInfo

ZONES_HELP = (
    'Zones in original-video pixels, e.g. [{"name": "centre", "shape": "rect", "x": 10, '
    '"y": 20, "w": 100, "h": 80}, {"name": "object", "shape": "circle", "cx": 300, "cy": 200, '
    '"r": 25}, {"name": "arm", "shape": "polygon", "points": [[0, 0], [50, 0], [50, 40]]}].'
)


@extend_schema_field(OpenApiTypes.ANY)
class RawJSONField(serializers.Field):
    """Any parsed JSON value, NaN included, passed on as it is: the core validates it and
    names the exact field (DRF's JSONField would refuse NaN without saying where)."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


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


class SubjectInput(serializers.Serializer):
    subject_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    group = serializers.CharField(required=False, allow_blank=True, max_length=100)
    session = serializers.CharField(required=False, allow_blank=True, max_length=100)
    notes = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, trim_whitespace=False
    )


class SubjectOutput(serializers.Serializer):
    video = serializers.IntegerField()
    video_name = serializers.CharField()
    subject_id = serializers.CharField()
    group = serializers.CharField()
    session = serializers.CharField()
    notes = serializers.CharField()


def subject_dict(video, info: SubjectInfo | None) -> dict:
    return {
        "video": video.pk,
        "video_name": video.original_name,
        "subject_id": info.subject_id if info else "",
        "group": info.group if info else "",
        "session": info.session if info else "",
        "notes": info.notes if info else "",
    }


class SubjectImportInput(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV with a header: video (id or file name), subject, group, session, notes."
    )


class SubjectImportOutput(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    ignored_columns = serializers.ListField(child=serializers.CharField())
    subjects = SubjectOutput(many=True)


class AnalysisSettingsInput(serializers.Serializer):
    """Numbers may also be given as strings; the core checks every value."""

    start_s = RawJSONField(
        required=False, allow_null=True, help_text="Window start (s); null: first frame"
    )
    end_s = RawJSONField(required=False, allow_null=True, help_text="Window end (s); null: the end")
    bin_s = RawJSONField(required=False, allow_null=True, help_text="Time bins (s); null: none")
    immobile_speed = RawJSONField(
        required=False, allow_null=True, help_text="cm/s (px/s uncalibrated)"
    )
    min_immobile_s = RawJSONField(required=False, allow_null=True)
    max_gap_s = RawJSONField(required=False, allow_null=True)
    smoothing = RawJSONField(required=False, allow_null=True, help_text="null, median or savgol")
    smoothing_window = RawJSONField(
        required=False, allow_null=True, help_text="Odd number of frames"
    )
    savgol_polyorder = RawJSONField(required=False, allow_null=True)
    count_initial_entry = RawJSONField(required=False, allow_null=True)
    box_overlap = RawJSONField(
        required=False, allow_null=True, help_text="Share of the box, (0, 1]"
    )
    min_bout_s = RawJSONField(
        required=False,
        allow_null=True,
        help_text="Zone entries count a change of side after it lasted this long (s; 0: off)",
    )


class AnalysisSettingsOutput(serializers.Serializer):
    start_s = serializers.FloatField(allow_null=True)
    end_s = serializers.FloatField(allow_null=True)
    bin_s = serializers.FloatField(allow_null=True)
    immobile_speed = serializers.FloatField()
    min_immobile_s = serializers.FloatField()
    max_gap_s = serializers.FloatField()
    smoothing = serializers.CharField(allow_null=True)
    smoothing_window = serializers.IntegerField()
    savgol_polyorder = serializers.IntegerField()
    count_initial_entry = serializers.BooleanField()
    box_overlap = serializers.FloatField()
    min_bout_s = serializers.FloatField()
