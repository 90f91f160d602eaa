"""The Live page: start a session on a camera, watch it, stop it, open its run.

The page only renders the form and the project's recent sessions; everything else goes
through the live-session API (static/tracking/live.js polls it).
"""

from __future__ import annotations

import json

from django.shortcuts import render

from labeling.access import can_write, project_page
from labeling.models import Role, Video
from training.models import TrainedModel

from .models import LiveSession

EXAMPLE_SETUP = {
    "zones": [
        {"name": "left", "shape": "rect", "x": 0, "y": 0, "w": 320, "h": 480},
        {"name": "right", "shape": "rect", "x": 320, "y": 0, "w": 320, "h": 480},
    ],
    "rules": [
        {"name": "in right", "kind": "zone_entry", "zone": "right"},
        {"name": "out of right", "kind": "zone_exit", "zone": "right"},
        {"name": "still 2 s", "kind": "speed_below", "threshold": 5, "for_s": 2},
    ],
    "outputs": [],
}


@project_page(Role.VIEWER)
def live_home(request, project):
    sessions = list(LiveSession.objects.filter(project=project).select_related("model", "run")[:20])
    return render(
        request,
        "tracking/live.html",
        {
            "project": project,
            "nav": "live",
            "models": list(TrainedModel.objects.filter(project=project).order_by("-created_at")),
            "videos": list(
                Video.objects.filter(project=project, kind=Video.Kind.VIDEO).order_by(
                    "original_name"
                )
            ),
            "sessions": sessions,
            "example_setup": json.dumps(EXAMPLE_SETUP, indent=1),
            "can_write": can_write(request),
        },
    )
