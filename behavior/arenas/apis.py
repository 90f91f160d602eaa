"""REST endpoints of arenas: a video's arena (calibration, zones, preset) and the project's
arena templates applied to videos.

Thin: selectors resolve what the user may see (non-members get 404, viewers 403 on
writes), ``behavior.arenas.services`` validates and writes. Bad input is a 400 naming the
field.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from behavior.api_base import BehaviorJSONParser
from behavior.models import ArenaSetup, ArenaTemplate
from labeling.models import Role, Video
from labeling.selectors import RowForUser, project_for_user
from tracking.selectors import tracked_video_for_user
from webapp.api import validated

from .serializers import (
    ArenaInput,
    ArenaOutput,
    ArenaPresetInput,
    ArenaPresetOutput,
    ArenaTemplateApplyInput,
    ArenaTemplateApplyOutput,
    ArenaTemplateCreateInput,
    ArenaTemplateOutput,
)


def _services():
    """The arena services, imported on first use: with the core they pull in SciPy,
    pandas and matplotlib (seconds to import), which loading the URLs should not pay."""
    from . import services

    return services


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
        data = validated(ArenaInput, request.data)
        _services().arena_setup_save(video=video, updated_by=request.user, **data)
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
        data = validated(ArenaPresetInput, request.data)
        zones, params, unions = _services().preset_zones(
            preset=data["preset"],
            params=data.get("preset_params"),
            frame_width=video.width or None,
            frame_height=video.height or None,
        )
        body = {
            "preset": data["preset"],
            "preset_params": params,
            "zones": [z.to_json() for z in zones],
            "unions": unions,
        }
        return Response(ArenaPresetOutput(body).data)


# --- templates ------------------------------------------------------------------------
template_for_user = RowForUser(
    ArenaTemplate.objects.select_related("project"), id_name="template_id", what="arena template"
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
        data = dict(validated(ArenaTemplateCreateInput, request.data))
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
        template = template_for_user(user=request.user, template_id=template_id)
        return Response(ArenaTemplateOutput(template).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, template_id: int):
        template = template_for_user(
            user=request.user, template_id=template_id, role=Role.ANNOTATOR
        )
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
        template = template_for_user(
            user=request.user, template_id=template_id, role=Role.ANNOTATOR
        )
        data = validated(ArenaTemplateApplyInput, request.data)
        ids, nudges = [], {}
        for i, item in enumerate(data["videos"]):
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
