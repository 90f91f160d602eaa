"""REST endpoints of assisted labeling: a frame's proposals (read, accept, reject), "accept
all above S" on a filtered frame list, that list itself, and pre-label jobs.

Every lookup goes through the user's projects (non-members get 404, viewers cannot write).
"""

from __future__ import annotations

from dataclasses import asdict

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.annotations.apis import (
    FRAME_CURSOR_PARAMETERS,
    FRAME_FILTERS,
    AnnotationConflictOutput,
    AnnotationOutput,
    FrameOutput,
    StrictFloatField,
    StrictIntegerField,
    flat_errors,
    frame_page,
)
from labeling.annotations.selectors import SPLIT_FILTERS, frame_for_user
from labeling.annotations.services import AnnotationConflict
from labeling.models import Frame, Role
from labeling.selectors import project_for_user
from webapp.jobs.apis import JobOutputBase, job_apis
from webapp.parsers import DepthLimitedJSONParser

from . import services
from .models import HardFrameJob, PrelabelJob
from .selectors import (
    PROPOSAL_FILTERS,
    assisted_frame_list,
    hard_frame_job_for_user,
    machine_label_of,
    pending_proposals,
    prelabel_job_for_user,
    prelabel_jobs_of_project,
)


def _valid(serializer_class, data):
    payload = serializer_class(data=data)
    if not payload.is_valid():
        raise ValidationError(flat_errors(payload.errors))
    return payload.validated_data


# --- serializers ------------------------------------------------------------------------
class ProposalOutput(serializers.Serializer):
    """A proposal in original-image pixels: top-left ``(x, y)``, size ``(w, h)``."""

    id = serializers.IntegerField()
    class_id = serializers.IntegerField(source="label_class_id")
    x = serializers.FloatField()
    y = serializers.FloatField()
    w = serializers.FloatField()
    h = serializers.FloatField()
    score = serializers.FloatField()
    source = serializers.CharField()
    model_ref = serializers.CharField()


class MachineLabelOutput(serializers.Serializer):
    source = serializers.CharField()
    model_ref = serializers.CharField()
    min_score = serializers.FloatField()
    accepted_by = serializers.CharField(source="accepted_by.username", default=None)
    accepted_at = serializers.DateTimeField()


class FrameProposalsOutput(serializers.Serializer):
    frame_id = serializers.IntegerField()
    version = serializers.IntegerField()
    proposals = ProposalOutput(many=True)
    machine_label = MachineLabelOutput(allow_null=True)


class AcceptInput(serializers.Serializer):
    version = StrictIntegerField(help_text="The annotation version the accept is based on.")


class RejectOutput(serializers.Serializer):
    rejected = serializers.IntegerField()


class AcceptAboveInput(serializers.Serializer):
    score = StrictFloatField(help_text="Accept frames whose every pending proposal scores ≥ this.")
    status = serializers.ChoiceField(choices=Frame.Status.choices, required=False, default="")
    video = StrictIntegerField(required=False, allow_null=True, default=None)
    split = serializers.ChoiceField(choices=list(SPLIT_FILTERS), required=False, default="")


class AcceptAboveOutput(serializers.Serializer):
    accepted = serializers.IntegerField()
    boxes = serializers.IntegerField()
    skipped = serializers.IntegerField()


class PrelabelJobInput(serializers.Serializer):
    model = StrictIntegerField(
        required=False, allow_null=True, default=None, help_text="Omitted: the bootstrap."
    )
    videos = serializers.ListField(
        child=StrictIntegerField(), required=False, default=list, max_length=1000
    )
    expected = StrictIntegerField(required=False, default=1, help_text="Animals per frame.")
    conf = StrictFloatField(required=False, default=0.25)
    accept_above = StrictFloatField(required=False, allow_null=True, default=None)


class PrelabelJobOutput(JobOutputBase):
    model_name = serializers.CharField(source="model.name", default=None)
    videos = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = PrelabelJob
        fields = [
            "id",
            "project",
            "source",
            "model",
            "model_name",
            "videos",
            "params",
            "status",
            "progress",
            "message",
            "error",
            "frames_total",
            "frames_done",
            "proposals_created",
            "frames_accepted",
            "created_at",
            "finished_at",
        ]


# --- endpoints --------------------------------------------------------------------------
class FrameProposalsApi(APIView):
    @extend_schema(responses=FrameProposalsOutput)
    def get(self, request, frame_id: int):
        frame = frame_for_user(user=request.user, frame_id=frame_id)
        body = {
            "frame_id": frame.pk,
            "version": frame.annotation_version,
            "proposals": list(pending_proposals(frame=frame)),
            "machine_label": machine_label_of(frame=frame),
        }
        return Response(FrameProposalsOutput(body).data)


