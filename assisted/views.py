"""Pages of assisted labeling: "Add hard frames to labeling" from a tracking run or an
evaluation (a form post), the job's page, which links to the editor when done, and the
settings of "Improve this model", confirmed before the training job starts."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from labeling.access import project_render
from labeling.models import Role
from labeling.selectors import object_for_user
from webapp.jobs import BrokerUnavailable

from .hardframe_services import hard_frames_job_start
from .improve import MAX_EPOCHS, improve_plan, model_improve
from .models import HardFrameJob


def _cap(request) -> int | str:
    raw = request.POST.get("cap", "30").strip()
    return int(raw) if raw.isdigit() and len(raw) < 6 else raw


def _start(request, back: str, back_args, **source):
    try:
        job = hard_frames_job_start(user=request.user, cap=_cap(request), **source)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back, *back_args)
    except BrokerUnavailable as exc:
        messages.error(request, str(exc))
        return redirect(back, *back_args)
    return redirect("hard-frame-job", job.pk)


@login_required
@require_POST
def hard_frames_from_tracking_run(request, run_id: int):
    from tracking.selectors import tracking_run_for_user

    run = tracking_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
    return _start(request, "tracking-run-detail", [run.pk], tracking_run=run)


@login_required
@require_POST
def hard_frames_from_evaluation(request, run_id: int):
    from evaluation.selectors import evaluation_run_for_user

    run = evaluation_run_for_user(user=request.user, run_id=run_id, role=Role.ANNOTATOR)
    return _start(request, "evaluation-errors", [run.pk], evaluation_run=run)


@login_required
def hard_frame_job(request, job_id: int):
    job = object_for_user(
        HardFrameJob.objects.select_related("project", "tracking_run", "evaluation_run"),
        user=request.user,
        pk=job_id,
        what="hard-frame job",
    )
    editor = reverse("label-editor", args=[job.project_id]) + f"?proposals=hard&hard_job={job.pk}"
    return project_render(
        request,
        "assisted/hard_frame_job.html",
        project=job.project,
        nav="label",
        job=job,
        editor_url=editor,
    )


class ImproveForm(forms.Form):
    """The settings of "Improve this model" a person confirms (prefilled from the model)."""

    epochs = forms.IntegerField(min_value=1, max_value=MAX_EPOCHS)
    imgsz = forms.IntegerField(
        label="Image size", min_value=32, max_value=4096, help_text="Pixels, a multiple of 32."
    )


@login_required
@require_http_methods(["GET", "POST"])
def model_improve_view(request, model_id: int):
    """GET: the settings, prefilled; POST: start the training job with them."""
    from training.selectors import trained_model_for_user

    model = trained_model_for_user(user=request.user, model_id=model_id, role=Role.ANNOTATOR)
    plan = improve_plan(model=model)
    if request.method == "GET":
        form = ImproveForm(initial={"epochs": plan.epochs, "imgsz": plan.imgsz})
        return _improve_page(request, model, plan, form)
    form = ImproveForm(request.POST)
    if not form.is_valid():
        return _improve_page(request, model, plan, form, status=400)
    try:
        job = model_improve(
            model=model,
            user=request.user,
            epochs=form.cleaned_data["epochs"],
            overrides={"imgsz": form.cleaned_data["imgsz"]},
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _improve_page(request, model, plan, form, status=400)
    except BrokerUnavailable as exc:
        form.add_error(None, str(exc))
        return _improve_page(request, model, plan, form, status=503)
    messages.success(
        request,
        f"Retraining from “{model.name}” on dataset version “{job.dataset_version.name}”.",
    )
    return redirect("training-job-detail", job.pk)


def _improve_page(request, model, plan, form, status: int = 200):
    return render(
        request,
        "assisted/improve.html",
        {"project": model.project, "nav": "train", "model": model, "plan": plan, "form": form},
        status=status,
    )
