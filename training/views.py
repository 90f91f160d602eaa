from django.shortcuts import render

from labeling.access import project_page
from labeling.models import Role


@project_page(Role.VIEWER)
def training_list(request, project):
    """Placeholder until training jobs land."""
    return render(request, "webapp/coming_soon.html",
                  {"project": project, "nav": "train", "what": "Training"})
