"""REST endpoints of the behaviour analysis: arenas, templates, subjects, settings, a run's
measures and images, and the experiment table.

Thin: selectors resolve what the user may see (non-members get 404, viewers 403 on
writes), ``behavior.arenas.services`` validates and writes, ``behavior.analysis.runs``
computes. Bad input is a 400 naming the field.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from behavior.models import SETTINGS_FIELDS, ArenaSetup, ArenaTemplate, SubjectInfo
from behavior.selectors import analysis_settings_for
from behavior.serializers import (
    AnalysisSettingsInput,
    AnalysisSettingsOutput,
    ArenaInput,
    ArenaOutput,
    ArenaPresetInput,
    ArenaPresetOutput,
    ArenaTemplateApplyInput,
    ArenaTemplateApplyOutput,
    ArenaTemplateCreateInput,
    ArenaTemplateOutput,
    SubjectImportInput,
    SubjectImportOutput,
    SubjectInput,
    SubjectOutput,
    subject_dict,
)
from labeling.models import Role, Video
from labeling.selectors import object_for_user, project_for_user
from tracking.selectors import tracked_video_for_user, tracking_run_for_user

MAX_SIGMA_CELLS = 20.0

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


def _services():
    """The behaviour services, imported on first use: with the core they pull in SciPy,
    pandas and matplotlib (seconds to import), which loading the URLs should not pay."""
    from behavior.arenas import services

    return services


def _experiment_services():
    from behavior.experiment import services

    return services


def _analysis():
    from behavior.analysis import runs

    return runs


def _experiment_tables():
    from behavior.experiment import table

    return table


class BehaviorJSONParser(JSONParser):
    """NaN/Infinity literals parse (so validation can name the field holding one), and
    nesting too deep for Python's parser is a 400, not a server error."""

    strict = False

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class _DownloadView(APIView):
    """Answers files whatever the Accept header; error bodies stay JSON."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


def _file(body, *, content_type: str, filename: str, attachment: bool = True) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _query(request, *, allowed_extra: tuple[str, ...] = ()) -> tuple[dict, dict]:
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


def _arena_output(video: Video) -> dict:
    setup = ArenaSetup.objects.select_related("template").filter(video=video).first()
    base = (
        setup.arena_dict()
        if setup
        else {
            "calibration": "none",
            "ruler": None,
            "arena": None,
            "px_per_cm": None,
            "zones": [],
            "unions": {},
            "preset": None,
            "preset_params": {},
            "membership": "centre",
        }
    )
    return {
        "video": video.pk,
        "frame_width": video.width,
        "frame_height": video.height,
        "saved": setup is not None,
        **base,
        "units": "cm" if base["px_per_cm"] else "px",
        "template": setup.template_id if setup else None,
        "template_name": setup.template.name if setup and setup.template else None,
        "nudge": setup.nudge if setup else None,
        "updated_at": setup.updated_at if setup else None,
        "background_url": reverse("arena-background", args=[video.project_id, video.pk]),
    }


# --- arena ----------------------------------------------------------------------------
class ArenaSetupApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(responses=ArenaOutput, description="The video's arena (defaults if none).")
    def get(self, request, video_id: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id)
        return Response(ArenaOutput(_arena_output(video)).data)

    @extend_schema(
        request=ArenaInput,
        responses=ArenaOutput,
        description="Replace the video's arena: calibration (ruler or arena outline and real "
        "size), zones in original-video pixels, preset, membership. 400 names the field "
        "(zones[1].points, ruler.length_cm); nothing is stored then.",
    )
    def put(self, request, video_id: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id, role=Role.ANNOTATOR)
        payload = ArenaInput(data=request.data)
        payload.is_valid(raise_exception=True)
        _services().arena_setup_save(video=video, updated_by=request.user, **payload.validated_data)
        return Response(ArenaOutput(_arena_output(video)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, video_id: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id, role=Role.ANNOTATOR)
        _services().arena_setup_delete(video=video)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ArenaPresetApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(
        request=ArenaPresetInput,
        responses=ArenaPresetOutput,
        description="The zones an assay preset makes from its inputs on this video's frame "
        "(nothing is stored: save them with PUT arena/).",
    )
    def post(self, request, video_id: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id)
        payload = ArenaPresetInput(data=request.data)
        payload.is_valid(raise_exception=True)
        zones, params, unions = _services().preset_zones(
            preset=payload.validated_data["preset"],
            params=payload.validated_data.get("preset_params"),
            frame_width=video.width or None,
            frame_height=video.height or None,
        )
        body = {
            "preset": payload.validated_data["preset"],
            "preset_params": params,
            "zones": [z.to_json() for z in zones],
            "unions": unions,
        }
        return Response(ArenaPresetOutput(body).data)


# --- templates ------------------------------------------------------------------------
def _template_for_user(request, template_id: int, role: str = Role.VIEWER) -> ArenaTemplate:
    return object_for_user(
        ArenaTemplate.objects.select_related("project"),
        user=request.user,
        pk=template_id,
        role=role,
        what="arena template",
    )


class ArenaTemplateListApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(responses=ArenaTemplateOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        templates = ArenaTemplate.objects.filter(project=project)
        return Response(ArenaTemplateOutput(templates, many=True).data)

    @extend_schema(request=ArenaTemplateCreateInput, responses={201: ArenaTemplateOutput})
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        payload = ArenaTemplateCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        video_id = data.pop("video", None)
        video = None
        if video_id is not None:
            video = Video.objects.filter(project=project, pk=video_id).first()
            if video is None:
                raise ValidationError({"video": "No such video in this project."})
        template = _services().arena_template_create(
            project=project, created_by=request.user, from_video=video, **data
        )
        return Response(ArenaTemplateOutput(template).data, status=status.HTTP_201_CREATED)


class ArenaTemplateDetailApi(APIView):
    @extend_schema(responses=ArenaTemplateOutput)
    def get(self, request, template_id: int):
        return Response(ArenaTemplateOutput(_template_for_user(request, template_id)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, template_id: int):
        template = _template_for_user(request, template_id, Role.ANNOTATOR)
        _services().arena_template_delete(template=template)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ArenaTemplateApplyApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(
        request=ArenaTemplateApplyInput,
        responses=ArenaTemplateApplyOutput,
        description="Copy the template onto videos of its project, each with its own nudge. "
        "All or nothing: a video it does not fit is a 400 naming videos[i].",
    )
    def post(self, request, template_id: int):
        template = _template_for_user(request, template_id, Role.ANNOTATOR)
        payload = ArenaTemplateApplyInput(data=request.data)
        payload.is_valid(raise_exception=True)
        ids, nudges = [], {}
        for i, item in enumerate(payload.validated_data["videos"]):
            raw = item.get("id", item.get("video")) if isinstance(item, dict) else item
            if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw < 2**62:
                raise ValidationError(
                    {f"videos[{i}]": "Must be a video id or {id, dx, dy, scale}."}
                )
            ids.append(raw)
            if isinstance(item, dict):
                nudges[raw] = item
        found = {v.pk: v for v in Video.objects.filter(project=template.project, pk__in=ids)}
        for i, video_id in enumerate(ids):
            if video_id not in found:
                raise ValidationError({f"videos[{i}]": "No such video in this project."})
        setups = _services().arena_template_apply(
            template=template,
            videos=[found[v] for v in ids],
            nudge=nudges,
            updated_by=request.user,
        )
        body = {"template": template.pk, "videos": [s.video_id for s in setups]}
        return Response(ArenaTemplateApplyOutput(body).data)


# --- subjects -------------------------------------------------------------------------
class SubjectInfoApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(responses=SubjectOutput)
    def get(self, request, video_id: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id)
        info = SubjectInfo.objects.filter(video=video).first()
        return Response(SubjectOutput(subject_dict(video, info)).data)

    @extend_schema(request=SubjectInput, responses=SubjectOutput)
    def put(self, request, video_id: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id, role=Role.ANNOTATOR)
        payload = SubjectInput(data=request.data)
        payload.is_valid(raise_exception=True)
        info = _experiment_services().subject_info_save(video=video, **payload.validated_data)
        return Response(SubjectOutput(subject_dict(video, info)).data)


class ProjectSubjectListApi(APIView):
    @extend_schema(responses=SubjectOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        videos = Video.objects.filter(project=project, kind=Video.Kind.VIDEO).order_by(
            "original_name", "pk"
        )
        infos = {s.video_id: s for s in SubjectInfo.objects.filter(video__project=project)}
        body = [subject_dict(v, infos.get(v.pk)) for v in videos]
        return Response(SubjectOutput(body, many=True).data)


class SubjectImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": SubjectImportInput},
        responses=SubjectImportOutput,
        description="Set subjects from a CSV (columns: video, subject, group, session, "
        "notes). A bad row is a 400 naming it (rows[3].video); nothing is stored then.",
    )
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        payload = SubjectImportInput(data=request.data)
        payload.is_valid(raise_exception=True)
        result = _experiment_services().subject_info_import_csv(
            project=project, file=payload.validated_data["file"]
        )
        body = {
            "created": result.created,
            "updated": result.updated,
            "ignored_columns": result.ignored_columns,
            "subjects": [subject_dict(s.video, s) for s in result.subjects],
        }
        return Response(SubjectImportOutput(body).data)


# --- settings -------------------------------------------------------------------------
def _settings_dict(row) -> dict:
    out = {name: getattr(row, name) for name in SETTINGS_FIELDS}
    out["smoothing"] = out["smoothing"] or None
    return out


class AnalysisSettingsApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(responses=AnalysisSettingsOutput)
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        row = analysis_settings_for(project=project)
        return Response(AnalysisSettingsOutput(_settings_dict(row)).data)

    @extend_schema(request=AnalysisSettingsInput, responses=AnalysisSettingsOutput)
    def put(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        payload = AnalysisSettingsInput(data=request.data)
        payload.is_valid(raise_exception=True)
        row = _experiment_services().analysis_settings_save(
            project=project, **payload.validated_data
        )
        return Response(AnalysisSettingsOutput(_settings_dict(row)).data)


# --- one run --------------------------------------------------------------------------
class RunAnalysisApi(APIView):
    @extend_schema(
        parameters=ANALYSIS_PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        description='Measures per animal and zone: {"run", "units", "fps", "animals": '
        '[{"animal", "distance", "mean_speed", "time_moving_s", "time_immobile_s", "zones": '
        '{NAME: {"time_s", "entries", "exits", "latency_s", "distance"}}, "bins": [...]}], '
        '"parameters": {...}}. Computed from the trajectory (with its edits) on request.',
    )
    def get(self, request, run_id: int):
        run = tracking_run_for_user(user=request.user, run_id=run_id)
        params, _ = _query(request)
        # Freezing is never measured inside a request: it comes from a finished
        # background job (behavior.freezing.jobs), or the answer says where that job is.
        return Response(_analysis().run_analysis(run=run, params=params, freezing_jobs=True))


_IMAGE_PARAMETERS = [
    OpenApiParameter("animal", int, description="Animal number (1..N); default 1"),
    OpenApiParameter("cell_size", float, description="Heatmap cell (cm, or px uncalibrated)"),
    OpenApiParameter("sigma_cells", float, description="Heatmap smoothing (cells)"),
    *ANALYSIS_PARAMETERS,
]


def _image(request, run_id: int, kind: str) -> HttpResponse:
    run = tracking_run_for_user(user=request.user, run_id=run_id)
    params, extra = _query(request, allowed_extra=("animal", "cell_size", "sigma_cells"))
    sigma = extra.get("sigma_cells")
    if sigma not in (None, ""):
        try:
            bad = not 0 <= float(sigma) <= MAX_SIGMA_CELLS
        except ValueError:
            bad = True
        if bad:
            raise ValidationError({"sigma_cells": f"Must be from 0 to {MAX_SIGMA_CELLS:g}."})
    png = _analysis().run_image_png(
        run=run,
        kind=kind,
        animal=extra.get("animal", 1),
        params=params,
        cell_size=extra.get("cell_size"),
        sigma_cells=sigma,
    )
    return _file(
        png,
        content_type="image/png",
        filename=f"run-{run.pk}-{kind}.png",
        attachment=False,
    )


class RunHeatmapApi(_DownloadView):
    @extend_schema(
        operation_id="tracking_runs_heatmap_png",
        parameters=_IMAGE_PARAMETERS,
        responses={(200, "image/png"): OpenApiTypes.BINARY},
    )
    def get(self, request, run_id: int):
        return _image(request, run_id, "heatmap")


class RunTrajectoryImageApi(_DownloadView):
    @extend_schema(
        operation_id="tracking_runs_trajectory_png",
        parameters=_IMAGE_PARAMETERS,
        responses={(200, "image/png"): OpenApiTypes.BINARY},
    )
    def get(self, request, run_id: int):
        return _image(request, run_id, "trajectory")


# --- experiment -----------------------------------------------------------------------
_EXPERIMENT_PARAMETERS = [
    OpenApiParameter("by_bin", bool, description="One row per time bin (needs bin_s)"),
    OpenApiParameter(
        "group", str, many=True, description="Only videos of these groups (repeatable)"
    ),
    *ANALYSIS_PARAMETERS,
]


def _experiment(request, project_id: int, extra_keys: tuple[str, ...] = ()):
    project = project_for_user(user=request.user, project_id=project_id)
    params, extra = _query(request, allowed_extra=("by_bin", "group", *extra_keys))
    by_bin = extra.get("by_bin", "false").strip().lower()
    if by_bin not in ("true", "false", "1", "0", ""):
        raise ValidationError({"by_bin": "Must be true or false."})
    groups = request.query_params.getlist("group") if "group" in extra else None
    experiment = _experiment_tables().experiment_table_build(
        project=project,
        params=params,
        by_bin=by_bin in ("true", "1"),
        groups=groups,
        freezing_jobs=True,
    )
    return project, experiment, extra


class ExperimentApi(APIView):
    @extend_schema(
        parameters=_EXPERIMENT_PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        description="One row per video × animal (× bin) with subject, measures and trust "
        "figures, each video's run for the table (chosen, else the newest finished run "
        "with the video's animal count); and the group summary "
        "(n, mean, sd, sem per group and measure).",
    )
    def get(self, request, project_id: int):
        _, experiment, _ = _experiment(request, project_id)
        return Response(experiment.as_dict())


class ExperimentCsvApi(_DownloadView):
    @extend_schema(
        operation_id="projects_experiment_csv",
        parameters=_EXPERIMENT_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request, project_id: int):
        project, experiment, _ = _experiment(request, project_id)
        return _file(
            _experiment_tables().experiment_csv(experiment),
            content_type="text/csv; charset=utf-8",
            filename=f"project-{project.pk}-experiment.csv",
        )


class ExperimentXlsxApi(_DownloadView):
    @extend_schema(
        operation_id="projects_experiment_xlsx",
        parameters=_EXPERIMENT_PARAMETERS,
        responses={
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiTypes.BINARY
        },
    )
    def get(self, request, project_id: int):
        project, experiment, _ = _experiment(request, project_id)
        return _file(
            _experiment_tables().experiment_xlsx(experiment),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"project-{project.pk}-experiment.xlsx",
        )


class ExperimentPlotApi(_DownloadView):
    @extend_schema(
        operation_id="projects_experiment_plot_png",
        parameters=[
            OpenApiParameter("measure", str, required=True, description="A measure column"),
            OpenApiParameter("kind", str, description="bar (mean ± SEM) or box"),
            *_EXPERIMENT_PARAMETERS,
        ],
        responses={(200, "image/png"): OpenApiTypes.BINARY},
    )
    def get(self, request, project_id: int):
        project, experiment, extra = _experiment(request, project_id, ("measure", "kind"))
        if not extra.get("measure"):
            raise ValidationError({"measure": "This field is required."})
        measure = extra["measure"]
        png = _experiment_tables().experiment_plot_png(
            experiment, measure=measure, kind=extra.get("kind") or "bar"
        )
        return _file(
            png,
            content_type="image/png",
            filename=f"project-{project.pk}-{re.sub(r'[^A-Za-z0-9_.-]', '-', measure)[:60]}.png",
            attachment=False,
        )
