"""REST endpoints of the experiment's bookkeeping per video: which run the table uses, and
who each animal of a multi-animal video is. Thin: ``behavior.experiment.services`` writes,
``behavior.experiment.selectors`` reads."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from behavior.api_base import BehaviorJSONParser, RawJSONField
from behavior.experiment.selectors import experiment_runs
from behavior.models import AnimalSubject
from labeling.models import Role, Video
from tracking.selectors import tracked_video_for_user
from webapp.api import validated


class RunCandidateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    n_animals = serializers.IntegerField()
    model = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ExperimentRunOutput(serializers.Serializer):
    video = serializers.IntegerField()
    run = serializers.IntegerField(allow_null=True, help_text="The run the table uses.")
    chosen = serializers.BooleanField(help_text="False: the default rule picked it.")
    default_run = serializers.IntegerField(allow_null=True)
    n_animals = serializers.IntegerField(
        allow_null=True, help_text="The video's animal count (most of its runs' count)."
    )
    description = serializers.CharField()
    candidates = RunCandidateOutput(many=True)


class ExperimentRunInput(serializers.Serializer):
    run = RawJSONField(
        allow_null=True,
        help_text="A finished run of this video, or null for the default (the newest "
        "finished run with the video's animal count).",
    )


def experiment_run_dict(video: Video) -> dict:
    table = experiment_runs(project=video.project).get(video.pk)
    if table is None:
        return {
            "video": video.pk,
            "run": None,
            "chosen": False,
            "default_run": None,
            "n_animals": None,
            "description": "no finished run",
            "candidates": [],
        }
    default = table.default_run
    return {
        "video": video.pk,
        "run": table.run.pk if table.run else None,
        "chosen": table.chosen,
        "default_run": default.pk if default else None,
        "n_animals": table.n_animals,
        "description": table.describe(),
        "candidates": [
            {
                "id": r.pk,
                "n_animals": r.n_animals,
                "model": r.model.name,
                "finished_at": r.finished_at,
            }
            for r in table.candidates
        ],
    }


def _services():
    from behavior.experiment import services as experiment_services

    return experiment_services


class ExperimentRunApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(
        responses=ExperimentRunOutput,
        description="The run of this video the experiment table uses, and its finished runs.",
    )
    def get(self, request, video_id: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id)
        return Response(ExperimentRunOutput(experiment_run_dict(video)).data)

    @extend_schema(request=ExperimentRunInput, responses=ExperimentRunOutput)
    def put(self, request, video_id: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id, role=Role.ANNOTATOR)
        data = validated(ExperimentRunInput, request.data)
        _services().experiment_run_choose(
            video=video, run_id=data.get("run"), chosen_by=request.user
        )
        return Response(ExperimentRunOutput(experiment_run_dict(video)).data)


class AnimalSubjectInput(serializers.Serializer):
    subject_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    group = serializers.CharField(required=False, allow_blank=True, max_length=100)
    session = serializers.CharField(required=False, allow_blank=True, max_length=100)


class AnimalSubjectOutput(serializers.Serializer):
    video = serializers.IntegerField()
    animal = serializers.IntegerField()
    subject_id = serializers.CharField()
    group = serializers.CharField()
    session = serializers.CharField()


def animal_dict(video: Video, animal: int, row: AnimalSubject | None) -> dict:
    return {
        "video": video.pk,
        "animal": animal,
        "subject_id": row.subject_id if row else "",
        "group": row.group if row else "",
        "session": row.session if row else "",
    }


class AnimalSubjectApi(APIView):
    parser_classes = [BehaviorJSONParser]

    @extend_schema(
        responses=AnimalSubjectOutput,
        description="Who one animal of a multi-animal video is (blank: the video's subject).",
    )
    def get(self, request, video_id: int, animal: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id)
        row = AnimalSubject.objects.filter(video=video, animal=animal).first()
        return Response(AnimalSubjectOutput(animal_dict(video, animal, row)).data)

    @extend_schema(request=AnimalSubjectInput, responses=AnimalSubjectOutput)
    def put(self, request, video_id: int, animal: int):
        video = tracked_video_for_user(user=request.user, video_id=video_id, role=Role.ANNOTATOR)
        data = validated(AnimalSubjectInput, request.data)
        row = _services().animal_subject_save(video=video, animal=animal, **data)
        return Response(AnimalSubjectOutput(animal_dict(video, row.animal, row)).data)
