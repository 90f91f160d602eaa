"""Training pages: jobs and models of a project, the new-training form, a job (live), a model."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from labeling.access import project_page, project_render
from labeling.datasets.splits import split_size_warnings
from labeling.models import Frame, Role
from labeling.uploads import LimitedUploadHandler, UploadTooLarge
from webapp.jobs import BrokerUnavailable
from webapp.jobs.pages import job_page_action
from webapp.worker_devices import workers_report

from . import services
from .forms import TrainingForm, device_choices, queue_note
from .model_card import card_outline
from .presets import PRESETS
from .selectors import (
    epoch_series,
    trained_model_for_user,
    trained_models_of_project,
    training_job_convergence_text,
    training_job_for_user,
    training_jobs_of_project,
    training_queue_positions,
)
from .services import MAX_CHECKPOINT_BYTES


@project_page(Role.VIEWER)
def training_list(request, project):
    jobs = list(training_jobs_of_project(project=project)[:200])
    positions = training_queue_positions(jobs)
    for job in jobs:
        job.queue_ahead = positions.get(job.pk)
    return project_render(
        request,
        "training/training_list.html",
        project=project,
        nav="train",
        jobs=jobs,
        models=trained_models_of_project(project=project),
        presets=PRESETS,
    )


def _apply_errors(form, exc: ValidationError) -> None:
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


@csrf_exempt  # the CSRF check happens below, after the upload handler is in place
@project_page(Role.ANNOTATOR)
def training_new(request, project):
    if request.method == "POST":
        # Before the body is read: a size limit enforced while the checkpoint streams in.
        request.upload_handlers = [LimitedUploadHandler(request, max_bytes=MAX_CHECKPOINT_BYTES)]
    return _training_new(request, project)


@csrf_protect
def _training_new(request, project):
    status = 200
    workers = workers_report()
    devices = device_choices(workers)
    try:
        form = TrainingForm(
            request.POST or None, request.FILES or None, project=project, devices=devices
        )
    except UploadTooLarge as exc:
        form = TrainingForm(project=project, devices=devices)
        form.add_error("checkpoint", str(exc.detail["file"][0]))
        status = 413
    if request.method == "POST" and status == 200 and form.is_valid():
        data = form.cleaned_data
        try:
            job = services.training_job_submit(
                project=project,
                created_by=request.user,
                data=data,
                hyperparameters=form.hyperparameters(),
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
            status = 400
        except BrokerUnavailable as exc:
            form.add_error(None, str(exc))
            status = 503
        else:
            # Tagged so the job page removes it once the job leaves "queued" (training.js).
            messages.success(request, f"Training job #{job.pk} queued.", extra_tags="job-queued")
            return redirect("training-job-detail", job.pk)
    elif request.method == "POST" and status == 200:
        status = 400
    labeled = project.frames.exclude(status=Frame.Status.UNLABELED).count()
    return project_render(
        request,
        "training/training_new.html",
        project=project,
        nav="train",
        form=form,
        queue_note=queue_note(workers),
        hp_fields=[
            form[name]
            for name in (
                "epochs",
                "imgsz",
                "batch",
                "patience",
                "lr0",
                "momentum",
                "weight_decay",
                "seed",
            )
        ],
        presets=[p for p in PRESETS.values() if p.key in dict(form.fields["preset"].choices)],
        preset_defaults=TrainingForm.preset_defaults_json(),
        labeled_frames=labeled,
        status=status,
    )


@login_required
def training_job_detail(request, job_id: int):
    job = training_job_for_user(user=request.user, job_id=job_id)
    project = job.project
    return project_render(
        request,
        "training/job_detail.html",
        project=project,
        nav="train",
        job=job,
        preset=PRESETS.get(job.preset),
        epochs=epoch_series(job_id=job.pk),
        convergence=training_job_convergence_text(job=job),
        queue_ahead=training_queue_positions([job]).get(job.pk),
        model=getattr(job, "model", None),
        split_warnings=split_size_warnings(job.dataset_version.frame_counts or {}),
    )


@login_required
@require_POST
def training_job_cancel(request, job_id: int):
    job = training_job_for_user(user=request.user, job_id=job_id, role=Role.ANNOTATOR)
    return job_page_action(
        request,
        lambda: services.training_job_cancel(job=job),
        done="Cancel requested: training stops after the current batch.",
        back=("training-job-detail", job.pk),
        level=messages.INFO,
    )


@login_required
@require_POST
def training_job_retry(request, job_id: int):
    job = training_job_for_user(user=request.user, job_id=job_id, role=Role.ANNOTATOR)
    return job_page_action(
        request,
        lambda: services.training_job_retry(job=job),
        done="Queued again.",
        back=("training-job-detail", job.pk),
    )


@login_required
@require_POST
def trained_model_delete(request, model_id: int):
    model = trained_model_for_user(user=request.user, model_id=model_id, role=Role.ANNOTATOR)
    project_id = model.project_id
    try:
        services.trained_model_delete(model=model)
    except ValidationError as exc:
        messages.error(request, "Not deleted: " + " ".join(exc.messages))
        return redirect("trained-model-detail", model.pk)
    messages.success(request, f"Model “{model.name}” deleted, with its evaluations and files.")
    return redirect("training-list", project_id)


@login_required
def trained_model_detail(request, model_id: int):
    from assisted.improve import comparison_url

    model = trained_model_for_user(user=request.user, model_id=model_id)
    return project_render(
        request,
        "training/model_detail.html",
        project=model.project,
        nav="train",
        model=model,
        preset=PRESETS.get(model.preset),
        card_sections=card_outline(model.card, model_id=model.pk),
        hyperparameters=sorted((model.hyperparameters or {}).items()),
        # "Improve this model" (assisted labeling): retrain from it, compare the two.
        comparison_url=comparison_url(model=model),
    )
