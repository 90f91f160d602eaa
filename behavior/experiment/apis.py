"""REST endpoints of the experiment: who each video is about (one by one or from a CSV),
the project's analysis settings, and the experiment table with its CSV, XLSX and group
plots. Thin: ``behavior.experiment.services`` writes, ``behavior.experiment.table``
gathers the runs' measures; bad input is a 400 naming the field.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from behavior.api_base import (
    ANALYSIS_PARAMETERS,
    BehaviorJSONParser,
    DownloadView,
    analysis_query,
    file_response,
)
from behavior.models import SETTINGS_FIELDS, SubjectInfo
from behavior.selectors import analysis_settings_for
from labeling.models import Role, Video
from labeling.selectors import project_for_user
from tracking.selectors import tracked_video_for_user
from webapp.api import validated

from .serializers import (
    AnalysisSettingsInput,
    AnalysisSettingsOutput,
    SubjectImportInput,
    SubjectImportOutput,
    SubjectInput,
    SubjectOutput,
    subject_dict,
)


def _experiment_services():
    """Imported on first use (with the core: SciPy, pandas, matplotlib), not by the URLs."""
    from . import services

    return services


def _experiment_tables():
    from . import table

    return table


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
        data = validated(SubjectInput, request.data)
        info = _experiment_services().subject_info_save(video=video, **data)
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
        data = validated(SubjectImportInput, request.data)
        result = _experiment_services().subject_info_import_csv(project=project, file=data["file"])
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
        data = validated(AnalysisSettingsInput, request.data)
        row = _experiment_services().analysis_settings_save(project=project, **data)
        return Response(AnalysisSettingsOutput(_settings_dict(row)).data)


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
    params, extra = analysis_query(request, allowed_extra=("by_bin", "group", *extra_keys))
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


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _ExperimentFileApi(DownloadView):
    # The experiment table as a file: ``experiment_<suffix>`` of behavior.experiment.table.
    suffix = ""
    content_type = ""

    def get(self, request, project_id: int):
        project, experiment, _ = _experiment(request, project_id)
        write = getattr(_experiment_tables(), f"experiment_{self.suffix}")
        return file_response(
            write(experiment),
            content_type=self.content_type,
            filename=f"project-{project.pk}-experiment.{self.suffix}",
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="projects_experiment_csv",
        parameters=_EXPERIMENT_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
)
class ExperimentCsvApi(_ExperimentFileApi):
    suffix = "csv"
    content_type = "text/csv; charset=utf-8"


@extend_schema_view(
    get=extend_schema(
        operation_id="projects_experiment_xlsx",
        parameters=_EXPERIMENT_PARAMETERS,
        responses={(200, XLSX): OpenApiTypes.BINARY},
    )
)
class ExperimentXlsxApi(_ExperimentFileApi):
    suffix = "xlsx"
    content_type = XLSX


class ExperimentPlotApi(DownloadView):
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
        return file_response(
            png,
            content_type="image/png",
            filename=f"project-{project.pk}-{re.sub(r'[^A-Za-z0-9_.-]', '-', measure)[:60]}.png",
            attachment=False,
        )
