"""REST endpoints of freezing as a background job (``behavior.freezing.services``): a run's
job for given motion parameters (read it; start it), a job's progress and its cancel, and
the same for every run of a project's experiment table at once.

Viewers read; starting and cancelling need annotator (a job spends a worker's time).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from behavior.api_base import BehaviorJSONParser
from behavior.experiment.selectors import experiment_runs
from behavior.freezing.serializers import FreezingJobOutput, freezing_job_state
from behavior.selectors import freezing_job_for_user
from labeling.models import Role
from labeling.selectors import project_for_user
from tracking.selectors import tracking_run_for_user
from webapp.jobs import job_cancel
from webapp.jobs.apis import job_apis

MOTION_KEYS = ("motion_cutoff",)
_PARAMETERS = [
    OpenApiParameter(
        "motion_cutoff", float, description="Grey levels a pixel must change by (default 10)"
    )
]


class FreezingInput(serializers.Serializer):
    """Documents the body; ``_params`` reads it (unknown keys are a 400 naming them)."""

    motion_cutoff = serializers.FloatField(
        required=False, help_text="Grey levels a pixel must change by (default 10)"
    )


_BODY = FreezingInput


def _jobs():
    # Imported on first use: the behaviour core (SciPy) is not for loading the URLs.
    from behavior.freezing import services

    return services


def _params(data: Any):
    """FreezingParams from a query or body; unknown keys are a 400 naming them."""
    from behavior.freezing.motion import freezing_request

    if not hasattr(data, "keys"):
        raise ValidationError({"non_field_errors": "Expected an object of parameters."})
    given = {}
    for key in data.keys():
        if key in ("format", "_"):
            continue
        if key not in MOTION_KEYS:
            raise ValidationError({str(key)[:60]: "Unknown parameter."})
        given[key] = data.get(key)
    freezing, _ = freezing_request({"freezing": True, **given})
    return freezing.params


class RunFreezingApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(
        parameters=_PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        description='The run\'s freezing job for these parameters ({"status": "none"} '
        "when none was started).",
    )
    def get(self, request, run_id: int):
        run = tracking_run_for_user(user=request.user, run_id=run_id)
        job = _jobs().freezing_job_for(run=run, params=_params(request.query_params))
        return Response(freezing_job_state(job))

    @extend_schema(
        request=_BODY,
        responses={200: OpenApiTypes.OBJECT, 201: OpenApiTypes.OBJECT},
        description="Start measuring the run's freezing in the background (201), or answer "
        "the job already queued, running or finished for these parameters (200).",
    )
    def post(self, request, run_id: int):
        run = tracking_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
        if run.status != "succeeded" or not run.trajectory:
            raise ValidationError({"run": "The run has no trajectory yet (it has not succeeded)."})
        job, created = _jobs().freezing_job_start(
            run=run, params=_params(request.data), created_by=request.user
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(freezing_job_state(job), status=code)


# Cancel answers 200 with the job, as it did before the job base classes.
FreezingJobDetailApi, FreezingJobCancelApi = job_apis(
    "FreezingJob",
    output=FreezingJobOutput,
    job_for=freezing_job_for_user,
    cancel=partial(job_cancel, what="freezing job"),
    status_code=status.HTTP_200_OK,
)


class ProjectFreezingApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(
        parameters=_PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        description='{"jobs": [...]}: the freezing job of every run in the experiment table.',
    )
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        params = _params(request.query_params)
        jobs = [
            freezing_job_state(_jobs().freezing_job_for(run=t.run, params=params))
            | {"run": t.run.pk, "video": t.video_id}
            for t in experiment_runs(project=project).values()
            if t.run is not None
        ]
        return Response({"jobs": jobs})

    @extend_schema(
        request=_BODY,
        responses=OpenApiTypes.OBJECT,
        description="Start (or reuse) the freezing job of every run in the experiment table.",
    )
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        params = _params(request.data)
        jobs = []
        for table in experiment_runs(project=project).values():
            if table.run is None:
                continue
            job, _ = _jobs().freezing_job_start(
                run=table.run, params=params, created_by=request.user
            )
            jobs.append(freezing_job_state(job) | {"video": table.video_id})
        return Response({"jobs": jobs})
