"""REST endpoints of one run's analysis: its measures per animal and zone, and its heatmap
and trajectory images. Thin: ``behavior.analysis.runs`` computes (nothing is stored); bad
input is a 400 naming the field.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from behavior.api_base import ANALYSIS_PARAMETERS, DownloadView, analysis_query, file_response
from tracking.selectors import tracking_run_for_user

MAX_SIGMA_CELLS = 20.0


def _analysis():
    """The analysis, imported on first use: it pulls in SciPy, pandas and matplotlib
    (seconds to import), which loading the URLs should not pay."""
    from . import runs

    return runs


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
        params, _ = analysis_query(request)
        # Freezing is never measured inside a request: it comes from a finished
        # background job (behavior.freezing.services), or the answer says where that job is.
        return Response(_analysis().run_analysis(run=run, params=params, freezing_jobs=True))


_IMAGE_PARAMETERS = [
    OpenApiParameter("animal", int, description="Animal number (1..N); default 1"),
    OpenApiParameter("cell_size", float, description="Heatmap cell (cm, or px uncalibrated)"),
    OpenApiParameter("sigma_cells", float, description="Heatmap smoothing (cells)"),
    *ANALYSIS_PARAMETERS,
]


def _image(request, run_id: int, kind: str) -> HttpResponse:
    run = tracking_run_for_user(user=request.user, run_id=run_id)
    params, extra = analysis_query(request, allowed_extra=("animal", "cell_size", "sigma_cells"))
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
    return file_response(
        png,
        content_type="image/png",
        filename=f"run-{run.pk}-{kind}.png",
        attachment=False,
    )


def _image_api(kind: str, name: str) -> type[DownloadView]:
    """The view ``name`` answering a run's ``kind`` image (``tracking-runs/<id>/<kind>.png``)."""

    class RunImageApi(DownloadView):
        @extend_schema(
            operation_id=f"tracking_runs_{kind}_png",
            parameters=_IMAGE_PARAMETERS,
            responses={(200, "image/png"): OpenApiTypes.BINARY},
        )
        def get(self, request, run_id: int):
            return _image(request, run_id, kind)

    RunImageApi.__name__ = RunImageApi.__qualname__ = name
    return RunImageApi


RunHeatmapApi = _image_api("heatmap", "RunHeatmapApi")
RunTrajectoryImageApi = _image_api("trajectory", "RunTrajectoryImageApi")