class FrameProposalsAcceptApi(APIView):
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(
        request=AcceptInput, responses={200: AnnotationOutput, 409: AnnotationConflictOutput}
    )
    def post(self, request, frame_id: int):
        frame = frame_for_user(user=request.user, frame_id=frame_id, role=Role.ANNOTATOR)
        data = _valid(AcceptInput, request.data)
        try:
            state = services.proposals_accept(
                frame=frame, user=request.user, version=data["version"]
            )
        except AnnotationConflict as conflict:
            body = {
                "detail": "This frame was changed since your version "
                f"{data['version']}; it is now at version {conflict.current.version}.",
                "code": "version_conflict",
                "current": AnnotationOutput(asdict(conflict.current)).data,
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(AnnotationOutput(asdict(state)).data)


class FrameProposalsRejectApi(APIView):
    @extend_schema(request=None, responses=RejectOutput)
    def post(self, request, frame_id: int):
        frame = frame_for_user(user=request.user, frame_id=frame_id, role=Role.ANNOTATOR)
        return Response({"rejected": services.proposals_reject(frame=frame, user=request.user)})


class ProposalFrameListApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("proposals", enum=list(PROPOSAL_FILTERS)),
            OpenApiParameter("status", enum=Frame.Status.values),
            OpenApiParameter("video", int),
            OpenApiParameter("split", enum=list(SPLIT_FILTERS)),
            OpenApiParameter("ordering", str),
            OpenApiParameter("hard_job", int, description="With proposals=hard"),
            *FRAME_CURSOR_PARAMETERS,
        ],
        responses=FrameOutput(many=True),
    )
    def get(self, request, project_id: int):
        filters = {"proposals": "pending", "hard_job": "", **FRAME_FILTERS}
        return frame_page(self, request, project_id, assisted_frame_list, **filters)


class ProposalAcceptAboveApi(APIView):
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(request=AcceptAboveInput, responses=AcceptAboveOutput)
    def post(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        data = _valid(AcceptAboveInput, request.data)
        result = services.proposals_accept_above(
            project=project,
            user=request.user,
            score=data["score"],
            status=data["status"],
            video="" if data["video"] is None else str(data["video"]),
            split=data["split"],
        )
        return Response(result)


class PrelabelJobListApi(APIView):
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(responses=PrelabelJobOutput(many=True))
    def get(self, request, project_id: int):
        project = project_for_user(user=request.user, project_id=project_id)
        jobs = prelabel_jobs_of_project(project=project).prefetch_related("videos")[:100]
        return Response(PrelabelJobOutput(jobs, many=True).data)

    @extend_schema(request=PrelabelJobInput, responses={202: PrelabelJobOutput})
    def post(self, request, project_id: int):
        from training.selectors import trained_model_for_user

        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        data = _valid(PrelabelJobInput, request.data)
        model = None
        if data["model"] is not None:
            try:
                model = trained_model_for_user(user=request.user, model_id=data["model"])
            except Http404:  # another project's model: a field error here
                raise ValidationError({"model": ["No such model in this project."]}) from None
        job = services.prelabel_job_start(
            project=project,
            user=request.user,
            model=model,
            video_ids=data["videos"],
            expected=data["expected"],
            conf=data["conf"],
            accept_above=data["accept_above"],
        )
        return Response(PrelabelJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


PrelabelJobDetailApi, PrelabelJobCancelApi = job_apis(
    "PrelabelJob",
    output=PrelabelJobOutput,
    job_for=prelabel_job_for_user,
    cancel=services.prelabel_job_cancel,
)


# --- hard frames and "improve this model" ----------------------------------------------------
class HardFrameInput(serializers.Serializer):
    cap = StrictIntegerField(required=False, default=30, help_text="At most this many frames.")
    min_gap = StrictIntegerField(required=False, default=15, help_text="Frames apart (tracking).")
    low_confidence = StrictFloatField(required=False, default=0.5)
    low_iou = StrictFloatField(required=False, default=0.5)


class HardFrameJobOutput(JobOutputBase):
    class Meta:
        model = HardFrameJob
        fields = [
            "id",
            "project",
            "source",
            "tracking_run",
            "evaluation_run",
            "params",
            "status",
            "progress",
            "message",
            "error",
            "chosen",
            "frames_added",
            "frames_proposed",
            "proposals_created",
            "created_at",
            "finished_at",
        ]


class _HardFramesStartApi(APIView):
    parser_classes = [DepthLimitedJSONParser]

    def _start(self, request, **source):
        from .hardframe_services import hard_frames_job_start

        data = _valid(HardFrameInput, request.data)
        job = hard_frames_job_start(user=request.user, **source, **data)
        return Response(HardFrameJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class TrackingRunHardFramesApi(_HardFramesStartApi):
    @extend_schema(request=HardFrameInput, responses={202: HardFrameJobOutput})
    def post(self, request, run_id: int):
        from tracking.selectors import tracking_run_for_user

        run = tracking_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
        return self._start(request, tracking_run=run)


class EvaluationHardFramesApi(_HardFramesStartApi):
    @extend_schema(request=HardFrameInput, responses={202: HardFrameJobOutput})
    def post(self, request, run_id: int):
        from evaluation.selectors import evaluation_run_for_user

        run = evaluation_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
        return self._start(request, evaluation_run=run)


(HardFrameJobDetailApi,) = job_apis(
    "HardFrameJob", output=HardFrameJobOutput, job_for=hard_frame_job_for_user
)


class ImproveInput(serializers.Serializer):
    epochs = StrictIntegerField(required=False, allow_null=True, default=None)


class ImproveOutput(serializers.Serializer):
    training_job = serializers.IntegerField()
    dataset_version = serializers.IntegerField()
    start_model = serializers.IntegerField()


class ModelImproveApi(APIView):
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(request=ImproveInput, responses={202: ImproveOutput})
    def post(self, request, model_id: int):
        from training.selectors import trained_model_for_user

        from .improve import model_improve

        model = trained_model_for_user(user=request.user, model_id=model_id, role=Role.ANNOTATOR)
        data = _valid(ImproveInput, request.data)
        job = model_improve(model=model, user=request.user, epochs=data["epochs"])
        body = {
            "training_job": job.pk,
            "dataset_version": job.dataset_version_id,
            "start_model": model.pk,
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
