from django.shortcuts import render

from labeling.access import project_page
from labeling.models import Role


@project_page(Role.VIEWER)
def tracking_home(request, project):
    """Placeholder until tracking lands."""
    return render(
        request,
        "webapp/coming_soon.html",
        {"project": project, "nav": "track", "what": "Whole-video tracking"},
    )
