"""What the behaviour API's endpoints share: the JSON parser (NaN parses so the core can
name the field), raw JSON fields, file answers, the analysis parameters of a query string
and their OpenAPI description."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

_PARAM_DOCS = {
    "start_s": (float, "Analysis window start (s, container time); default: first frame"),
    "end_s": (float, "Analysis window end (s); default: the end of the recording"),
    "bin_s": (float, "Time bins (s); default: none"),
    "immobile_speed": (float, "Immobile below this speed (cm/s, or px/s uncalibrated)"),
    "min_immobile_s": (float, "Shortest immobility episode (s)"),
    "max_gap_s": (float, "Longest gap a step may cross (s)"),
    "smoothing": (str, "none, median or savgol"),
    "smoothing_window": (int, "Smoothing window (odd number of frames)"),
    "savgol_polyorder": (int, "Savitzky–Golay polynomial order"),
    "count_initial_entry": (bool, "Count being in a zone at the start as an entry"),
    "membership": (str, "centre (the box centre) or box (share of the box)"),
    "box_overlap": (float, "Share of the box inside a zone for box membership"),
    "min_bout_s": (float, "Minimum bout: a zone entry or exit counts once it lasted this (s)"),
}
_FREEZING_DOCS = {
    "freezing": (bool, "Also measure freezing (decodes the video; off by default)"),
    "freeze_threshold": (float, "Freezing below this share of the box's pixels changed (0.02)"),
    "motion_cutoff": (float, "A pixel changed when it moved more grey levels than this (10)"),
    "min_freeze_s": (float, "Shortest freezing episode (s, default 1)"),
}
ANALYSIS_PARAMETERS = [
    OpenApiParameter(name, kind, description=f"{text}; default: the project's setting.")
    for name, (kind, text) in _PARAM_DOCS.items()
] + [OpenApiParameter(n, kind, description=text) for n, (kind, text) in _FREEZING_DOCS.items()]


class BehaviorJSONParser(JSONParser):
    """NaN/Infinity literals parse (so validation can name the field holding one), and
    nesting too deep for Python's parser is a 400, not a server error."""

    strict = False

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


@extend_schema_field(OpenApiTypes.ANY)
class RawJSONField(serializers.Field):
    """Any parsed JSON value, NaN included, passed on as it is: the core validates it and
    names the exact field (DRF's JSONField would refuse NaN without saying where)."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class DownloadView(APIView):
    """Answers files whatever the Accept header; error bodies stay JSON."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


def file_response(
    body, *, content_type: str, filename: str, attachment: bool = True
) -> HttpResponse:
    """``body`` as a file: a download (``attachment``) or shown inline, never sniffed or
    cached by a shared cache."""
    response = HttpResponse(body, content_type=content_type)
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def analysis_query(request, *, allowed_extra: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """The analysis parameters of the query string, and the other allowed keys."""
    params, extra = {}, {}
    for key in request.query_params:
        value = request.query_params.get(key)
        if key in allowed_extra:
            extra[key] = value
        elif key in ("format", "_"):  # DRF's format, and a page's cache-buster
            continue
        else:
            params[key] = value
    return params, extra
