"""Tracking pages: start runs for a project's videos, follow them, read and fix a run."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from labeling.access import can_write, project_page, project_render
from labeling.models import Role, Video
from training.models import TrainedModel
from webapp.jobs import BrokerUnavailable
from webapp.jobs.pages import job_page_action

from . import services
from .selectors import tracking_run_for_user, tracking_runs_of_project


def _form_values(request) -> dict:
    post = request.POST
    params: dict = {"crop": post.get("crop") == "on"}
    for name in ("conf", "max_gap_s", "imgsz"):
        if post.get(name, "").strip():
            params[name] = post[name].strip()
    overrides = {}
    for key, value in post.items():
        if key.startswith("animals_") and value.strip():
            overrides[key.removeprefix("animals_")] = value.strip()
    return {"params": params, "overrides": overrides}


@project_page(Role.VIEWER)
def tracking_home(request, project):
    models = list(TrainedModel.objects.filter(project=project).order_by("-created_at"))
    videos = list(
        Video.objects.filter(project=project, kind=Video.Kind.VIDEO).order_by("original_name")
    )
    errors: dict = {}
    status = 200
    if request.method == "POST":
        if not can_write(request):
            raise PermissionDenied("Viewers cannot start tracking runs.")
        values = _form_values(request)
        try:
            model = next((m for m in models if str(m.pk) == request.POST.get("model")), None)
            if model is None:
                raise ValidationError({"model": "Choose a model."})
            chosen = [v for v in videos if str(v.pk) in request.POST.getlist("videos")]
            batch = services.tracking_runs_create(
                project=project,
                created_by=request.user,
                model=model,
                videos=chosen,
                n_animals=request.POST.get("n_animals", "1"),
                animals_per_video=values["overrides"],
                params=values["params"],
            )
        except ValidationError as exc:
            errors = getattr(exc, "message_dict", {"__all__": exc.messages})
            status = 400
        except BrokerUnavailable as exc:
            errors = {"__all__": [str(exc)]}
            status = 503
        else:
            count = batch.runs.count()
            messages.success(request, f"{count} tracking run{'s' if count != 1 else ''} queued.")
            if count == 1:
                return redirect("tracking-run-detail", batch.runs.get().pk)
            return redirect("tracking-home", project.pk)
    runs = list(tracking_runs_of_project(project=project)[:200])
    return project_render(
        request,
        "tracking/home.html",
        project=project,
        nav="track",
        models=models,
        videos=videos,
        runs=runs,
        errors=errors,
        posted=request.POST if request.method == "POST" else None,
        status=status,
    )


@login_required
def tracking_run_detail(request, run_id: int):
    run = tracking_run_for_user(user=request.user, run_id=run_id)
    project = run.project
    return project_render(
        request,
        "tracking/run_detail.html",
        project=project,
        nav="track",
        run=run,
        edits=list(run.edits.select_related("created_by")),
        renders=list(run.renders.all()[:5]),
        animal_range=range(1, run.n_animals + 1),
    )


def _run_action(request, run_id: int, action, done: str):
    run = tracking_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
    return job_page_action(
        request, lambda: action(run=run), done=done, back=("tracking-run-detail", run.pk)
    )


@login_required
@require_POST
def tracking_run_delete(request, run_id: int):
    run = tracking_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
    try:
        services.tracking_run_delete(run=run)
    except ValidationError as exc:
        messages.error(request, "Not deleted: " + " ".join(exc.messages))
        return redirect("tracking-run-detail", run.pk)
    messages.success(request, f"Run #{run.pk} deleted, with its edits, renders and files.")
    return redirect("tracking-home", run.project_id)


@login_required
@require_POST
def tracking_run_cancel(request, run_id: int):
    return _run_action(request, run_id, services.tracking_run_cancel, "Cancel requested.")


@login_required
@require_POST
def tracking_run_retry(request, run_id: int):
    return _run_action(request, run_id, services.tracking_run_retry, "Queued again.")
