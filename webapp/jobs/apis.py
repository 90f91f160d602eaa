"""What every job kind's API shares: the output serializer base and the Detail, Cancel and
Retry views.

A kind's views subclass these and name ``output`` (its serializer), ``job_for`` (the
permission-scoped lookup: 404 to non-members, 403 below the role) and, for Cancel/Retry,
``service`` (cancel or retry). The schema of each subclass is written from its ``output``
(``__init_subclass__``), so the OpenAPI document stays as precise as hand-written
``@extend_schema`` decorators.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, ClassVar

from django.urls import URLPattern, include, path
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


# The base classes below carry comments, not docstrings: drf-spectacular would show an
# inherited docstring as the description of every subclass's schema.


# Status, progress, message, error and times of any job; ``status_display``,
# ``can_cancel`` and ``can_retry`` for kinds whose output lists them in ``Meta.fields``.
class JobOutputBase(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    is_finished = serializers.BooleanField(read_only=True)
    can_cancel = serializers.SerializerMethodField()
    can_retry = serializers.SerializerMethodField()

    def get_can_cancel(self, job) -> bool:
        return job_can_cancel(job=job)

    def get_can_retry(self, job) -> bool:
        return job_can_retry(job=job)


class _JobApi(APIView):
    output: ClassVar[type[serializers.Serializer]]
    #: The URL keyword holding the job's id, and the name ``job_for`` takes it by.
    lookup_kwarg: ClassVar[str] = "job_id"
    lookup_param: ClassVar[str] = ""
    #: The role the operation needs (reading: any member).
    role: ClassVar[str] = Role.VIEWER
    #: ``(user=..., job_id=..., role=...) -> job``, 404/403 for others.
    job_for: ClassVar[Callable[..., Any]]

    def get_job(self, request, kwargs: dict[str, Any]) -> Any:
        pk = {self.lookup_param or self.lookup_kwarg: kwargs[self.lookup_kwarg]}
        return type(self).job_for(user=request.user, role=self.role, **pk)

    def context(self, job: Any) -> dict[str, Any]:
        """The output serializer's context (e.g. a training job's queue position)."""
        return {}

    def respond(self, job: Any, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.output(job, context=self.context(job)).data, status=code)


# GET: the job as ``output`` shows it.
class JobDetailApi(_JobApi):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "output" in cls.__dict__:

            def get(self, request, **kw):
                return self.respond(self.get_job(request, kw))

            cls.get = extend_schema(request=None, responses=cls.output)(get)


# POST: run ``service(job=...)`` (cancel, retry) and answer with the job (202 unless
# ``status_code`` says otherwise).
class JobActionApi(_JobApi):
    role: ClassVar[str] = Role.ANNOTATOR
    #: ``(job=...) -> job`` (not ``action``: DRF and drf-spectacular read that name as a
    #: viewset's action); a ValidationError becomes 400.
    service: ClassVar[Callable[..., Any]]
    status_code: ClassVar[int] = status.HTTP_202_ACCEPTED

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "output" in cls.__dict__:

            def post(self, request, **kw):
                job = type(self).service(job=self.get_job(request, kw))
                return self.respond(job, self.status_code)

            responses = {cls.status_code: cls.output}
            cls.post = extend_schema(request=None, responses=responses)(post)


# POST: ask the job to stop.
class JobCancelApi(JobActionApi):
    pass


# POST: queue a failed, timed-out or cancelled job again.
class JobRetryApi(JobActionApi):
    pass


def job_apis(
    name: str,
    *,
    output: type[serializers.Serializer],
    job_for: Callable[..., Any],
    cancel: Callable[..., Any] | None = None,
    retry: Callable[..., Any] | None = None,
    status_code: int = status.HTTP_202_ACCEPTED,
) -> tuple[type[_JobApi], ...]:
    """A kind's views declared at once: ``<name>DetailApi``, then ``<name>CancelApi`` when
    it has a ``cancel`` service and ``<name>RetryApi`` when it has a ``retry`` one (their
    answers: ``status_code``). A kind whose views need more (a context, another lookup)
    subclasses the base classes itself."""
    # The views belong to the module declaring them (as if written there as classes).
    module = sys._getframe(1).f_globals["__name__"]
    shared = {"output": output, "job_for": job_for, "__module__": module}
    views: list[type[_JobApi]] = [type(f"{name}DetailApi", (JobDetailApi,), dict(shared))]
    for base, suffix, service in ((JobCancelApi, "Cancel", cancel), (JobRetryApi, "Retry", retry)):
        if service is not None:
            own = {"service": service, "status_code": status_code}
            views.append(type(f"{name}{suffix}Api", (base,), shared | own))
    return tuple(views)


def job_urls(route: str, name: str, *views: type[_JobApi], detail_name: str = "") -> URLPattern:
    """A kind's views routed under ``route`` (``"sampling-jobs/<id:job_id>/"``): the detail
    at it (named ``detail_name`` or ``name``), cancel at ``cancel/`` (``<name>-cancel``)
    and retry at ``retry/`` (``<name>-retry``)."""
    routes = []
    for view in views:
        if issubclass(view, JobCancelApi):
            routes.append(path("cancel/", view.as_view(), name=f"{name}-cancel"))
        elif issubclass(view, JobRetryApi):
            routes.append(path("retry/", view.as_view(), name=f"{name}-retry"))
        else:
            routes.append(path("", view.as_view(), name=detail_name or name))
    return path(route, include(routes))
