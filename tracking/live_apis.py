"""REST endpoints of live sessions: start, status, stop, the event log (thin).

Starting records the session (holding its camera) and queues it on the ``live`` queue;
the camera machine's worker runs it. Status is polled (``state`` is refreshed about twice a
second while it runs). Every id-bearing endpoint resolves through the user's projects.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.models import Role
from labeling.selectors import project_for_user
from training.models import TrainedModel
from webapp.jobs.apis import JobCancelApi, JobDetailApi, JobOutputBase

from . import live_services
from .models import LiveSession
from .selectors import live_session_for_user

_ID = {"min_value": 1, "max_value": 2**62}


class LiveSessionCreateInput(serializers.Serializer):
    model = serializers.IntegerField(**_ID)
    # /dev/videoN, rtsp:// or http(s):// stream, or video:<id> of the project (paced).
    source = serializers.CharField(max_length=500)
    n_animals = serializers.IntegerField(min_value=1, max_value=live_services.MAX_ANIMALS,
                                         default=1)  # fmt: skip
    # A list of zones, or {"zones", "rules", "outputs", "px_per_cm"} (tracking/live/config.py).
    setup = serializers.JSONField(required=False)
    # imgsz, conf, duration_s, start_on_detection, crop, device, backend.
    params = serializers.DictField(required=False)


class LiveSessionOutput(JobOutputBase):
    model_name = serializers.CharField(source="model.name", allow_null=True, default=None)
    events_url = serializers.SerializerMethodField()
    run_url = serializers.SerializerMethodField()

    class Meta:
        model = LiveSession
        fields = [
            "id",
            "project",
            "status",
            "status_display",
            "is_finished",
            "can_cancel",
            "progress",
            "message",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "model",
            "model_name",
            "source",
            "paced",
            "n_animals",
            "setup",
            "params",
            "state",
            "summary",
            "run",
            "run_url",
            "events_url",
        ]

    def get_events_url(self, session) -> str | None:
        return f"/api/live-sessions/{session.pk}/events.jsonl" if session.events else None

    def get_run_url(self, session) -> str | None:
        return f"/tracking-runs/{session.run_id}/" if session.run_id else None


class LiveSessionListApi(APIView):
    @extend_schema(responses=LiveSessionOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        sessions = LiveSession.objects.filter(project=project).select_related("model")[:100]
        return Response(LiveSessionOutput(sessions, many=True).data)

    @extend_schema(request=LiveSessionCreateInput, responses={201: LiveSessionOutput})
    def post(self, request, project_id: int):
        """201 with the queued session; 400 naming the field (a camera in use: ``source``)."""
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        payload = LiveSessionCreateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        model = TrainedModel.objects.filter(project=project, pk=data["model"]).first()
        if model is None:
            raise ValidationError({"model": "No such model in this project."})
        session = live_services.live_session_start(
            project=project,
            created_by=request.user,
            model=model,
            source=data["source"],
            n_animals=data["n_animals"],
            setup=data.get("setup"),
            params=data.get("params"),
        )
        return Response(LiveSessionOutput(session).data, status=status.HTTP_201_CREATED)


def _stop(*, job):
    return live_services.live_session_stop(session=job)


class LiveSessionDetailApi(JobDetailApi):
    output = LiveSessionOutput
    job_for = live_session_for_user


class LiveSessionStopApi(JobCancelApi):
    output = LiveSessionOutput
    job_for = live_session_for_user
    service = _stop


class LiveSessionEventsApi(APIView):
    """The event log, JSONL: one event a line with its capture, output times and latency."""

    @extend_schema(responses={200: OpenApiResponse(response=OpenApiTypes.BINARY)})
    def get(self, request, job_id: int):
        session = live_session_for_user(user=request.user, job_id=job_id)
        if not session.events:
            raise ValidationError({"events": "The session has no event log yet."})
        response = FileResponse(
            session.events.open("rb"),
            as_attachment=True,
            filename=f"live-session-{session.pk}-events.jsonl",
            content_type="application/x-ndjson",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
