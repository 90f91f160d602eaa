"""The project's skeleton page (settings): see it, and (owners) set or change it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render

from ..access import project_page
from ..models import Role
from .skeletons import project_labeled_keypoints, skeleton_remove, skeleton_set, skeleton_spec


def _pairs_text(pairs, names) -> str:
    return "\n".join(f"{names[a]}, {names[b]}" for a, b in pairs)


def _split_pairs(text: str) -> list[list[str]]:
    """One pair per line, the two names separated by a comma (names hold no comma)."""
    return [
        [part.strip() for part in line.split(",")] for line in text.splitlines() if line.strip()
    ]


class SkeletonForm(forms.Form):
    keypoints = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=5000,
        help_text="Keypoint names in order, one per line (e.g. snout, ear_left, ear_right, "
        "tail_base). Empty: boxes only.",
    )
    edges = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=20000,
        help_text="Lines drawn between keypoints: one pair per line, “snout, ear_left”.",
    )
    flip_pairs = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
        help_text="Left/right pairs swapped by a horizontal flip: “ear_left, ear_right”.",
    )


@project_page(Role.VIEWER)
def project_skeleton_settings(request, project):
    spec = skeleton_spec(project=project)
    status = 200
    if request.method == "POST":
        if request.project_role != Role.OWNER:
            raise PermissionDenied("Only the project's owners change its skeleton.")
        form = SkeletonForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            names = [n.strip() for n in data["keypoints"].replace(",", "\n").splitlines()]
            names = [n for n in names if n]
            try:
                if names:
                    skeleton_set(
                        project=project,
                        keypoints=names,
                        edges=_split_pairs(data["edges"]),
                        flip_pairs=_split_pairs(data["flip_pairs"]),
                    )
                else:
                    skeleton_remove(project=project)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    base = field.split("[")[0]
                    form.add_error(base if base in form.fields else None, errors)
            else:
                messages.success(request, "Skeleton saved." if names else "Skeleton removed.")
                return redirect("project-skeleton", project.pk)
        status = 400
    else:
        initial = {}
        if spec is not None:
            names = list(spec.keypoints)
            initial = {
                "keypoints": "\n".join(names),
                "edges": _pairs_text(spec.edges, names),
                "flip_pairs": _pairs_text(spec.flip_pairs, names),
            }
        form = SkeletonForm(initial=initial)
    labeled = project_labeled_keypoints(project=project) if spec else set()
    return render(
        request,
        "labeling/project_skeleton.html",
        {
            "project": project,
            "nav": "projects",
            "form": form,
            "spec": spec,
            "labeled": [spec.keypoints[i] for i in sorted(labeled)] if spec else [],
            "is_owner": request.project_role == Role.OWNER,
        },
        status=status,
    )
