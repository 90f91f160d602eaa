"""What every job kind's API shares: the output serializer base and the Detail, Cancel and
Retry views.

A kind's views subclass these and name ``output`` (its serializer), ``job_for`` (the
permission-scoped lookup: 404 to non-members, 403 below the role) and, for Cancel/Retry,
``action`` (its service). The schema of each subclass is written from its ``output``
(``__init_subclass__``), so the OpenAPI document stays as precise as hand-written
``@extend_schema`` decorators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.models import Role

from .services import job_can_cancel, job_can_retry

#: The fields every job output carries (a kind lists them first, then its own).
JOB_FIELDS = [
    "id",
    "status",
    "is_finished",
    "progress",
    "message",
    "error",
    "created_at",
    "started_at",
    "finished_at",
]


class JobOutputBase(serializers.ModelSerializer):
    """Status, progress, message, error and times of any job; ``can_cancel`` and
    ``can_retry`` for kinds whose output says so (list them in ``Meta.fields``)."""

    is_finished = serializers.BooleanField(read_only=True)
    can_cancel = serializers.SerializerMethodField()
    can_retry = serializers.SerializerMethodField()

    def get_can_cancel(self, job) -> bool:
        return job_can_cancel(job=job)

    def get_can_retry(self, job) -> bool:
        return job_can_retry(job=job)


class _JobApi(APIView):
    output: ClassVar[type[serializers.Serializer]]
    #: The URL keyword holding the job's id.
    lookup_kwarg: ClassVar[str] = "job_id"
    #: The role the operation needs (reading: any member).
    role: ClassVar[str] = Role.VIEWER
    #: ``(user=..., job_id=..., role=...) -> job``, 404/403 for others.
    job_for: ClassVar[Callable[..., Any]]

    def get_job(self, request, kwargs: dict[str, Any]) -> Any:
        return type(self).job_for(
            user=request.user, job_id=kwargs[self.lookup_kwarg], role=self.role
        )


class JobDetailApi(_JobApi):
    """GET: the job as ``output`` shows it."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "output" in cls.__dict__:

            def get(self, request, **kw):
                return Response(self.output(self.get_job(request, kw)).data)

            cls.get = extend_schema(request=None, responses=cls.output)(get)


class JobActionApi(_JobApi):
    """POST: run ``action(job=...)`` (cancel, retry) and answer 202 with the job."""

    role: ClassVar[str] = Role.ANNOTATOR
    #: ``(job=...) -> job``; a ValidationError becomes 400.
    action: ClassVar[Callable[..., Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "output" in cls.__dict__:

            def post(self, request, **kw):
                job = type(self).action(job=self.get_job(request, kw))
                return Response(self.output(job).data, status=status.HTTP_202_ACCEPTED)

            cls.post = extend_schema(request=None, responses={202: cls.output})(post)


class JobCancelApi(JobActionApi):
    """POST: ask the job to stop."""


class JobRetryApi(JobActionApi):
    """POST: queue a failed, timed-out or cancelled job again."""
