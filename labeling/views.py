"""Project pages: list, create, overview, members, classes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import account_services, services
from .access import can_write, project_page
from .forms import LabelClassForm, MemberAccountForm, MemberForm, ProjectForm, SplitForm
from .models import Frame, Role
from .selectors import project_list_with_counts


def _apply_errors(form, exc: ValidationError) -> None:
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def project_list(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(owner=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("project-detail", project.pk)
    projects = project_list_with_counts(user=request.user)
    return render(
        request,
        "labeling/project_list.html",
        {"projects": projects, "form": form, "nav": "projects"},
    )


def _project_context(request, project, **extra):
    memberships = project.memberships.select_related("user").order_by("user__username")
    classes = project.classes.annotate(box_count=Count("boxes"))
    status_counts = dict(project.frames.values_list("status").annotate(n=Count("id")).order_by())
    split_counts = dict(project.frames.values_list("split").annotate(n=Count("id")).order_by())
    context = {
        "project": project,
        "nav": "projects",
        "memberships": memberships,
        "classes": classes,
        "is_owner": request.project_role == Role.OWNER,
        "can_write": can_write(request),
        "role": request.project_role,
        "status_counts": {s.label: status_counts.get(s.value, 0) for s in Frame.Status},
        "split_counts": {
            "Train": split_counts.get("train", 0),
            "Validation": split_counts.get("val", 0),
            "Test": split_counts.get("test", 0),
            "Unassigned": split_counts.get("", 0),
        },
        "member_form": MemberForm(),
        "account_form": MemberAccountForm(),
        "class_form": LabelClassForm(),
        "split_form": SplitForm(
            initial={
                "split_train": project.split_train,
                "split_val": project.split_val,
                "split_test": project.split_test,
                "split_seed": project.split_seed,
                "split_by_video": project.split_by_video,
            }
        ),
    }
    context.update(extra)
    return context


@project_page(Role.VIEWER)
def project_detail(request, project):
    return render(request, "labeling/project_detail.html", _project_context(request, project))


def _project_form_post(request, project, form_class, *, form_key: str, act):
    """A project page form posted: ``act(cleaned_data)`` gives the success message (then
    back to the page) or a response of its own; a refused form (invalid, or the service's
    ValidationError) shows the page again with the form's errors, status 400."""
    form = form_class(request.POST)
    if form.is_valid():
        try:
            done = act(form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            if isinstance(done, HttpResponse):
                return done
            messages.success(request, done)
            return redirect("project-detail", project.pk)
    context = _project_context(request, project, **{form_key: form})
    return render(request, "labeling/project_detail.html", context, status=400)


def _project_row_delete(request, project, act) -> HttpResponse:
    """A project page's delete button: ``act()`` gives the success message; a refusal
    (ValidationError) is shown as an error message."""
    try:
        done = act()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("project-detail", project.pk)


@require_POST
@project_page(Role.OWNER)
def member_add(request, project):
    def act(data: dict) -> str:
        services.member_set(project=project, **data)
        return f"{data['username']} is now {data['role']} of this project."

    return _project_form_post(request, project, MemberForm, form_key="member_form", act=act)


@require_POST
@project_page(Role.OWNER)
def member_account_create(request, project):
    """Create a labmate's account; the page shows a generated password this once (it is
    rendered, not redirected, so it is kept in no session or message store)."""

    def act(data: dict) -> HttpResponse:
        account = account_services.member_account_create(project=project, **data)
        new_account = {
            "username": account.membership.user.username,
            "role": account.membership.get_role_display(),
            "temporary_password": account.temporary_password,
        }
        context = _project_context(request, project, new_account=new_account)
        response = render(request, "labeling/project_detail.html", context)
        response["Cache-Control"] = "no-store"  # the page holds a password
        return response

    return _project_form_post(request, project, MemberAccountForm, form_key="account_form", act=act)


@require_POST
@project_page(Role.OWNER)
def member_remove(request, project, user_id: int):
    membership = get_object_or_404(project.memberships, user_id=user_id)

    def act() -> str:
        services.member_remove(project=project, user_id=membership.user_id)
        return f"{membership.user.username} was removed from the project."

    return _project_row_delete(request, project, act)


@require_POST
@project_page(Role.OWNER)
def label_class_add(request, project):
    def act(data: dict) -> str:
        services.label_class_add(project=project, name=data["name"])
        return f"Class “{data['name']}” added."

    return _project_form_post(request, project, LabelClassForm, form_key="class_form", act=act)


@require_POST
@project_page(Role.OWNER)
def label_class_delete(request, project, class_id: int):
    label_class = get_object_or_404(project.classes, pk=class_id)

    def act() -> str:
        services.label_class_delete(label_class=label_class)
        return f"Class “{label_class.name}” deleted."

    return _project_row_delete(request, project, act)


@require_POST
@project_page(Role.OWNER)
def project_split_settings(request, project):
    def act(data: dict) -> str:
        services.project_update(project=project, **data)
        return "Split settings saved."

    return _project_form_post(request, project, SplitForm, form_key="split_form", act=act)


@project_page(Role.VIEWER)
def label_editor(request, project):
    """The labeling editor: the page is a shell, editor.js talks to the annotation API."""

    def url_template(name: str) -> str:
        return reverse(name, args=[0]).replace("/0/", "/{id}/")

    classes = [
        {"id": c.pk, "name": c.name, "index": c.index, "color": c.color}
        for c in project.classes.all()
    ]
    return render(
        request,
        "labeling/editor.html",
        {
            "project": project,
            "nav": "label",
            "can_write": can_write(request),
            "role": request.project_role,
            "classes": classes,
            # Pose: the skeleton the editor places keypoints by (None: boxes only).
            "skeleton": _skeleton_json(project),
            "videos": project.videos.order_by("original_name", "id").only(
                "id", "project", "original_name"
            ),
            "statuses": Frame.Status.choices,
            "frames_url": reverse("api-frame-list", args=[project.pk]),
            "counts_url": reverse("api-frame-counts", args=[project.pk]),
            "annotation_url": url_template("api-frame-annotation"),
            # Assisted labeling (the assisted app): proposals shown as dashed boxes.
            "proposals_url": url_template("api-frame-proposals"),
            "proposals_accept_url": url_template("api-frame-proposals-accept"),
            "proposals_reject_url": url_template("api-frame-proposals-reject"),
            "proposal_frames_url": reverse("api-proposal-frame-list", args=[project.pk]),
            "accept_above_url": reverse("api-proposal-accept-above", args=[project.pk]),
        },
    )


def _skeleton_json(project) -> dict | None:
    from .annotations.skeletons import skeleton_spec

    spec = skeleton_spec(project=project)
    return spec.to_dict() if spec else None
