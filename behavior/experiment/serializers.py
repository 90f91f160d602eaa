"""Input and output shapes of the experiment's bookkeeping API: subjects and the project's
analysis settings (numbers pass through as JSON: the core checks every value)."""

from __future__ import annotations

from rest_framework import serializers

from behavior.api_base import RawJSONField
from behavior.models import SubjectInfo


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
