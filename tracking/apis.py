"""REST endpoints of tracking runs (thin: services, selectors and exports do the work).

Every id-bearing endpoint resolves its object through the user's projects
(:mod:`tracking.selectors`): a non-member gets 404, a viewer 403 on writes.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.models import Role, Video
from labeling.selectors import project_for_user
from training.models import TrainedModel
from webapp.api import validated
from webapp.jobs.apis import JobCancelApi, JobDetailApi, JobRetryApi

from . import exporting, services
from .models import TrackingRender
from .selectors import (
    tracking_batch_for_user,
    tracking_edit_for_user,
    tracking_render_for_user,
    tracking_run_for_user,
    tracking_runs_of_project,
)
from .serializers import (
    TrackingBatchOutput,
    TrackingEditInput,
    TrackingEditOutput,
    TrackingRenderOutput,
    TrackingRunCreateInput,
    TrackingRunOutput,
)


class TrackingRunListApi(APIView):
    @extend_schema(responses=TrackingRunOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        runs = tracking_runs_of_project(project=project)[:500]
        return Response(TrackingRunOutput(runs, many=True).data)

    @extend_schema(request=TrackingRunCreateInput, responses={201: TrackingBatchOutput})
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        data = validated(TrackingRunCreateInput, request.data)
        model = TrainedModel.objects.filter(project=project, pk=data["model"]).first()
        if model is None:
            raise ValidationError({"model": "No such model in this project."})
        videos = list(Video.objects.filter(project=project, pk__in=data["videos"]))
        if len(videos) != len(set(data["videos"])):
            raise ValidationError({"videos": "No such video in this project."})
        batch = services.tracking_runs_create(
            project=project,
            created_by=request.user,
            model=model,
            videos=videos,
            n_animals=data["n_animals"],
            animals_per_video=data.get("animals_per_video"),
            params=data.get("params"),
        )
        return Response(TrackingBatchOutput(batch).data, status=status.HTTP_201_CREATED)


class TrackingBatchDetailApi(APIView):
    @extend_schema(responses=TrackingBatchOutput)
    def get(self, request, batch_id: int):
        batch = tracking_batch_for_user(user=request.user, batch_id=batch_id)
        return Response(TrackingBatchOutput(batch).data)


class _RunLookup:
    output = TrackingRunOutput
    job_for = tracking_run_for_user
    lookup_kwarg = "run_id"


def _cancel(*, job):
    return services.tracking_run_cancel(run=job)


def _retry(*, job):
    return services.tracking_run_retry(run=job)


class TrackingRunDetailApi(_RunLookup, JobDetailApi):
    output = TrackingRunOutput

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, run_id: int):
        """204; 400 saying why while the run may not go (queued, running, in use)."""
        run = tracking_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
        services.tracking_run_delete(run=run)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TrackingRunCancelApi(_RunLookup, JobCancelApi):
    output = TrackingRunOutput
    service = _cancel
    status_code = status.HTTP_200_OK


class TrackingRunRetryApi(_RunLookup, JobRetryApi):
    output = TrackingRunOutput
    service = _retry
    status_code = status.HTTP_200_OK


class TrackingRunTrackApi(APIView):
    """The trajectory as compact arrays, for the run page's overlay and timeline."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, run_id: int):
        run = tracking_run_for_user(user=request.user, run_id=run_id)
        return Response(exporting.trajectory_arrays(run=run))


class TrackingRunExportApi(APIView):
    """``trajectory.csv``, ``.nwb``, ``.mot.txt``, ``.json`` (sidecar), ``.parquet``."""

    @extend_schema(responses={200: OpenApiResponse(response=OpenApiTypes.BINARY)})
    def get(self, request, run_id: int, fmt: str):
        run = tracking_run_for_user(user=request.user, run_id=run_id)
        export = exporting.trajectory_export(run=run, fmt=fmt)
        response = FileResponse(
            export.open_once(),  # FileResponse closes it; nothing stays in scratch
            as_attachment=True,
            filename=export.filename,
            content_type=export.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


class TrackingEditListApi(APIView):
    @extend_schema(responses=TrackingEditOutput(many=True))
    def get(self, request, run_id: int):
        run = tracking_run_for_user(user=request.user, run_id=run_id)
        return Response(TrackingEditOutput(run.edits.all(), many=True).data)

    @extend_schema(
        request=TrackingEditInput, responses={201: TrackingEditOutput, 200: TrackingEditOutput}
    )
    def post(self, request, run_id: int):
        """201 with a new edit; 200 with the identical active edit already stored."""
        run = tracking_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
        data = validated(TrackingEditInput, request.data)
        edit, created = services.tracking_edit_swap(run=run, created_by=request.user, **data)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(TrackingEditOutput(edit).data, status=code)


class TrackingEditRevertApi(APIView):
    @extend_schema(request=None, responses=TrackingEditOutput)
    def post(self, request, edit_id: int):
        edit = tracking_edit_for_user(user=request.user, edit_id=edit_id, role=Role.ANNOTATOR)
        return Response(TrackingEditOutput(services.tracking_edit_revert(edit=edit)).data)


class TrackingRenderListApi(APIView):
    @extend_schema(responses=TrackingRenderOutput(many=True))
    def get(self, request, run_id: int):
        run = tracking_run_for_user(user=request.user, run_id=run_id)
        return Response(TrackingRenderOutput(run.renders.all(), many=True).data)

    @extend_schema(request=None, responses={201: TrackingRenderOutput})
    def post(self, request, run_id: int):
        run = tracking_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
        render = services.tracking_render_create(run=run, created_by=request.user)
        return Response(TrackingRenderOutput(render).data, status=status.HTTP_201_CREATED)


class TrackingRenderDownloadApi(APIView):
    @extend_schema(responses={200: OpenApiResponse(response=OpenApiTypes.BINARY)})
    def get(self, request, render_id: int):
        render: TrackingRender = tracking_render_for_user(user=request.user, render_id=render_id)
        if not render.file:
            raise ValidationError({"render": "The video is not rendered yet."})
        response = FileResponse(
            render.file.open("rb"),
            as_attachment=request.GET.get("inline") != "1",
            filename=f"run{render.run_id}-tracked.mp4",
            content_type="video/mp4",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
